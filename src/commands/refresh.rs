//! `tokdash refresh NAME... | --all [--force] [--json]`.

use super::{Context, find_profile, warn_about};
use crate::clock;
use crate::engine::RefreshMode;
use crate::failure::{CmdResult, Failure};
use crate::store::TokenRecord;
use crate::summary::Summary;
use std::io::Write;
use std::sync::Arc;

/// `refresh NAME...` refreshes the named profiles now; `refresh --all` refreshes every profile
/// that is due by the one due rule (`status::needs_refresh`), so that a cron job or a habit of
/// running it sends nothing for fresh tokens (and spends no rotating refresh token for them);
/// `refresh --all --force` refreshes every profile.
pub fn refresh(ctx: &Context, names: &[String], all: bool, force: bool, json: bool) -> CmdResult {
    let config = Arc::new(ctx.config()?);
    let store = ctx.store(&config)?;
    if all {
        // The file store's housekeeping rides on the command that touches every record anyway.
        store.local().remove_stale_temporaries();
    }
    let engine = ctx.engine_on(config, store)?;
    let config = engine.config();
    // A profile that another process refreshes after this instant is left as it is.
    let mode = if all && !force {
        RefreshMode::IfNeeded
    } else {
        RefreshMode::ForceUnlessRefreshedAfter {
            since: clock::now(),
        }
    };
    let targets: Vec<String> = if all {
        config.profiles.iter().map(|p| p.name.clone()).collect()
    } else {
        let mut unique: Vec<String> = Vec::new();
        for n in names {
            find_profile(config, n)?;
            // `refresh p p` is one refresh: a second would only report the first as "another
            // process".
            if !unique.contains(n) {
                unique.push(n.clone());
            }
        }
        unique
    };
    warn_about(
        config,
        &targets.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let results = ctx.runtime()?.block_on(engine.refresh_many(&targets, mode));
    let now = clock::now();
    let mut summaries = Vec::new();
    let mut worst: Option<Failure> = None;
    let mut failed = 0;
    // One write for all the lines rather than one per profile (they are all known by now);
    // flushed before each error, so that a terminal shows both streams in order.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (name, result) in targets.iter().zip(results) {
        let profile = find_profile(config, name)?;
        match result {
            Ok(refreshed) => {
                if !json {
                    let _ = writeln!(
                        out,
                        "{name}: {}; expires in {}",
                        refreshed.outcome.describe(),
                        clock::expires_in(refreshed.record.expires_at, now)
                    );
                }
                summaries.push(Summary::new(profile, Some(&refreshed.record.meta()), now));
            }
            Err(e) => {
                let _ = out.flush();
                eprintln!("tokdash: {e}");
                failed += 1;
                let facts = e.record.as_deref().map(TokenRecord::meta);
                summaries.push(Summary::new(profile, facts.as_ref(), now));
                let failure = Failure::from(e.error);
                if worst.as_ref().is_none_or(|w| failure.code > w.code) {
                    worst = Some(failure);
                }
            }
        }
    }
    if json {
        let text =
            serde_json::to_string_pretty(&summaries).map_err(|e| Failure::usage(e.to_string()))?;
        let _ = writeln!(out, "{text}");
    }
    let _ = out.flush();
    tracing::info!(refreshed = targets.len() - failed, failed, "refresh done");
    match worst {
        // Each failure is already on stderr, one line each: exit with the worst code, say no more.
        Some(w) => Err(Failure::silent(w.code)),
        None => Ok(()),
    }
}
