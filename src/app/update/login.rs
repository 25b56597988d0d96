//! The login popup: `l` starts a login (the worker picks device or browser by the profile), Esc
//! cancels it, the worker reports what to show and how it ended. A browser login's popup has a
//! field for the pasted address, sent to the login with Enter.

use super::super::effect::Effect;
use super::super::msg::{BrowserPrompt, LoginPrompt};
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
        state.push_event(&name, "login started".into(), EventKind::Info);
        effects.push(Effect::StartLogin { name });
    }
}

pub(super) fn cancel(state: &mut State, effects: &mut Vec<Effect>) {
    let name = match std::mem::replace(&mut state.mode, Mode::Table) {
        Mode::Login { name, .. } | Mode::BrowserLogin { name, .. } => name,
        other => {
            state.mode = other;
            return;
        }
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
    matches!(&state.mode, Mode::Login { name: n, .. } | Mode::BrowserLogin { name: n, .. } if n == name)
}

pub(super) fn on_browser_prompt(state: &mut State, name: String, prompt: BrowserPrompt) {
    state.push_event(
        &name,
        format!("browser login listening on port {}", prompt.port),
        EventKind::Info,
    );
    if popup_is_for(state, &name) {
        state.mode = Mode::BrowserLogin {
            name,
            prompt,
            input: String::new(),
            note: None,
        };
    }
}

pub(super) fn on_notice(state: &mut State, name: String, message: String) {
    if let Mode::BrowserLogin { name: n, note, .. } = &mut state.mode
        && *n == name
    {
        *note = Some(message.clone());
    }
    state.push_event(&name, message, EventKind::Bad);
}

/// The longest paste kept: a callback address is far shorter, and a runaway paste must not
/// grow without end.
const MAX_INPUT: usize = 8 * 1024;

pub(super) fn type_char(state: &mut State, c: char) {
    if let Mode::BrowserLogin { input, note, .. } = &mut state.mode
        && input.len() < MAX_INPUT
        && !c.is_control()
    {
        input.push(c);
        *note = None;
    }
}

pub(super) fn backspace(state: &mut State) {
    if let Mode::BrowserLogin { input, .. } = &mut state.mode {
        input.pop();
    }
}

pub(super) fn submit(state: &mut State, effects: &mut Vec<Effect>) {
    if let Mode::BrowserLogin {
        name, input, note, ..
    } = &mut state.mode
    {
        let text = std::mem::take(input);
        if text.trim().is_empty() {
            *note = Some("paste the address the browser ended on, then Enter".into());
            return;
        }
        *note = Some("checking…".into());
        effects.push(Effect::PasteCallback {
            name: name.clone(),
            text,
        });
    }
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
