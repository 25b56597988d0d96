//! The worker runs the dashboard's effects: HTTP through the engine, store reads and writes.
//! Every effect becomes a task; results come back to the runner as `Msg::Worker`. Nothing here
//! blocks the caller: `run` only spawns.
//!
//! Records go back to the dashboard as [`RecordMeta`], made the moment a record is in hand, so
//! the token values of ten thousand profiles are never held at once. Token values go back only
//! when asked for one profile: the details pane, a copy.

use crate::app::{Effect, Msg, WorkerEvent};
use crate::engine::{Engine, RefreshMode, StoreWatch};
use crate::store::TokenRecord;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

pub struct Worker {
    engine: Arc<Engine>,
    tx: UnboundedSender<Msg>,
    /// In-flight work per profile, aborted on quit.
    jobs: HashMap<String, AbortHandle>,
    logins: HashMap<String, AbortHandle>,
    /// Where a browser login takes the addresses pasted into its popup.
    pastes: HashMap<String, tokio::sync::mpsc::UnboundedSender<String>>,
    poller: Arc<Mutex<StoreWatch>>,
    polling: Arc<AtomicBool>,
    /// A poll has answered: the first answer is sent even when it found nothing, since it
    /// tells the dashboard the store has been read.
    answered: Arc<AtomicBool>,
}

impl Worker {
    pub fn new(engine: Arc<Engine>, tx: UnboundedSender<Msg>) -> Worker {
        let poller = engine.watch();
        Worker {
            engine,
            tx,
            jobs: HashMap::new(),
            logins: HashMap::new(),
            pastes: HashMap::new(),
            poller: Arc::new(Mutex::new(poller)),
            polling: Arc::new(AtomicBool::new(false)),
            answered: Arc::new(AtomicBool::new(false)),
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
                        Ok(revoked) => {
                            let record = Some(revoked.record.meta());
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
                let answered = self.answered.clone();
                tokio::task::spawn_blocking(move || {
                    let polled = poller.lock().map(|mut p| p.poll()).unwrap_or_default();
                    polling.store(false, Ordering::Release);
                    let mut changes = Vec::new();
                    let mut unusable = Vec::new();
                    for (name, read) in polled {
                        match read {
                            Ok(record) => changes.push((name, record)),
                            Err(problem) => unusable.push((name, problem)),
                        }
                    }
                    // Refused records first: the answer that marks the store read finds them.
                    if !unusable.is_empty() {
                        send(WorkerEvent::RecordsUnusable(unusable));
                    }
                    let first = !answered.swap(true, Ordering::AcqRel);
                    if first || !changes.is_empty() {
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
                let (paste_tx, pasted) = tokio::sync::mpsc::unbounded_channel();
                self.pastes.insert(key.clone(), paste_tx);
                let handle = tokio::spawn(async move {
                    let result = login(&engine, &name, pasted, send.clone()).await;
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
            Effect::PasteCallback { name, text } => {
                if let Some(tx) = self.pastes.get(&name) {
                    let _ = tx.send(text);
                }
            }
            Effect::CancelLogin { name } => {
                // Aborting drops the poll in flight: its request stops with it.
                self.pastes.remove(&name);
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
                    outcome: r.outcome,
                },
                Err(failed) => WorkerEvent::RefreshFailed {
                    name,
                    error: failed.error.detail(),
                    transient: failed.error.is_transient(),
                    retry_after: failed
                        .error
                        .retry_after
                        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                    record: failed.record.as_deref().map(TokenRecord::meta),
                },
            };
            let _ = tx.send(Msg::worker(event));
        });
        self.jobs.insert(key, handle.abort_handle());
    }

    /// Stops everything in flight (quit).
    ///
    /// (Aborting a browser login drops its listener, which closes the port.)
    pub fn shutdown(&mut self) {
        for (_, h) in self.jobs.drain().chain(self.logins.drain()) {
            h.abort();
        }
    }
}

/// A login by the profile's method: the device flow, or the browser login fed by the popup's
/// pastes. Prompts and notices go to the dashboard as they come.
async fn login(
    engine: &Engine,
    name: &str,
    pasted: tokio::sync::mpsc::UnboundedReceiver<String>,
    send: impl Fn(WorkerEvent) + Clone,
) -> Result<TokenRecord, crate::engine::EngineError> {
    use crate::config::LoginMethod;
    use crate::engine::{BrowserEvent, BrowserOptions};
    match engine.login_method(name, None).await? {
        LoginMethod::Device => {
            let send = send.clone();
            engine
                .login(name, |prompt| {
                    send(WorkerEvent::LoginPrompt {
                        name: name.to_string(),
                        prompt,
                    })
                })
                .await
        }
        LoginMethod::Browser => {
            engine
                .browser_login(name, BrowserOptions::default(), pasted, |event| {
                    send(match event {
                        BrowserEvent::Prompt(prompt) => WorkerEvent::BrowserLoginPrompt {
                            name: name.to_string(),
                            prompt,
                        },
                        BrowserEvent::Rejected(message) => WorkerEvent::LoginNotice {
                            name: name.to_string(),
                            message,
                        },
                    })
                })
                .await
        }
    }
}
