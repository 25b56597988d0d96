//! The clock, once a second: poll the store, start the refreshes the schedule says are due,
//! and redraw only when something on screen moves.

use super::super::effect::Effect;
use super::super::state::{Activity, Mode, State};
use super::refilter;

pub(super) fn on_tick(state: &mut State, now: i64, effects: &mut Vec<Effect>) {
    let changed_second = now != state.now;
    state.now = now;
    effects.push(Effect::PollStore);
    // Before the store is read every record looks absent: nothing is due yet.
    if state.auto_refresh && state.store_read {
        for row in &mut state.rows {
            // A refused record is left alone until a person fixes it (the poll clears it).
            if !row.activity.is_idle() || row.problem.is_some() {
                continue;
            }
            let profile = &row.profile;
            let due = row.schedule.due(
                &profile.name,
                row.record.as_ref(),
                profile.grant,
                profile.refresh_ahead,
                &profile.login_limits,
                now,
            );
            if !due {
                continue;
            }
            row.activity = Activity::Refreshing { auto: true };
            effects.push(Effect::RefreshIfNeeded {
                name: row.name().to_string(),
            });
            state.dirty = true;
        }
    }
    if !state.filter.is_empty() {
        refilter(state);
    }
    // The countdown and "ago" columns move once a second, and so does the end of a login inside
    // its warning window (a row crossing into it shows it from this tick); nothing else changes
    // by itself.
    if changed_second
        && (countdown_on_screen(state)
            || matches!(state.mode, Mode::Login { .. } | Mode::BrowserLogin { .. }))
    {
        state.dirty = true;
    }
}

/// Only the rows on screen are looked at, so ten thousand profiles cost what thirty do.
fn countdown_on_screen(state: &State) -> bool {
    let end = (state.offset + state.table_height()).min(state.visible.len());
    state.visible[state.offset.min(end)..end].iter().any(|&i| {
        let row = &state.rows[i];
        row.record
            .as_ref()
            .is_some_and(|r| r.expires_at.is_some() || r.last_refresh.is_some())
            || row
                .login_ends_soon(state.now, state.login_warning)
                .is_some()
    })
}
