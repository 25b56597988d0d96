//! The worker's answers: refreshes and revocations that ended, the store changed by anyone,
//! endpoints resolved, a token read for a copy. Login answers go to `login`, details to
//! `details`.

use super::super::effect::Effect;
use super::super::msg::WorkerEvent;
use super::super::state::{Activity, EventKind, State};
use super::keys::no_token_to_copy;
use super::{details, login};
use crate::secret::Secret;
use crate::store::RecordMeta;

pub(super) fn on_worker(state: &mut State, event: WorkerEvent, effects: &mut Vec<Effect>) {
    let now = state.now;
    match event {
        WorkerEvent::Refreshed {
            name,
            record,
            outcome,
        } => {
            let text = outcome.describe();
            if let Some(row) = state.row_mut(&name) {
                row.activity = Activity::Idle;
                row.schedule.succeeded();
                row.finish_with(text);
                row.record = Some(record);
            }
            state.push_event(&name, text.into(), EventKind::Good);
        }
        WorkerEvent::PublishWarning { name, message } => {
            if let Some(row) = state.row_mut(&name) {
                if row.activity.is_idle() {
                    row.message = Some(message.clone());
                    row.message_is_error = true;
                } else {
                    row.warning = Some(message.clone());
                }
            }
            state.push_event(&name, message, EventKind::Bad);
        }
        WorkerEvent::RefreshFailed {
            name,
            error,
            transient,
            retry_after,
            record,
        } => {
            if let Some(row) = state.row_mut(&name) {
                row.activity = Activity::Idle;
                row.schedule.failed(&name, retry_after, now);
                row.message = Some(error.clone());
                row.message_is_error = true;
                if record.is_some() {
                    row.record = record;
                }
            }
            let retry = if transient { " (will retry)" } else { "" };
            state.push_event(&name, format!("{error}{retry}"), EventKind::Bad);
        }
        WorkerEvent::Revoked { name, record } => {
            if let Some(row) = state.row_mut(&name) {
                row.activity = Activity::Idle;
                row.message = Some("revoked".into());
                row.message_is_error = false;
                row.record = record;
            }
            state.push_event(&name, "revoked".into(), EventKind::Good);
        }
        WorkerEvent::RevokeFailed { name, error } => {
            if let Some(row) = state.row_mut(&name) {
                row.activity = Activity::Idle;
                row.message = Some(error.clone());
                row.message_is_error = true;
            }
            state.push_event(&name, error, EventKind::Bad);
        }
        WorkerEvent::StoreChanged(changes) => on_store_changed(state, changes),
        WorkerEvent::RecordsUnusable(problems) => {
            for (name, problem) in problems {
                let Some(row) = state.row_mut(&name) else {
                    continue;
                };
                // What was known of the record no longer holds: no expiry, no refresh token.
                row.record = None;
                if row.problem.as_ref() != Some(&problem) {
                    row.problem = Some(problem.clone());
                    state.push_event(&name, problem, EventKind::Bad);
                }
            }
        }
        WorkerEvent::Endpoints { name, endpoints } => {
            if let Some(row) = state.row_mut(&name) {
                row.endpoints = Some(endpoints);
            }
        }
        WorkerEvent::LoginPrompt { name, prompt } => login::on_prompt(state, name, prompt),
        WorkerEvent::LoginDone { name, record } => login::on_done(state, name, record),
        WorkerEvent::BrowserLoginPrompt { name, prompt } => {
            login::on_browser_prompt(state, name, prompt)
        }
        WorkerEvent::LoginNotice { name, message } => login::on_notice(state, name, message),
        WorkerEvent::LoginFailed { name, error } => login::on_failed(state, name, error),
        WorkerEvent::DetailsLoaded {
            name,
            generation,
            record,
        } => details::on_details_loaded(state, &name, generation, record),
        WorkerEvent::TokenForCopy { name, token } => {
            on_token_for_copy(state, &name, token, effects)
        }
    }
}

fn on_store_changed(state: &mut State, changes: Vec<(String, Option<RecordMeta>)>) {
    state.store_read = true;
    let mut outside = Vec::new();
    let mut fixed = Vec::new();
    for (name, record) in changes {
        let Some(row) = state.row_mut(&name) else {
            continue;
        };
        if row.problem.take().is_some() {
            // Whatever it holds now (nothing, or a record of any generation) replaces the
            // problem, and the problem's words go with it.
            row.message = None;
            row.message_is_error = false;
            row.record = record;
            fixed.push(name);
            continue;
        }
        let newer = RecordMeta::replaces(row.record.as_ref(), record.as_ref());
        if newer {
            let was_known = row.record.is_some();
            row.record = record;
            // A change while a request is in flight is most likely that request's own write.
            if was_known && row.activity.is_idle() {
                row.message = Some("updated by another process".into());
                row.message_is_error = false;
                outside.push(name);
            }
        }
    }
    for name in outside {
        state.push_event(
            &name,
            "updated in the store by another process".into(),
            EventKind::Info,
        );
    }
    for name in fixed {
        state.push_event(
            &name,
            "its record can be read again".into(),
            EventKind::Good,
        );
    }
}

/// The second step of `c`: the worker has read the access token from the store.
fn on_token_for_copy(
    state: &mut State,
    name: &str,
    token: Result<Option<Secret>, String>,
    effects: &mut Vec<Effect>,
) {
    state.flash = Some(match token {
        Ok(Some(text)) => {
            effects.push(Effect::Copy { text });
            format!("{name}: access token copied (OSC 52)")
        }
        Ok(None) => no_token_to_copy(name),
        Err(e) => format!("{name}: cannot read the access token: {e}"),
    });
}
