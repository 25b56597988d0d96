//! The details pane: the only place the dashboard holds token values, one profile's at most.

use super::super::effect::Effect;
use super::super::state::{Details, Mode, State};
use crate::store::TokenRecord;

/// Holds the token values of one profile at most: the one whose details are on screen. Asks the
/// worker for them when the pane opens on a profile (or the selection under it moves) and when
/// that profile's record changes generation (a refresh, another process); drops them when the
/// pane closes.
pub(super) fn sync_details(state: &mut State, effects: &mut Vec<Effect>) {
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
pub(super) fn on_details_loaded(
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
