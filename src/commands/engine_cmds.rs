//! The commands that go through the engine: token, refresh, revoke, check. Each runs on a
//! single-threaded runtime: the work is waiting on the network, and a small runtime starts fast.

use super::{Context, find_profile, warn_about};
use crate::clock;
use crate::engine::{DiskWork, Engine, RefreshMode};
use crate::failure::{CmdResult, Failure};
use crate::store::TokenRecord;
use crate::summary::Summary;
use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

/// Threads for the store's writes. Measured with `refresh --all` of 300 profiles
/// (bench/refresh_all.sh): 4 costs 10% less CPU than 16, whose concurrent fsyncs contend in the
/// kernel, and 2 no less than 4. Nothing else waits on them: a held lock is polled on a timer.
const BLOCKING_THREADS: usize = 4;

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // tokio's default cap is 512 threads: hundreds of profiles would start hundreds.
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))
}

pub fn engine(ctx: &Context) -> Result<Arc<Engine>, Failure> {
    let config = Arc::new(ctx.config()?);
    let store = ctx.store()?;
    Ok(Arc::new(
        Engine::new(config, store)?.with_disk_work(DiskWork::Inline),
    ))
}

pub fn token(ctx: &Context, name: &str) -> CmdResult {
    let engine = engine(ctx)?;
    find_profile(&engine.config, name)?;
    warn_about(&engine.config, &[name]);
    let (token, failed_refresh) = runtime()?.block_on(engine.access_token(name))?;
    if let Some(e) = failed_refresh {
        let left = engine
            .store
            .load(name)
            .ok()
            .flatten()
            .map(|r| clock::expires_in(r.expires_at, clock::now()))
            .unwrap_or_default();
        eprintln!("tokdash: warning: {e}; printing the current access token (expires in {left})");
    }
    // stdout holds the token and nothing else.
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", token.expose())
        .map_err(|e| Failure::failed(format!("{name}: cannot write the token: {e}")))
}

/// `refresh NAME...` refreshes the named profiles now; `refresh --all` refreshes every profile
/// that is due by the one due rule (`status::needs_refresh`), so that a cron job or a habit of
/// running it sends nothing for fresh tokens (and spends no rotating refresh token for them);
/// `refresh --all --force` refreshes every profile.
pub fn refresh(ctx: &Context, names: &[String], all: bool, force: bool, json: bool) -> CmdResult {
    let engine = engine(ctx)?;
    // A profile that another process refreshes after this instant is left as it is.
    let mode = if all && !force {
        RefreshMode::IfNeeded
    } else {
        RefreshMode::ForceUnlessRefreshedAfter {
            since: clock::now(),
        }
    };
    let targets: Vec<String> = if all {
        // The store's housekeeping rides on the command that touches every record anyway.
        let removed = engine.store.remove_stale_temporaries();
        if removed > 0 {
            tracing::info!(
                removed,
                "removed temporary files left by interrupted writes"
            );
        }
        engine
            .config
            .profiles
            .iter()
            .map(|p| p.name.clone())
            .collect()
    } else {
        let mut unique: Vec<String> = Vec::new();
        for n in names {
            find_profile(&engine.config, n)?;
            // `refresh p p` is one refresh: a second would only report the first as "another
            // process".
            if !unique.contains(n) {
                unique.push(n.clone());
            }
        }
        unique
    };
    warn_about(
        &engine.config,
        &targets.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let results = runtime()?.block_on(refresh_many(engine.clone(), targets.clone(), mode));
    let now = clock::now();
    let mut summaries = Vec::new();
    let mut worst: Option<Failure> = None;
    let mut failed = 0;
    for (name, result) in targets.iter().zip(results) {
        let profile = find_profile(&engine.config, name)?;
        match result {
            Ok(refreshed) => {
                if !json {
                    let how = match (refreshed.sent, refreshed.rotated) {
                        (false, _) if mode == RefreshMode::IfNeeded => "not due, nothing sent",
                        (false, _) => "already fresh (refreshed by another process meanwhile)",
                        (true, true) => "refreshed, new refresh token stored",
                        (true, false) => "refreshed",
                    };
                    println!(
                        "{name}: {how}; expires in {}",
                        clock::expires_in(refreshed.record.expires_at, now)
                    );
                }
                summaries.push(Summary::new(profile, Some(&refreshed.record.meta()), now));
            }
            Err(e) => {
                eprintln!("tokdash: {e}");
                failed += 1;
                let failure = Failure::from(e);
                if worst.as_ref().is_none_or(|w| failure.code > w.code) {
                    worst = Some(failure);
                }
                let record = engine.store.load(name).ok().flatten();
                let facts = record.as_ref().map(TokenRecord::meta);
                summaries.push(Summary::new(profile, facts.as_ref(), now));
            }
        }
    }
    if json {
        let text =
            serde_json::to_string_pretty(&summaries).map_err(|e| Failure::usage(e.to_string()))?;
        println!("{text}");
    }
    tracing::info!(refreshed = targets.len() - failed, failed, "refresh done");
    match worst {
        // Each failure is already on stderr, one line each: exit with the worst code, say no more.
        Some(w) => Err(Failure::silent(w.code)),
        None => Ok(()),
    }
}

/// Every profile at once; the engine's semaphore keeps `max_concurrency` requests in flight over
/// its one connection pool.
pub async fn refresh_many(
    engine: Arc<Engine>,
    names: Vec<String>,
    mode: RefreshMode,
) -> Vec<Result<crate::engine::Refreshed, crate::engine::EngineError>> {
    // Twice `max_concurrency` profiles under way at once: enough that one's fsync overlaps
    // another's request, few enough that hundreds of profiles do not hold hundreds of locks and
    // threads at once.
    let jobs = Arc::new(tokio::sync::Semaphore::new(
        engine.config.settings.max_concurrency * 2,
    ));
    let mut set = tokio::task::JoinSet::new();
    for (i, name) in names.iter().enumerate() {
        let engine = engine.clone();
        let name = name.clone();
        let jobs = jobs.clone();
        set.spawn(async move {
            let _job = jobs.acquire_owned().await;
            (i, engine.refresh(&name, mode).await)
        });
    }
    let mut results: Vec<Option<_>> = (0..names.len()).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => results[i] = Some(r),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every task reports"))
        .collect()
}

pub fn revoke(ctx: &Context, name: &str, yes: bool) -> CmdResult {
    let engine = engine(ctx)?;
    let profile = find_profile(&engine.config, name)?;
    warn_about(&engine.config, &[name]);
    if !yes
        && !confirm(&format!(
            "Revoke the tokens of {name} at {}? [y/N] ",
            profile.provider.kind().as_str()
        ))?
    {
        return Err(Failure::failed(format!("{name}: not revoked")));
    }
    let outcome = runtime()?.block_on(engine.revoke(name))?;
    println!(
        "{name}: revoked ({}){}",
        outcome.revoked.join(", "),
        if outcome.already_dead {
            "; the provider says it was already dead"
        } else {
            ""
        }
    );
    Ok(())
}

fn confirm(question: &str) -> Result<bool, Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::usage(
            "revoke asks for confirmation; pass --yes when stdin is not a terminal",
        ));
    }
    eprint!("{question}");
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub fn check(ctx: &Context, name: &str) -> CmdResult {
    let engine = engine(ctx)?;
    find_profile(&engine.config, name)?;
    warn_about(&engine.config, &[name]);
    let report = runtime()?.block_on(engine.check(name))?;
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
