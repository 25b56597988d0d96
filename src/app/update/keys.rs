//! Keys: the keymap says which action a key is in the current mode; here is what each does.

use super::super::effect::Effect;
use super::super::keymap::{self, Action};
use super::super::state::{Activity, EventKind, Mode, READING_THE_STORE, State};
use super::{busy, filter, login, navigation, nothing_done, selected_name};
use crate::status::can_refresh;
use crossterm::event::KeyEvent;

/// The key is mapped here, not by the runner: the mode it is read in is the one left by the key
/// before it, even when both arrive in one batch.
pub(super) fn on_key(state: &mut State, key: KeyEvent, effects: &mut Vec<Effect>) {
    if let Some(action) = keymap::action(&state.mode, &key) {
        on_action(state, action, effects);
    }
}

fn on_action(state: &mut State, action: Action, effects: &mut Vec<Effect>) {
    // Each of these starts from what the store holds, which is not known until it is read.
    if !state.store_read
        && matches!(
            action,
            Action::Refresh | Action::RefreshAll | Action::Revoke | Action::Login | Action::Copy
        )
    {
        state.flash = Some(READING_THE_STORE.into());
        return;
    }
    // Revoking, logging in or copying would each stop at the record the store refuses (a login
    // only after the user approved it): say so now, in the store's words.
    if matches!(action, Action::Revoke | Action::Login | Action::Copy)
        && let Some(row) = state.selected_row()
        && let Some(problem) = &row.problem
    {
        state.flash = Some(nothing_done(row.name(), problem));
        return;
    }
    match action {
        Action::Quit => state.quit = true,
        Action::Move(to) => navigation::move_by(state, to),
        Action::OpenDetails => {
            if state.selected_row().is_some() {
                // `sync_details` asks for the endpoints and the token values.
                state.mode = Mode::Details;
                state.reveal = false;
            }
        }
        Action::CloseDetails => state.mode = Mode::Table,
        Action::Reveal => state.reveal = !state.reveal,
        Action::Refresh => {
            if let Some(name) = selected_name(state) {
                request_refresh(state, &name, true, effects);
            }
        }
        Action::RefreshAll => {
            let names: Vec<String> = state.rows.iter().map(|r| r.name().to_string()).collect();
            let mut started = 0;
            for name in names {
                if request_refresh(state, &name, false, effects) {
                    started += 1;
                }
            }
            state.flash = Some(format!("refreshing {started} profile(s)"));
        }
        Action::Revoke => {
            if let Some(row) = state.selected_row() {
                let name = row.name().to_string();
                if !row.activity.is_idle() {
                    state.flash = Some(busy(&name));
                } else {
                    state.mode = Mode::ConfirmRevoke { name };
                }
            }
        }
        Action::ConfirmRevoke => {
            if let Mode::ConfirmRevoke { name } = std::mem::replace(&mut state.mode, Mode::Table) {
                if let Some(row) = state.row_mut(&name) {
                    row.activity = Activity::Revoking;
                }
                state.push_event(&name, "revoking".into(), EventKind::Info);
                effects.push(Effect::Revoke { name });
            }
        }
        Action::KeepTokens => {
            if let Mode::ConfirmRevoke { name } = std::mem::replace(&mut state.mode, Mode::Table) {
                state.flash = Some(format!("{name}: not revoked"));
            }
        }
        Action::Login => login::start(state, effects),
        Action::CancelLogin => login::cancel(state, effects),
        Action::PasteType(c) => login::type_char(state, c),
        Action::PasteBackspace => login::backspace(state),
        Action::PasteSubmit => login::submit(state, effects),
        Action::Copy => {
            // The value is in the store, not here: the worker reads it and `on_token_for_copy`
            // copies it.
            if let Some(row) = state.selected_row() {
                let name = row.name().to_string();
                if row.record.as_ref().is_some_and(|r| r.has_access_token) {
                    effects.push(Effect::LoadTokenForCopy { name });
                } else {
                    state.flash = Some(no_token_to_copy(&name));
                }
            }
        }
        Action::ToggleAutoRefresh => {
            state.auto_refresh = !state.auto_refresh;
            let text = format!(
                "auto-refresh {}",
                if state.auto_refresh { "on" } else { "off" }
            );
            state.push_event("", text.clone(), EventKind::Info);
            state.flash = Some(text);
        }
        Action::StartFilter => state.mode = Mode::Filter,
        Action::ClearFilter => filter::clear(state),
        Action::KeepFilter => state.mode = Mode::Table,
        Action::FilterType(c) => filter::push(state, c),
        Action::FilterBackspace => filter::pop(state),
        Action::ToggleLog => {
            state.show_log = !state.show_log;
            navigation::keep_selection_visible(state);
        }
        Action::Help => state.mode = Mode::Help,
        Action::CloseHelp => state.mode = Mode::Table,
    }
}

pub(super) fn no_token_to_copy(name: &str) -> String {
    format!("{name}: no access token to copy")
}

/// Starts a refresh from a key. `explicit`: the user pointed at this row, so say why not.
fn request_refresh(
    state: &mut State,
    name: &str,
    explicit: bool,
    effects: &mut Vec<Effect>,
) -> bool {
    let Some(row) = state.row_mut(name) else {
        return false;
    };
    if !row.activity.is_idle() {
        return false;
    }
    if let Some(problem) = &row.problem {
        // Not "press l": a login cannot store over a record the store refuses either.
        if explicit {
            state.flash = Some(nothing_done(name, problem));
        }
        return false;
    }
    if !can_refresh(row.record.as_ref(), row.profile.grant) {
        if explicit {
            state.flash = Some(format!(
                "{name}: nothing to refresh with; press l to log in"
            ));
        }
        return false;
    }
    row.activity = Activity::Refreshing { auto: false };
    let seen_generation = row.generation();
    effects.push(Effect::Refresh {
        name: name.to_string(),
        seen_generation,
    });
    true
}
