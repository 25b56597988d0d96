//! `tokdash` (the dashboard), `tokdash agent` (its auto-refresh, headless) and `tokdash demo`.

use super::Context;
use crate::failure::CmdResult;

pub fn dashboard(ctx: &Context) -> CmdResult {
    let config = ctx.config()?;
    // The parse's peak is gone by now; the dashboard may run for days.
    crate::memory::release_freed();
    let store = ctx.store(&config)?;
    crate::dashboard::run(config, store)
}

/// `tokdash agent`: the dashboard's auto-refresh without a terminal.
pub fn agent(ctx: &Context) -> CmdResult {
    let config = ctx.config()?;
    crate::memory::release_freed();
    let store = ctx.store(&config)?;
    crate::agent::run(config, store)
}

pub fn demo() -> CmdResult {
    crate::demo::run()
}
