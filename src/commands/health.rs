//! `tokdash health [--within D] [--json]`: what needs a person, for cron and monitoring.

use super::Context;
use crate::clock;
use crate::config::Profile;
use crate::failure::{CmdResult, Failure};
use crate::status::{Status, login_ends_at, profile_status};
use crate::store::RecordMeta;
use serde::Serialize;
use std::time::Duration;

/// One profile that needs a person (an element of `health --json`).
#[derive(Debug, Serialize)]
struct Finding {
    name: String,
    status: Status,
    reason: String,
    refresh_token_expires_at: Option<String>,
}

/// Prints one line per profile that needs a person: needs_login, revoked, error, or a login that
/// ends within `within` (default `settings.login_warning`) or has ended. Exit 1 when there is
/// any, 0 when none; 2 (from the config or the store) when it cannot tell.
pub fn health(ctx: &Context, within: Option<Duration>, json: bool) -> CmdResult {
    let engine = ctx.engine()?;
    let within = within.unwrap_or(engine.config().settings.login_warning);
    let within = i64::try_from(within.as_secs()).unwrap_or(i64::MAX);
    let now = clock::now();
    let findings: Vec<Finding> = super::every_record(ctx, &engine)?
        .into_iter()
        .filter_map(|(profile, record)| match record {
            Ok(facts) => finding(&profile, facts.as_ref(), within, now),
            // A record the store refuses needs a person too: its words say what to do.
            Err(problem) => Some(Finding {
                name: profile.name.clone(),
                status: Status::Error,
                reason: problem,
                refresh_token_expires_at: None,
            }),
        })
        .collect();
    if json {
        let text =
            serde_json::to_string_pretty(&findings).map_err(|e| Failure::usage(e.to_string()))?;
        println!("{text}");
    } else {
        for f in &findings {
            println!("{}: {}", f.name, f.reason);
        }
    }
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Failure::silent(1))
    }
}

/// What a person must do about this profile, if anything.
fn finding(
    profile: &Profile,
    record: Option<&RecordMeta>,
    within: i64,
    now: i64,
) -> Option<Finding> {
    let name = &profile.name;
    let status = profile_status(record, profile, now);
    let ends = record.and_then(|r| login_ends_at(r, &profile.login_limits));
    let reason = match (status, ends) {
        (Status::NeedsLogin, Some(at)) if at <= now => format!(
            "login ended {} ({}); run: tokdash login {name}",
            clock::ago(Some(at), now),
            clock::rfc3339(at)
        ),
        (Status::NeedsLogin, _) if record.is_none() => {
            format!("no token yet; run: tokdash login {name}")
        }
        (Status::NeedsLogin, _) => {
            format!("needs a login (the refresh token was refused); run: tokdash login {name}")
        }
        (Status::Revoked, _) => format!("revoked; run: tokdash login {name}"),
        (Status::Error, _) => {
            let what = record
                .and_then(|r| r.last_error.as_ref())
                .map_or("the last attempt failed", |e| e.message.as_str());
            format!("error: {what}")
        }
        (_, Some(at)) if at.saturating_sub(now) <= within => format!(
            "login ends in {} ({})",
            clock::short_duration(at - now),
            clock::rfc3339(at)
        ),
        _ => return None,
    };
    Some(Finding {
        name: name.clone(),
        status,
        reason,
        refresh_token_expires_at: ends.map(clock::rfc3339),
    })
}
