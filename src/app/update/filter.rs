//! The filter: typed after `/`, matched against name, provider and status.

use super::super::state::{Mode, State};
use super::navigation::keep_selection_visible;

pub(super) fn push(state: &mut State, c: char) {
    state.filter.push(c);
    refilter(state);
}

pub(super) fn pop(state: &mut State) {
    state.filter.pop();
    refilter(state);
}

/// Esc, while typing or after: every row again, in the table.
pub(super) fn clear(state: &mut State) {
    state.mode = Mode::Table;
    if !state.filter.is_empty() {
        state.filter.clear();
        refilter(state);
    }
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
