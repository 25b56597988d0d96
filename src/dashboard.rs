//! The runner: thin by design. It turns terminal events, worker results, the clock and signals
//! into `Msg`s, feeds them to `update`, hands the effects to the worker, and draws only when
//! the state says something on screen changed. Idle, it sleeps in `select!` until the next tick.

use crate::app::{self, Effect, Msg, State};
use crate::clock;
use crate::config::Config;
use crate::engine::Engine;
use crate::failure::Failure;
use crate::store::Backend;
use crate::tui::{self, TerminalGuard};
use crate::ui;
use crate::worker::Worker;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

pub fn run(config: Config, store: Backend) -> Result<(), Failure> {
    crate::runtime::build(crate::runtime::Purpose::Dashboard)?.block_on(run_async(config, store))
}

pub async fn run_async(config: Config, store: Backend) -> Result<(), Failure> {
    let config = Arc::new(config);
    // The file store's housekeeping, off the async thread, while the first frame is drawn.
    let sweep = store.local().clone();
    tokio::task::spawn_blocking(move || sweep.remove_stale_temporaries());
    let cache = store.cache();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
    // Token file and hook warnings become the row's message (stderr is under the screen).
    let warnings = tx.clone();
    let notices: crate::engine::Notices = Arc::new(move |name: &str, message: &str| {
        let _ = warnings.send(Msg::worker(app::WorkerEvent::PublishWarning {
            name: name.to_string(),
            message: message.to_string(),
        }));
    });
    let engine = Arc::new(
        Engine::new(config.clone(), store)?
            .with_cache(cache)
            .with_notices(notices),
    );
    let location = engine.store_location();
    let mut worker = Worker::new(engine, tx);
    let io_err = |e: std::io::Error| Failure::failed(format!("terminal: {e}"));
    let mut sigterm = signal(SignalKind::terminate()).map_err(io_err)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(io_err)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(io_err)?;

    let mut guard = TerminalGuard::enter().map_err(io_err)?;
    let size = guard.terminal.size().map_err(io_err)?;
    let mut state = State::new(&config, clock::now(), size.width, size.height);
    state.color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    state.store = location;
    let mut events = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    let mut first_frame = true;
    let result = loop {
        if state.quit {
            break Ok(());
        }
        if state.dirty {
            if let Err(e) = guard.terminal.draw(|frame| ui::render(frame, &state)) {
                break Err(io_err(e));
            }
            state.dirty = false;
            if std::mem::take(&mut first_frame) {
                tracing::info!(
                    profiles = state.rows.len(),
                    ms = crate::started().elapsed().as_secs_f64() * 1000.0,
                    "first frame drawn"
                );
            }
        }
        let first = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => Msg::Key(key),
                Some(Ok(Event::Resize(width, height))) => Msg::Resize { width, height },
                Some(Ok(_)) => continue,
                // The terminal is gone (a dropped SSH session): nothing left to show.
                Some(Err(_)) | None => Msg::Terminate,
            },
            Some(msg) = rx.recv() => msg,
            _ = tick.tick() => Msg::Tick(clock::now()),
            _ = sigterm.recv() => Msg::Terminate,
            _ = sighup.recv() => Msg::Terminate,
            _ = sigint.recv() => Msg::Terminate,
        };
        // Coalesce: everything already waiting is applied before the next draw.
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        for msg in batch {
            for effect in app::update(&mut state, msg) {
                match effect {
                    Effect::Copy { text } => {
                        let mut out = std::io::stdout();
                        let _ = out.write_all(tui::osc52(text.expose()).as_bytes());
                        let _ = out.flush();
                    }
                    other => worker.run(other),
                }
            }
        }
    };
    worker.shutdown();
    drop(guard);
    result
}
