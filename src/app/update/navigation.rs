//! Moving the selection, and keeping it on screen.

use super::super::keymap::Move;
use super::super::state::State;

pub(super) fn move_by(state: &mut State, to: Move) {
    let page = state.table_height().max(1);
    let position = match to {
        Move::Up => state.selected.saturating_sub(1),
        Move::Down => state.selected + 1,
        Move::Top => 0,
        Move::Bottom => usize::MAX,
        Move::PageUp => state.selected.saturating_sub(page),
        Move::PageDown => state.selected + page,
    };
    move_to(state, position);
}

fn move_to(state: &mut State, position: usize) {
    state.selected = position.min(state.visible.len().saturating_sub(1));
    keep_selection_visible(state);
}

pub(super) fn keep_selection_visible(state: &mut State) {
    let height = state.table_height().max(1);
    if state.selected < state.offset {
        state.offset = state.selected;
    } else if state.selected >= state.offset + height {
        state.offset = state.selected + 1 - height;
    }
    let max_offset = state.visible.len().saturating_sub(height);
    state.offset = state.offset.min(max_offset);
}
