//! `tokdash import NAME`: a token endpoint response on stdin becomes the profile's record.

use super::{Context, find_profile};
use crate::clock;
use crate::failure::{CmdResult, Failure};
use crate::oauth::token_response;
use std::io::Read;

/// A token response is a few kilobytes; anything near this is not one.
const MAX_INPUT: u64 = 1 << 20;

pub fn import(ctx: &Context, name: &str) -> CmdResult {
    let engine = ctx.engine_for(name)?;
    let profile = find_profile(engine.config(), name)?;
    super::warn_about(engine.config(), &[name]);

    let mut input = Vec::new();
    std::io::stdin()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input)
        .map_err(|e| Failure::usage(format!("{name}: cannot read stdin: {e}")))?;
    if input.len() as u64 > MAX_INPUT {
        return Err(Failure::usage(format!(
            "{name}: stdin is over 1 MiB, not a token endpoint response"
        )));
    }
    let response = token_response::parse(&input).map_err(|why| {
        Failure::usage(format!(
            "{name}: stdin is not a token endpoint response: {why}; a bare {{\"refresh_token\": \"...\"}} is enough"
        ))
    })?;

    let record = ctx.runtime()?.block_on(engine.import(name, response))?;
    let now = clock::now();
    let summary = crate::summary::Summary::new(profile, Some(&record.meta()), now);
    println!(
        "{name}: imported; {}, expires in {}, {} refresh token",
        summary.status.as_str(),
        clock::expires_in(record.access_token.as_ref().and(record.expires_at), now),
        if summary.has_refresh_token {
            "with a"
        } else {
            "no"
        }
    );
    Ok(())
}
