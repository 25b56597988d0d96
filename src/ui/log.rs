//! The event log (`L`): what happened, newest last, with the time (UTC).

use super::theme;
use crate::app::State;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let inner = area.height.saturating_sub(1) as usize;
    let skip = state.log.len().saturating_sub(inner);
    let lines: Vec<Line> = state
        .log
        .iter()
        .skip(skip)
        .map(|e| {
            let secs = e.at.rem_euclid(86_400);
            Line::from(vec![
                Span::styled(
                    format!(
                        "{:02}:{:02}:{:02} ",
                        secs / 3600,
                        secs % 3600 / 60,
                        secs % 60
                    ),
                    theme::dim(),
                ),
                Span::styled(format!("{} ", e.profile), theme::bold()),
                Span::styled(e.text.clone(), theme::event(e.kind, state.color)),
            ])
        })
        .collect();
    let block = Block::new()
        .borders(Borders::TOP)
        .title(" event log (L to hide, times UTC) ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
