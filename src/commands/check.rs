//! `tokdash check NAME`: calls the userinfo endpoint with the access token.

use super::{Context, warn_about};
use crate::failure::CmdResult;

pub fn check(ctx: &Context, name: &str) -> CmdResult {
    let engine = ctx.engine_for(name)?;
    warn_about(engine.config(), &[name]);
    let report = ctx.runtime()?.block_on(engine.check(name))?;
    println!(
        "{name}: ok, HTTP {} in {} ms{}{}",
        report.status,
        report.elapsed.as_millis(),
        report
            .subject
            .map(|s| format!(", sub {s}"))
            .unwrap_or_default(),
        if report.refreshed_after_401 {
            " (refreshed after a 401)"
        } else {
            ""
        }
    );
    Ok(())
}
