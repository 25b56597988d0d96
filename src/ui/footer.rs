//! The bottom line: the filter being typed, a one-off message, or the main keys.

use super::theme;
use crate::app::keymap;
use crate::app::{Mode, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let line = if state.mode == Mode::Filter {
        Line::from(vec![
            Span::styled("/", theme::bold()),
            Span::raw(state.filter.clone()),
            Span::styled("▏", theme::bold()),
            Span::styled(format!("   {}", keymap::filter_keys()), theme::dim()),
        ])
    } else if let Some(flash) = &state.flash {
        Line::from(Span::styled(flash.clone(), theme::bold()))
    } else if !state.filter.is_empty() {
        Line::from(vec![
            Span::styled(format!("filter: {}", state.filter), theme::bold()),
            Span::styled(
                format!(" ({} shown, Esc clears)  ", state.visible.len()),
                theme::dim(),
            ),
            Span::styled(keymap::footer_keys(area.width), theme::dim()),
        ])
    } else {
        Line::from(Span::styled(keymap::footer_keys(area.width), theme::dim()))
    };
    frame.render_widget(line, area);
}
