//! The login popup: `l` starts a device login, Esc cancels it, the worker reports the code to
//! show and how it ended.

use super::super::effect::Effect;
use super::super::msg::LoginPrompt;
use super::super::state::{Activity, EventKind, Mode, State};
use super::busy;
use crate::config::Grant;
use crate::store::RecordMeta;

pub(super) fn start(state: &mut State, effects: &mut Vec<Effect>) {
    let Some(row) = state.selected_row() else {
        return;
    };
    let name = row.name().to_string();
    if row.profile.grant == Grant::ClientCredentials {
        state.flash = Some(format!("{name}: client credentials need no login; press r"));
    } else if !row.activity.is_idle() {
        state.flash = Some(busy(&name));
    } else {
        if let Some(row) = state.row_mut(&name) {
            row.activity = Activity::LoggingIn;
        }
        state.mode = Mode::Login {
            name: name.clone(),
            prompt: None,
        };
        state.push_event(&name, "device login started".into(), EventKind::Info);
        effects.push(Effect::StartLogin { name });
    }
}

pub(super) fn cancel(state: &mut State, effects: &mut Vec<Effect>) {
    let Mode::Login { name, .. } = std::mem::replace(&mut state.mode, Mode::Table) else {
        return;
    };
    if let Some(row) = state.row_mut(&name) {
        row.activity = Activity::Idle;
        row.message = Some("login cancelled".into());
        row.message_is_error = false;
    }
    state.push_event(&name, "login cancelled".into(), EventKind::Info);
    effects.push(Effect::CancelLogin { name });
}

fn popup_is_for(state: &State, name: &str) -> bool {
    matches!(&state.mode, Mode::Login { name: n, .. } if n == name)
}

pub(super) fn on_prompt(state: &mut State, name: String, prompt: LoginPrompt) {
    if popup_is_for(state, &name) {
        state.mode = Mode::Login {
            name: name.clone(),
            prompt: Some(prompt.clone()),
        };
    }
    state.push_event(
        &name,
        format!(
            "enter code {} at {}",
            prompt.user_code, prompt.verification_uri
        ),
        EventKind::Info,
    );
}

pub(super) fn on_done(state: &mut State, name: String, record: RecordMeta) {
    if let Some(row) = state.row_mut(&name) {
        row.activity = Activity::Idle;
        row.schedule.succeeded();
        row.finish_with("logged in");
        row.record = Some(record);
    }
    if popup_is_for(state, &name) {
        state.mode = Mode::Table;
    }
    state.flash = Some(format!("{name}: logged in"));
    state.push_event(&name, "logged in".into(), EventKind::Good);
}

pub(super) fn on_failed(state: &mut State, name: String, error: String) {
    if let Some(row) = state.row_mut(&name) {
        row.activity = Activity::Idle;
        row.message = Some(error.clone());
        row.message_is_error = true;
    }
    if popup_is_for(state, &name) {
        state.mode = Mode::Table;
    }
    state.flash = Some(format!("{name}: login failed: {error}"));
    state.push_event(&name, format!("login failed: {error}"), EventKind::Bad);
}
