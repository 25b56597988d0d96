//! `update(state, msg) -> effects`: every decision of the dashboard, and no IO.

use super::effect::Effect;
use super::msg::{Msg, WorkerEvent};
use super::state::{Details, EventKind, Mode, Row, State};
use crate::secret::Secret;
use crate::status::{can_refresh, needs_refresh, refresh_margin};
use crate::store::{RecordMeta, Standing, TokenRecord};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Auto-refresh backs off after failures up to this.
const MAX_BACKOFF_SECONDS: i64 = 900;
/// The longest `Retry-After` the dashboard honours before trying again.
const MAX_SERVER_WAIT_SECONDS: i64 = 3600;

pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let mut effects = Vec::new();
    match msg {
        Msg::Key(key) => {
            if key.kind != KeyEventKind::Release {
                state.dirty = true;
                state.flash = None;
                on_key(state, key, &mut effects);
            }
        }
        Msg::Tick(now) => on_tick(state, now, &mut effects),
        Msg::Resize { width, height } => {
            state.width = width;
            state.height = height;
            keep_selection_visible(state);
            state.dirty = true;
        }
        Msg::Worker(event) => {
            state.dirty = true;
            on_worker(state, *event, &mut effects);
            refilter(state);
        }
        Msg::Terminate => state.quit = true,
    }
    // After every message: keys, a filter or a worker event may each change what the details
    // pane shows, and this is the one place that decides which token values are held.
    sync_details(state, &mut effects);
    effects
}

fn on_key(state: &mut State, key: KeyEvent, effects: &mut Vec<Effect>) {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        state.quit = true;
        return;
    }
    match state.mode.clone() {
        Mode::Filter => match key.code {
            KeyCode::Enter => state.mode = Mode::Table,
            KeyCode::Esc => {
                state.filter.clear();
                state.mode = Mode::Table;
                refilter(state);
            }
            KeyCode::Backspace => {
                state.filter.pop();
                refilter(state);
            }
            KeyCode::Char(c) => {
                state.filter.push(c);
                refilter(state);
            }
            _ => {}
        },
        Mode::ConfirmRevoke { name } => {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    if let Some(row) = state.row_mut(&name) {
                        row.busy = true;
                        row.message = "revoking…".into();
                    }
                    state.push_event(&name, "revoking".into(), EventKind::Info);
                    effects.push(Effect::Revoke { name });
                }
                _ => state.flash = Some(format!("{name}: not revoked")),
            }
            state.mode = Mode::Table;
        }
        Mode::Help => {
            if key.code == KeyCode::Char('q') {
                state.quit = true;
            }
            state.mode = Mode::Table;
        }
        Mode::Login { name, .. } => {
            if matches!(key.code, KeyCode::Esc | KeyCode::Char('q')) {
                state.mode = Mode::Table;
                if let Some(row) = state.row_mut(&name) {
                    row.busy = false;
                    row.message = "login cancelled".into();
                }
                state.push_event(&name, "login cancelled".into(), EventKind::Info);
                effects.push(Effect::CancelLogin { name });
            }
        }
        Mode::Details => match key.code {
            KeyCode::Esc | KeyCode::Enter => state.mode = Mode::Table,
            KeyCode::Char('v') => state.reveal = !state.reveal,
            _ => on_table_key(state, key, effects),
        },
        Mode::Table => on_table_key(state, key, effects),
    }
}

fn on_table_key(state: &mut State, key: KeyEvent, effects: &mut Vec<Effect>) {
    // Revoking, logging in or copying would each stop at the record the store refuses (a login
    // only after the user approved it): say so now, in the store's words.
    if matches!(key.code, KeyCode::Char('x' | 'l' | 'c'))
        && let Some(row) = state.selected_row()
        && let Some(problem) = &row.problem
    {
        state.flash = Some(nothing_done(row.name(), problem));
        return;
    }
    let page = state.table_height().max(1);
    match key.code {
        KeyCode::Char('q') => state.quit = true,
        KeyCode::Up | KeyCode::Char('k') => move_to(state, state.selected.saturating_sub(1)),
        KeyCode::Down | KeyCode::Char('j') => move_to(state, state.selected + 1),
        KeyCode::Char('g') | KeyCode::Home => move_to(state, 0),
        KeyCode::Char('G') | KeyCode::End => move_to(state, usize::MAX),
        KeyCode::PageUp => move_to(state, state.selected.saturating_sub(page)),
        KeyCode::PageDown => move_to(state, state.selected + page),
        KeyCode::Enter if state.selected_row().is_some() => {
            // `sync_details` asks for the endpoints and the token values.
            state.mode = Mode::Details;
            state.reveal = false;
        }
        KeyCode::Char('v') => state.reveal = !state.reveal,
        KeyCode::Char('r') => {
            if let Some(name) = selected_name(state) {
                request_refresh(state, &name, true, effects);
            }
        }
        KeyCode::Char('R') => {
            let names: Vec<String> = state.rows.iter().map(|r| r.name().to_string()).collect();
            let mut started = 0;
            for name in names {
                if request_refresh(state, &name, false, effects) {
                    started += 1;
                }
            }
            state.flash = Some(format!("refreshing {started} profile(s)"));
        }
        KeyCode::Char('x') => {
            if let Some(row) = state.selected_row() {
                let name = row.name().to_string();
                if row.busy {
                    state.flash = Some(format!("{name}: busy, try again in a moment"));
                } else {
                    state.mode = Mode::ConfirmRevoke { name };
                }
            }
        }
        KeyCode::Char('l') => {
            if let Some(row) = state.selected_row() {
                let name = row.name().to_string();
                if row.profile.grant == crate::config::Grant::ClientCredentials {
                    state.flash =
                        Some(format!("{name}: client credentials need no login; press r"));
                } else if row.busy {
                    state.flash = Some(format!("{name}: busy, try again in a moment"));
                } else {
                    if let Some(row) = state.row_mut(&name) {
                        row.busy = true;
                        row.message = "logging in…".into();
                    }
                    state.mode = Mode::Login {
                        name: name.clone(),
                        prompt: None,
                    };
                    state.push_event(&name, "device login started".into(), EventKind::Info);
                    effects.push(Effect::StartLogin { name });
                }
            }
        }
        KeyCode::Char('c') => {
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
        KeyCode::Char('a') => {
            state.auto_refresh = !state.auto_refresh;
            let text = format!(
                "auto-refresh {}",
                if state.auto_refresh { "on" } else { "off" }
            );
            state.push_event("", text.clone(), EventKind::Info);
            state.flash = Some(text);
        }
        KeyCode::Char('/') => state.mode = Mode::Filter,
        KeyCode::Esc if !state.filter.is_empty() => {
            state.filter.clear();
            refilter(state);
        }
        KeyCode::Char('L') => {
            state.show_log = !state.show_log;
            keep_selection_visible(state);
        }
        KeyCode::Char('?') => state.mode = Mode::Help,
        _ => {}
    }
}

fn selected_name(state: &State) -> Option<String> {
    state.selected_row().map(|r| r.name().to_string())
}

fn nothing_done(name: &str, problem: &str) -> String {
    format!("{name}: nothing done: {problem}")
}

fn no_token_to_copy(name: &str) -> String {
    format!("{name}: no access token to copy")
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

/// Holds the token values of one profile at most: the one whose details are on screen. Asks the
/// worker for them when the pane opens on a profile (or the selection under it moves) and when
/// that profile's record changes generation (a refresh, another process); drops them when the
/// pane closes.
fn sync_details(state: &mut State, effects: &mut Vec<Effect>) {
    let Some(row) = state.selected_row().filter(|_| state.mode == Mode::Details) else {
        state.details = None;
        return;
    };
    let generation = row.generation();
    let held = state.details.as_ref().filter(|d| d.name == row.name());
    if held.is_some_and(|d| d.generation == generation) {
        return;
    }
    let name = row.name().to_string();
    let same_profile = held.is_some();
    if !same_profile {
        // Another profile: its endpoints may be unknown yet, and its token starts masked.
        if row.endpoints.is_none() {
            effects.push(Effect::LoadEndpoints { name: name.clone() });
        }
        state.reveal = false;
    }
    let mut details = Details::asked(name.clone(), generation);
    if same_profile {
        // The same profile, written again: its old values stay on screen until the new ones
        // arrive, rather than the pane blinking to "loading…" at every refresh.
        details.record = state.details.take().and_then(|d| d.record);
    }
    state.details = Some(details);
    effects.push(Effect::LoadDetails { name, generation });
}

/// Fills the details pane, unless the answer is for a request that a newer one replaced.
fn on_details_loaded(
    state: &mut State,
    name: &str,
    generation: Option<u64>,
    record: Result<Option<TokenRecord>, String>,
) {
    if let Some(details) = state
        .details
        .as_mut()
        .filter(|d| d.name == name && d.generation == generation)
    {
        details.record = Some(record.map(Option::unwrap_or_default));
    }
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
    if row.busy {
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
    row.busy = true;
    row.message = "refreshing…".into();
    let seen_generation = row.generation();
    effects.push(Effect::Refresh {
        name: name.to_string(),
        seen_generation,
    });
    true
}

fn on_tick(state: &mut State, now: i64, effects: &mut Vec<Effect>) {
    let changed_second = now != state.now;
    state.now = now;
    effects.push(Effect::PollStore);
    if state.auto_refresh {
        for row in &mut state.rows {
            // A refused record is left alone until a person fixes it (the poll clears it).
            if row.busy || row.problem.is_some() || !auto_refresh_due(row, now) {
                continue;
            }
            row.busy = true;
            row.message = "auto-refreshing…".into();
            effects.push(Effect::RefreshIfNeeded {
                name: row.name().to_string(),
            });
            state.dirty = true;
        }
    }
    if !state.filter.is_empty() {
        refilter(state);
    }
    // The countdown and "ago" columns move once a second; nothing else changes by itself.
    if changed_second && (countdown_on_screen(state) || matches!(state.mode, Mode::Login { .. })) {
        state.dirty = true;
    }
}

fn countdown_on_screen(state: &State) -> bool {
    let end = (state.offset + state.table_height()).min(state.visible.len());
    state.visible[state.offset.min(end)..end].iter().any(|&i| {
        state.rows[i]
            .record
            .as_ref()
            .is_some_and(|r| r.expires_at.is_some() || r.last_refresh.is_some())
    })
}

/// A profile is refreshed ahead of expiry, each at its own moment within a small window (from
/// a hash of its name) so that many profiles expiring together do not fire together.
fn auto_refresh_due(row: &Row, now: i64) -> bool {
    let default = RecordMeta::default();
    let record = row.record.as_ref().unwrap_or(&default);
    if record.standing != Standing::Active || !can_refresh(row.record.as_ref(), row.profile.grant) {
        return false;
    }
    if now < row.not_before || !needs_refresh(record, row.profile.refresh_ahead, now) {
        return false;
    }
    let ahead = refresh_margin(record, row.profile.refresh_ahead);
    let window = (ahead / 4).clamp(0, 10);
    match record.expires_at {
        Some(at) if at > now && window > 0 => now >= at - ahead + jitter(row.name(), window),
        _ => true,
    }
}

fn jitter(name: &str, window: i64) -> i64 {
    let h = name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    (h % (window as u64 + 1)) as i64
}

fn on_worker(state: &mut State, event: WorkerEvent, effects: &mut Vec<Effect>) {
    let now = state.now;
    match event {
        WorkerEvent::Refreshed {
            name,
            record,
            outcome,
        } => {
            let text = outcome.describe();
            if let Some(row) = state.row_mut(&name) {
                row.busy = false;
                row.failures = 0;
                row.not_before = 0;
                row.message = text.into();
                set_record(row, Some(record));
            }
            state.push_event(&name, text.into(), EventKind::Good);
        }
        WorkerEvent::RefreshFailed {
            name,
            error,
            transient,
            retry_after,
            record,
        } => {
            if let Some(row) = state.row_mut(&name) {
                row.busy = false;
                row.failures += 1;
                let backoff = (15i64 << (row.failures - 1).min(10)).min(MAX_BACKOFF_SECONDS);
                // A server that says when to come back is believed, past our own cap but not
                // past an hour: the header is the server's, and the row must not go quiet for
                // the whole session.
                let asked = retry_after.unwrap_or(0).clamp(0, MAX_SERVER_WAIT_SECONDS);
                let wait = backoff.max(asked);
                row.not_before = now.saturating_add(wait + jitter(&name, 5));
                row.message = error.clone();
                if record.is_some() {
                    set_record(row, record);
                }
            }
            let retry = if transient { " (will retry)" } else { "" };
            state.push_event(&name, format!("{error}{retry}"), EventKind::Bad);
        }
        WorkerEvent::Revoked { name, record } => {
            if let Some(row) = state.row_mut(&name) {
                row.busy = false;
                row.message = "revoked".into();
                set_record(row, record);
            }
            state.push_event(&name, "revoked".into(), EventKind::Good);
        }
        WorkerEvent::RevokeFailed { name, error } => {
            if let Some(row) = state.row_mut(&name) {
                row.busy = false;
                row.message = error.clone();
            }
            state.push_event(&name, error, EventKind::Bad);
        }
        WorkerEvent::StoreChanged(changes) => {
            let mut outside = Vec::new();
            let mut fixed = Vec::new();
            for (name, record) in changes {
                let Some(row) = state.row_mut(&name) else {
                    continue;
                };
                if row.problem.take().is_some() {
                    // Whatever it holds now (nothing, or a record of any generation) replaces
                    // the problem, and the problem's words go with it.
                    row.message.clear();
                    set_record(row, record);
                    fixed.push(name);
                    continue;
                }
                let newer = match (&row.record, &record) {
                    (Some(old), Some(new)) => new.generation > old.generation,
                    (None, Some(_)) | (Some(_), None) => true,
                    (None, None) => false,
                };
                if newer {
                    let was_known = row.record.is_some();
                    set_record(row, record);
                    if was_known && !row.busy {
                        row.message = "updated by another process".into();
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
        WorkerEvent::LoginPrompt { name, prompt } => {
            if matches!(&state.mode, Mode::Login { name: n, .. } if *n == name) {
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
        WorkerEvent::LoginDone { name, record } => {
            if let Some(row) = state.row_mut(&name) {
                row.busy = false;
                row.failures = 0;
                row.not_before = 0;
                row.message = "logged in".into();
                set_record(row, Some(record));
            }
            if matches!(&state.mode, Mode::Login { name: n, .. } if *n == name) {
                state.mode = Mode::Table;
            }
            state.flash = Some(format!("{name}: logged in"));
            state.push_event(&name, "logged in".into(), EventKind::Good);
        }
        WorkerEvent::LoginFailed { name, error } => {
            if let Some(row) = state.row_mut(&name) {
                row.busy = false;
                row.message = error.clone();
            }
            if matches!(&state.mode, Mode::Login { name: n, .. } if *n == name) {
                state.mode = Mode::Table;
            }
            state.flash = Some(format!("{name}: login failed: {error}"));
            state.push_event(&name, format!("login failed: {error}"), EventKind::Bad);
        }
        WorkerEvent::DetailsLoaded {
            name,
            generation,
            record,
        } => on_details_loaded(state, &name, generation, record),
        WorkerEvent::TokenForCopy { name, token } => {
            on_token_for_copy(state, &name, token, effects)
        }
    }
}

fn set_record(row: &mut Row, record: Option<RecordMeta>) {
    if let Some(r) = record.as_ref().and_then(|r| r.last_error.as_ref())
        && row.message.is_empty()
    {
        row.message = r.message.clone();
    }
    row.record = record;
}

/// Recomputes the rows that pass the filter, keeping the same row selected when it still shows.
pub(super) fn refilter(state: &mut State) {
    let keep = state.visible.get(state.selected).copied();
    let needle = state.filter.to_lowercase();
    let now = state.now;
    state.visible = if needle.is_empty() {
        (0..state.rows.len()).collect()
    } else {
        state
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.name().to_lowercase().contains(&needle)
                    || r.profile.provider.kind().as_str().contains(&needle)
                    || r.status(now).as_str().contains(&needle)
            })
            .map(|(i, _)| i)
            .collect()
    };
    state.selected = keep
        .and_then(|k| state.visible.iter().position(|&i| i == k))
        .unwrap_or(0);
    keep_selection_visible(state);
}

fn move_to(state: &mut State, position: usize) {
    state.selected = position.min(state.visible.len().saturating_sub(1));
    keep_selection_visible(state);
}

fn keep_selection_visible(state: &mut State) {
    let height = state.table_height().max(1);
    if state.selected < state.offset {
        state.offset = state.selected;
    } else if state.selected >= state.offset + height {
        state.offset = state.selected + 1 - height;
    }
    let max_offset = state.visible.len().saturating_sub(height);
    state.offset = state.offset.min(max_offset);
}
