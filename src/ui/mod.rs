//! Rendering: a pure function of [`State`]. One file per region.
//!
//! As drawn at 120 columns, notes on the right (no frame around the screen; a rule tops the log):
//!
//! ```text
//!  tokdash  auto-refresh on  1 valid 1 needs_login   2 profiles in ~/.config/tokdash/profiles.toml   ◄ header (1 line)
//! NAME          PROVIDER  STATUS      EXPIRES IN         LAST REFRESH MESSAGE                       ◄ table: the column
//! google-prod   google    valid       42m 10s            3m 02s ago   refreshed                        titles, then only
//! legacy        oauth2    needs_login -                  never        no token yet: press l to log in  the rows that fit
//! …
//!  event log (L to hide, times UTC) ──────────────────────────────────────────────────────────────  ◄ log (L: 8 lines)
//! 12:00:03 google-prod refreshed
//! ↑↓ move  ⏎ details  r refresh  R all  x revoke  l login  c copy  a auto  / filter  L log  ? help  q quit  ◄ footer (1 line)
//! ```
//!
//! Wider, from 140 columns, a LOGIN ENDS column (17 wide: `in 2d 4h`, `ended 3h 00m ago`, blank
//! outside `settings.login_warning`) comes between LAST REFRESH and MESSAGE; below 140 the
//! MESSAGE column says it instead (`login ends in 2d 4h`) when nothing else has to be said.
//! Narrower, the header drops the config path (under 100 columns), the table LAST REFRESH (under
//! 100) then PROVIDER (under 70), and the footer keeps its essential keys. The footer shows the
//! filter being typed or a one-off message instead of the keys. Popups (details, help, revoke
//! confirmation, login) draw over the middle of the screen.

mod footer;
mod header;
mod log;
mod popup;
mod table;
pub mod theme;

use crate::app::{Mode, State};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

pub const LOG_HEIGHT: u16 = 8;

/// Table rows that fit in a terminal of this height (header, table header and footer take 3).
pub fn table_body_height(height: u16, show_log: bool) -> u16 {
    let log = if show_log { LOG_HEIGHT } else { 0 };
    height.saturating_sub(3 + log)
}

pub fn render(frame: &mut Frame, state: &State) {
    let log_height = if state.show_log { LOG_HEIGHT } else { 0 };
    let [top, body, log_area, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(log_height),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    header::render(frame, top, state);
    table::render(frame, body, state);
    if state.show_log {
        log::render(frame, log_area, state);
    }
    footer::render(frame, bottom, state);
    match &state.mode {
        Mode::Details => popup::details(frame, state),
        Mode::Help => popup::help(frame, state),
        Mode::ConfirmRevoke { name } => popup::confirm_revoke(frame, name),
        Mode::Login { name, prompt } => popup::login(frame, state, name, prompt.as_ref()),
        Mode::BrowserLogin {
            name,
            prompt,
            input,
            note,
        } => popup::browser_login(frame, state, name, prompt, input, note.as_deref()),
        Mode::Table | Mode::Filter => {}
    }
}

#[cfg(test)]
mod tests;
