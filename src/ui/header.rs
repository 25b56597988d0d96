//! The top line: what this is, which config, auto-refresh, counts by status.

use super::theme;
use crate::app::State;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let mut spans = vec![
        Span::styled(" tokdash ", theme::bold()),
        Span::raw(format!(
            " auto-refresh {} ",
            if state.auto_refresh { "on" } else { "off" }
        )),
    ];

    if !state.store_read {
        spans.push(Span::raw(format!(" {}", crate::app::READING_THE_STORE)));
    }
    for (status, n) in state.counts().into_iter().filter(|_| state.store_read) {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            format!("{n} {}", status.as_str()),
            theme::status(status, state.color),
        ));
    }
    if let Some(store) = &state.store {
        spans.push(Span::raw(format!("   store {store}")));
    }
    if area.width >= 100 {
        spans.push(Span::raw(format!(
            "   {} profiles in {}",
            state.rows.len(),
            state.config_path
        )));
    }
    frame.render_widget(Line::from(spans).style(theme::header(state.color)), area);
}
