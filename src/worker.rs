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
use std::path::Path;
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
                    if !changes.is_empty() {
                        send(WorkerEvent::StoreChanged(changes));
                    }
                    if !unusable.is_empty() {
                        send(WorkerEvent::RecordsUnusable(unusable));
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
/// directory, whose mtime moves on every atomic write (a rename into it), and a read of each
/// record the store refused last time (a `chmod` or an edit in place moves no directory mtime,
/// and the row must clear once its record is fixed).
pub struct StorePoller {
    store: Store,
    /// The profiles polled: the config's own list, not a copy of ten thousand names.
    config: Arc<Config>,
    dir_mtime: Option<SystemTime>,
    /// Per profile, in the config's order.
    file_mtimes: Vec<Option<SystemTime>>,
    /// The profiles (by index in the config) whose record was refused, with the words last
    /// reported; usually none.
    problems: HashMap<usize, String>,
    first: bool,
}

/// One record as a poll read it: `Ok(None)` when there is none, `Err` with the store's words
/// when the store refuses it.
pub type Polled = Result<Option<RecordMeta>, String>;

impl StorePoller {
    pub fn new(store: Store, config: Arc<Config>) -> StorePoller {
        StorePoller {
            store,
            file_mtimes: vec![None; config.profiles.len()],
            config,
            dir_mtime: None,
            problems: HashMap::new(),
            first: true,
        }
    }

    /// Of the path itself: a record that is a symbolic link is seen as one, dangling or not.
    fn mtime(path: &Path) -> Option<SystemTime> {
        std::fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .ok()
    }

    /// The records whose files changed since the last poll (all of them the first time), each
    /// reduced to its meta as soon as it is read; a refused record when it is first refused or
    /// its problem changes, and again as readable once it is.
    pub fn poll(&mut self) -> Vec<(String, Polled)> {
        let dir_mtime = std::fs::metadata(self.store.dir())
            .and_then(|m| m.modified())
            .ok();
        let dir_changed = self.first || dir_mtime != self.dir_mtime;
        if !dir_changed && self.problems.is_empty() {
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
        let to_read: Vec<usize> = if dir_changed {
            (0..self.config.profiles.len()).collect()
        } else {
            let mut troubled: Vec<usize> = self.problems.keys().copied().collect();
            troubled.sort_unstable();
            troubled
        };
        let mut changes = Vec::new();
        for i in to_read {
            let name = &self.config.profiles[i].name;
            let mtime = Self::mtime(&self.store.record_path(name));
            let troubled = self.problems.contains_key(&i);
            if !first && !troubled && self.file_mtimes[i] == mtime {
                continue;
            }
            self.file_mtimes[i] = mtime;
            match self.store.load(name) {
                Ok(record) => {
                    self.problems.remove(&i);
                    changes.push((name.clone(), Ok(record.as_ref().map(TokenRecord::meta))));
                }
                Err(e) => {
                    let problem = e.to_string();
                    if self.problems.get(&i) != Some(&problem) {
                        tracing::warn!(profile = name.as_str(), "cannot use the record: {problem}");
                        self.problems.insert(i, problem.clone());
                        changes.push((name.clone(), Err(problem)));
                    }
                }
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn config() -> Arc<Config> {
        let src = "[profiles.a]\nprovider = \"google\"\nclient_id = \"c\"\n\
                   [profiles.b]\nprovider = \"google\"\nclient_id = \"c\"\n";
        Arc::new(Config::parse(Path::new("p.toml"), src).unwrap())
    }

    fn names(polled: &[(String, Polled)]) -> Vec<(&str, bool)> {
        polled
            .iter()
            .map(|(n, r)| (n.as_str(), r.is_ok()))
            .collect()
    }

    #[test]
    fn a_refused_record_is_reported_once_and_again_as_soon_as_it_is_fixed() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = Store::open(tmp.path()).unwrap();
        store.save("a", &mut TokenRecord::default()).unwrap();
        let b = store.record_path("b");
        std::fs::write(&b, "not json").unwrap();
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut poller = StorePoller::new(store.clone(), config());

        let first = poller.poll();
        assert_eq!(names(&first), [("a", true), ("b", false)]);
        let problem = first[1].1.clone().unwrap_err();
        assert!(
            problem.starts_with(&format!("{}: the token record is not valid", b.display())),
            "{problem}"
        );
        assert!(
            poller.poll().is_empty(),
            "the same problem is not sent again"
        );

        // Fixed in place: the directory's mtime does not move, the next poll still sees it.
        let dir_mtime = std::fs::metadata(tmp.path()).unwrap().modified().unwrap();
        std::fs::write(&b, r#"{"generation": 3}"#).unwrap();
        assert_eq!(
            std::fs::metadata(tmp.path()).unwrap().modified().unwrap(),
            dir_mtime
        );
        let fixed = poller.poll();
        assert_eq!(names(&fixed), [("b", true)]);
        assert_eq!(fixed[0].1.as_ref().unwrap().as_ref().unwrap().generation, 3);
        assert!(poller.poll().is_empty());

        // Replaced by a link that dangles: seen as a change of the path, and refused.
        std::fs::remove_file(&b).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &b).unwrap();
        let linked = poller.poll();
        assert_eq!(names(&linked), [("b", false)]);
        assert!(
            linked[0]
                .1
                .as_ref()
                .unwrap_err()
                .contains("is a symbolic link"),
            "{linked:?}"
        );
    }
}
