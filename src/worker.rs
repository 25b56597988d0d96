//! The worker runs the dashboard's effects: HTTP through the engine, store reads and writes.
//! Every effect becomes a task; results come back to the runner as `Msg::Worker`. Nothing here
//! blocks the caller: `run` only spawns.
//!
//! Records go back to the dashboard as [`RecordMeta`], made the moment a record is in hand, so
//! the token values of ten thousand profiles are never held at once. Token values go back only
//! when asked for one profile: the details pane, a copy.

use crate::app::{Effect, Msg, WorkerEvent};
use crate::config::Config;
use crate::engine::{Engine, RefreshMode};
use crate::store::{RecordMeta, Store, TokenRecord};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

pub struct Worker {
    engine: Arc<Engine>,
    tx: UnboundedSender<Msg>,
    /// In-flight work per profile, aborted on quit.
    jobs: HashMap<String, AbortHandle>,
    logins: HashMap<String, AbortHandle>,
    poller: Arc<Mutex<StorePoller>>,
    polling: Arc<AtomicBool>,
}

impl Worker {
    pub fn new(engine: Arc<Engine>, tx: UnboundedSender<Msg>) -> Worker {
        let poller = StorePoller::new(engine.store.clone(), engine.config.clone());
        Worker {
            engine,
            tx,
            jobs: HashMap::new(),
            logins: HashMap::new(),
            poller: Arc::new(Mutex::new(poller)),
            polling: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn run(&mut self, effect: Effect) {
        self.jobs.retain(|_, h| !h.is_finished());
        let engine = self.engine.clone();
        let tx = self.tx.clone();
        let send = move |e: WorkerEvent| {
            let _ = tx.send(Msg::worker(e));
        };
        match effect {
            Effect::Refresh {
                name,
                seen_generation,
            } => {
                self.spawn_refresh(name, RefreshMode::Force { seen_generation });
            }
            Effect::RefreshIfNeeded { name } => self.spawn_refresh(name, RefreshMode::IfNeeded),
            Effect::Revoke { name } => {
                let key = name.clone();
                let handle = tokio::spawn(async move {
                    match engine.revoke(&name).await {
                        Ok(_) => {
                            let record = load_meta(&engine, &name).await;
                            send(WorkerEvent::Revoked { name, record });
                        }
                        Err(e) => send(WorkerEvent::RevokeFailed {
                            name,
                            error: e.detail(),
                        }),
                    }
                });
                self.jobs.insert(key, handle.abort_handle());
            }
            Effect::PollStore => {
                if self.polling.swap(true, Ordering::AcqRel) {
                    return; // the previous poll is still reading
                }
                let poller = self.poller.clone();
                let polling = self.polling.clone();
                tokio::task::spawn_blocking(move || {
                    let changes = poller.lock().map(|mut p| p.poll()).unwrap_or_default();
                    polling.store(false, Ordering::Release);
                    if !changes.is_empty() {
                        send(WorkerEvent::StoreChanged(changes));
                    }
                });
            }
            Effect::LoadDetails { name, generation } => {
                tokio::spawn(async move {
                    let record = engine.load(&name).await.map_err(|e| e.detail());
                    send(WorkerEvent::DetailsLoaded {
                        name,
                        generation,
                        record,
                    });
                });
            }
            Effect::LoadTokenForCopy { name } => {
                tokio::spawn(async move {
                    let token = engine
                        .load(&name)
                        .await
                        .map(|record| record.and_then(|r| r.access_token))
                        .map_err(|e| e.detail());
                    send(WorkerEvent::TokenForCopy { name, token });
                });
            }
            Effect::LoadEndpoints { name } => {
                tokio::spawn(async move {
                    let endpoints = match engine.profile(&name) {
                        Ok(p) => engine.endpoints(p).await.map_err(|e| e.message),
                        Err(e) => Err(e.message),
                    };
                    send(WorkerEvent::Endpoints { name, endpoints });
                });
            }
            Effect::StartLogin { name } => {
                let key = name.clone();
                let prompt_send = send.clone();
                let handle = tokio::spawn(async move {
                    let prompt_name = name.clone();
                    let result = engine
                        .login(&name, move |prompt| {
                            prompt_send(WorkerEvent::LoginPrompt {
                                name: prompt_name,
                                prompt,
                            });
                        })
                        .await;
                    match result {
                        Ok(record) => send(WorkerEvent::LoginDone {
                            name,
                            record: record.meta(),
                        }),
                        Err(e) => send(WorkerEvent::LoginFailed {
                            name,
                            error: e.detail(),
                        }),
                    }
                });
                self.logins.insert(key, handle.abort_handle());
            }
            Effect::CancelLogin { name } => {
                // Aborting drops the poll in flight: its request stops with it.
                if let Some(handle) = self.logins.remove(&name) {
                    handle.abort();
                }
            }
            Effect::Copy { .. } => {} // terminal output: the runner's job
        }
    }

    fn spawn_refresh(&mut self, name: String, mode: RefreshMode) {
        let engine = self.engine.clone();
        let tx = self.tx.clone();
        let key = name.clone();
        let handle = tokio::spawn(async move {
            let event = match engine.refresh(&name, mode).await {
                Ok(r) => WorkerEvent::Refreshed {
                    name,
                    record: r.record.meta(),
                    sent: r.sent,
                    rotated: r.rotated,
                },
                Err(e) => {
                    let record = load_meta(&engine, &name).await;
                    WorkerEvent::RefreshFailed {
                        name,
                        error: e.detail(),
                        transient: e.is_transient(),
                        retry_after: e
                            .retry_after
                            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                        record,
                    }
                }
            };
            let _ = tx.send(Msg::worker(event));
        });
        self.jobs.insert(key, handle.abort_handle());
    }

    /// Stops everything in flight (quit).
    pub fn shutdown(&mut self) {
        for (_, h) in self.jobs.drain().chain(self.logins.drain()) {
            h.abort();
        }
    }
}

/// The record as stored now, for the table; `None` also when it cannot be read (the failure that
/// led here is what the row shows).
async fn load_meta(engine: &Engine, name: &str) -> Option<RecordMeta> {
    engine
        .load(name)
        .await
        .ok()
        .flatten()
        .as_ref()
        .map(TokenRecord::meta)
}

/// Notices records changed by anyone. Cheap when nothing changed: one `stat` of the store
/// directory, whose mtime moves on every atomic write (a rename into it).
pub struct StorePoller {
    store: Store,
    /// The profiles polled: the config's own list, not a copy of ten thousand names.
    config: Arc<Config>,
    dir_mtime: Option<SystemTime>,
    /// Per profile, in the config's order.
    file_mtimes: Vec<Option<SystemTime>>,
    first: bool,
}

impl StorePoller {
    pub fn new(store: Store, config: Arc<Config>) -> StorePoller {
        StorePoller {
            store,
            file_mtimes: vec![None; config.profiles.len()],
            config,
            dir_mtime: None,
            first: true,
        }
    }

    fn mtime(path: &PathBuf) -> Option<SystemTime> {
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    /// The records whose files changed since the last poll (all of them the first time), each
    /// reduced to its meta as soon as it is read.
    pub fn poll(&mut self) -> Vec<(String, Option<RecordMeta>)> {
        let dir_mtime = Self::mtime(&self.store.dir().to_path_buf());
        if !self.first && dir_mtime == self.dir_mtime {
            return Vec::new();
        }
        self.dir_mtime = dir_mtime;
        let first = std::mem::replace(&mut self.first, false);
        if first {
            let removed = self.store.remove_stale_temporaries();
            if removed > 0 {
                tracing::info!(
                    removed,
                    "removed temporary files left by interrupted writes"
                );
            }
        }
        let mut changes = Vec::new();
        for (profile, seen) in self.config.profiles.iter().zip(&mut self.file_mtimes) {
            let name = &profile.name;
            let mtime = Self::mtime(&self.store.record_path(name));
            if !first && *seen == mtime {
                continue;
            }
            *seen = mtime;
            match self.store.load(name) {
                Ok(record) => changes.push((name.clone(), record.as_ref().map(TokenRecord::meta))),
                Err(e) => tracing::warn!(profile = name.as_str(), "cannot read the record: {e}"),
            }
        }
        changes
    }
}
