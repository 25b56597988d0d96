//! `tokdash token NAME`: a valid access token on stdout, refreshed first when it is due.

use super::{Context, find_profile, warn_about};
use crate::clock;
use crate::failure::{CmdResult, Failure};
use std::io::Write;

pub fn token(ctx: &Context, name: &str) -> CmdResult {
    let engine = ctx.engine()?;
    find_profile(engine.config(), name)?;
    warn_about(engine.config(), &[name]);
    let token = ctx.runtime()?.block_on(engine.access_token(name))?;
    if let Some(e) = &token.failed_refresh {
        let left = clock::expires_in(token.expires_at, clock::now());
        eprintln!("tokdash: warning: {e}; printing the current access token (expires in {left})");
    }
    // stdout holds the token and nothing else.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", token.token.expose())
        .map_err(|e| Failure::failed(format!("{name}: cannot write the token: {e}")))
}
