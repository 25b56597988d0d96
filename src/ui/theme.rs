//! Colours that carry meaning, and their absence under `NO_COLOR`.

use crate::app::EventKind;
use crate::status::Status;
use ratatui::style::{Color, Modifier, Style};

pub fn status(status: Status, color: bool) -> Style {
    if !color {
        return match status {
            Status::Expired | Status::NeedsLogin | Status::Error => {
                Style::new().add_modifier(Modifier::BOLD)
            }
            Status::Revoked => Style::new().add_modifier(Modifier::DIM),
            _ => Style::new(),
        };
    }
    let fg = match status {
        Status::Valid => Color::Green,
        Status::Expiring => Color::Yellow,
        Status::Expired => Color::Red,
        Status::NeedsLogin => Color::Magenta,
        Status::Revoked => Color::DarkGray,
        Status::Error => Color::LightRed,
        Status::Refreshing => Color::Cyan,
    };
    Style::new().fg(fg)
}

/// Seconds in a day: a login with less left than this (or over) is urgent.
const DAY: i64 = 86_400;

/// The end of a login inside its warning window, `left` seconds away (negative: over): yellow,
/// red with less than a day left or once over. Under `NO_COLOR` the urgent case is bold; the
/// words (`in 2d 4h`, `ended 3h ago`) say the rest.
pub fn login_end(left: i64, color: bool) -> Style {
    match (left < DAY, color) {
        (true, true) => Style::new().fg(Color::Red),
        (false, true) => Style::new().fg(Color::Yellow),
        (true, false) => Style::new().add_modifier(Modifier::BOLD),
        (false, false) => Style::new(),
    }
}

pub fn event(kind: EventKind, color: bool) -> Style {
    match (kind, color) {
        (EventKind::Good, true) => Style::new().fg(Color::Green),
        (EventKind::Bad, true) => Style::new().fg(Color::LightRed),
        (EventKind::Bad, false) => Style::new().add_modifier(Modifier::BOLD),
        _ => Style::new(),
    }
}

pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

pub fn header(color: bool) -> Style {
    if color {
        Style::new().fg(Color::Black).bg(Color::Cyan)
    } else {
        Style::new().add_modifier(Modifier::REVERSED)
    }
}

pub fn dim() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

pub fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}
