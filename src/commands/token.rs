//! `tokdash token NAME [--min-valid D] [--format bare|header|json]`: a valid access token on
//! stdout, refreshed first when it is due (or has less than `--min-valid` left).

use super::{Context, hand_out, warn_about};
use crate::clock;
use crate::engine::AccessToken;
use crate::failure::{CmdResult, Failure};
use std::io::Write;
use std::time::Duration;

/// How `tokdash token` prints the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TokenFormat {
    /// The token alone
    #[default]
    Bare,
    /// `Authorization: Bearer <token>`
    Header,
    /// `access_token`, `token_type`, `expires_at`, `expires_in`, `scope`
    Json,
}

pub fn token(
    ctx: &Context,
    name: &str,
    min_valid: Option<Duration>,
    format: TokenFormat,
) -> CmdResult {
    let engine = ctx.engine_for(name)?;
    warn_about(engine.config(), &[name]);
    let token = ctx
        .runtime()?
        .block_on(hand_out(&engine, name, min_valid, "printing"))?;
    // stdout holds the token and nothing else.
    let text = render(&token, format, clock::now());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
        .map_err(|e| Failure::failed(format!("{name}: cannot write the token: {e}")))
}

fn render(token: &AccessToken, format: TokenFormat, now: i64) -> String {
    let value = token.token.expose();
    match format {
        TokenFormat::Bare => value.to_string(),
        TokenFormat::Header => format!("Authorization: Bearer {value}"),
        // The formats of `list --json`: RFC 3339 UTC, whole seconds (negative once expired).
        TokenFormat::Json => serde_json::json!({
            "access_token": value,
            "token_type": token.token_type.as_deref().unwrap_or("Bearer"),
            "expires_at": token.expires_at.map(clock::rfc3339),
            "expires_in": token.expires_at.map(|at| at - now),
            "scope": token.scope,
        })
        .to_string(),
    }
}
