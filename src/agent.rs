//! `tokdash agent`: the dashboard's auto-refresh without a terminal, for systemd or a tmux
//! window. The same 1 s tick, the same [`Schedule`] per profile (due times, jitter, backoff,
//! Retry-After), the same engine path (`RefreshMode::IfNeeded`, under the lock, token files and
//! hooks after the store), the store watched for other processes' writes.
//!
//! One line per event on stderr and in the log: `TIME NAME what happened`, never a token.
//! SIGTERM and SIGINT stop new refreshes and wait for those in flight to be stored (a response
//! that rotated the refresh token must reach the disk); a second signal ends it at once.

use crate::clock;
use crate::config::{Config, Profile};
use crate::engine::{Engine, Notices, RefreshMode};
use crate::failure::Failure;
use crate::schedule::Schedule;
use crate::store::{Backend, RecordMeta};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinSet;

/// One profile as the agent follows it.
struct Follow {
    profile: Arc<Profile>,
    record: Option<RecordMeta>,
    schedule: Schedule,
    busy: bool,
    /// The store refuses the record: nothing is done until a poll reads it again.
    problem: bool,
}

/// `TIME NAME what happened`, on stderr and in the log.
fn say(name: &str, what: &str) {
    tracing::info!(profile = name, "agent: {what}");
    eprintln!("{} {name} {what}", clock::rfc3339(clock::now()));
}

pub fn run(config: Config, store: Backend) -> Result<(), Failure> {
    crate::runtime::build(crate::runtime::Purpose::Dashboard)?.block_on(run_async(config, store))
}

async fn run_async(config: Config, store: Backend) -> Result<(), Failure> {
    let config = Arc::new(config);
    let sweep = store.local().clone();
    tokio::task::spawn_blocking(move || sweep.remove_stale_temporaries());
    let cache = store.cache();
    let notices: Notices = Arc::new(|name: &str, message: &str| {
        eprintln!("{} {name} warning: {message}", clock::rfc3339(clock::now()));
    });
    let engine = Arc::new(
        Engine::new(config.clone(), store)?
            .with_cache(cache)
            .with_notices(notices),
    );
    let io_err = |e: std::io::Error| Failure::failed(format!("agent: cannot handle signals: {e}"));
    let mut sigterm = signal(SignalKind::terminate()).map_err(io_err)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(io_err)?;

    let mut follows: Vec<Follow> = config
        .profiles
        .iter()
        .map(|profile| Follow {
            profile: profile.clone(),
            record: None,
            schedule: Schedule::default(),
            busy: false,
            problem: false,
        })
        .collect();
    let index = |name: &str| config.index.find(name, |i| &config.profiles[i].name);
    let watch = Arc::new(std::sync::Mutex::new(engine.watch()));
    say(
        "-",
        &format!(
            "agent started: {} profiles, config {}",
            follows.len(),
            config.path.display()
        ),
    );

    let mut jobs: JoinSet<(usize, Event)> = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // Off the async thread: a slow disk delays the tick, never a signal's handling.
                let poller = watch.clone();
                let polled = crate::engine::blocking(move || {
                    poller.lock().map(|mut w| w.poll()).unwrap_or_default()
                })
                .await;
                for (name, read) in polled {
                    let Some(i) = index(&name) else { continue };
                    on_polled(&mut follows[i], read);
                }
                let now = clock::now();
                for (i, f) in follows.iter_mut().enumerate() {
                    if f.busy || f.problem {
                        continue;
                    }
                    let p = &f.profile;
                    if !f.schedule.due(&p.name, f.record.as_ref(), p.grant, p.refresh_ahead, &p.login_limits, now) {
                        continue;
                    }
                    f.busy = true;
                    let engine = engine.clone();
                    let name = p.name.clone();
                    jobs.spawn(async move { (i, refresh(&engine, &name).await) });
                }
            }
            Some(done) = jobs.join_next() => match done {
                Ok((i, event)) => on_event(&mut follows[i], event),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => {}
            },
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }

    let in_flight = jobs.len();
    match in_flight {
        0 => say("-", "stopping"),
        1 => say(
            "-",
            "stopping: waiting for the refresh in flight to be stored",
        ),
        n => say(
            "-",
            &format!("stopping: waiting for the {n} refreshes in flight to be stored"),
        ),
    }
    loop {
        tokio::select! {
            done = jobs.join_next() => match done {
                Some(Ok((i, event))) => on_event(&mut follows[i], event),
                Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Some(Err(_)) => {}
                None => break,
            },
            _ = sigterm.recv() => { jobs.abort_all(); say("-", "second signal: stopped without waiting"); break; }
            _ = sigint.recv() => { jobs.abort_all(); say("-", "second signal: stopped without waiting"); break; }
        }
    }
    say("-", "agent stopped");
    Ok(())
}

/// How a refresh the agent started ended.
enum Event {
    Refreshed {
        record: RecordMeta,
        what: String,
        sent: bool,
    },
    Failed {
        record: Option<RecordMeta>,
        error: String,
        retry_after: Option<i64>,
    },
}

async fn refresh(engine: &Engine, name: &str) -> Event {
    match engine.refresh(name, RefreshMode::IfNeeded).await {
        Ok(r) => {
            let now = clock::now();
            Event::Refreshed {
                what: format!(
                    "{}; expires in {}",
                    r.outcome.describe(),
                    clock::expires_in(r.record.expires_at, now)
                ),
                sent: r.outcome.sent(),
                record: r.record.meta(),
            }
        }
        Err(failed) => Event::Failed {
            record: failed
                .record
                .as_deref()
                .map(crate::store::TokenRecord::meta),
            error: failed.error.detail(),
            retry_after: failed
                .error
                .retry_after
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        },
    }
}

fn on_event(f: &mut Follow, event: Event) {
    f.busy = false;
    let name = f.profile.name.clone();
    match event {
        Event::Refreshed { record, what, sent } => {
            f.schedule.succeeded();
            f.record = Some(record);
            if sent {
                say(&name, &what);
            } else {
                tracing::debug!(profile = %name, "agent: {what}");
            }
        }
        Event::Failed {
            record,
            error,
            retry_after,
        } => {
            let now = clock::now();
            f.schedule.failed(&name, retry_after, now);
            if record.is_some() {
                f.record = record;
            }
            let retry = f.schedule.not_before.saturating_sub(now);
            say(&name, &format!("{error} (next try in {retry}s)"));
        }
    }
}

fn on_polled(f: &mut Follow, read: crate::engine::Polled) {
    let name = f.profile.name.clone();
    match read {
        Ok(record) => {
            if std::mem::take(&mut f.problem) {
                say(&name, "the record is readable again");
                f.record = record;
                return;
            }
            let newer = RecordMeta::replaces(f.record.as_ref(), record.as_ref());
            if newer {
                let was_known = f.record.is_some();
                f.record = record;
                if was_known && !f.busy {
                    say(&name, "updated in the store by another process");
                }
            }
        }
        Err(problem) => {
            f.problem = true;
            f.record = None;
            say(&name, &problem);
        }
    }
}
