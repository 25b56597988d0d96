//! The team store: records in a KV v2 mount on OpenBao (or Vault), shared by every host of a
//! team (SPEC.md "Team store"). See README "Team store" for the layout a policy must allow.
//!
//! Layout under `<mount>` and `<prefix>`:
//! - `<prefix>/<name>`: the profile's entry, `{"record": <TokenRecord>, "nonce": "<this write's>",
//!   "lease": {…}}`: the record, and the profile's lease while someone holds it (`lease.rs`).
//!   Every write is a new KV version, made with check-and-set on the version this process read
//!   or wrote last; a refresh is a read, the lease's write, and the record's write that frees it.
//!
//! Every call blocks its caller until the store's own thread (`runner.rs`) has done the HTTP;
//! commands run them on blocking threads (`DiskWork::Offload`), so the command's one runtime
//! thread keeps driving the provider requests meanwhile.

mod client;
mod lease;
mod runner;
mod spill;

use super::{LockGuard, Stamp, StoreError, TokenRecord, TokenStore};
use crate::config::{BaoSettings, BaoTokenSource};
use crate::secret::Secret;
use client::{BaoError, Kv};
use runner::Runner;
use serde::Deserialize;
use spill::Spill;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the dashboard and the agent try again to bring spilled records to the server.
const SYNC_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct BaoStore {
    inner: Arc<Inner>,
}

struct Inner {
    runner: Arc<Runner>,
    kv: Arc<Kv>,
    address: String,
    mount: String,
    prefix: String,
    lock_ttl: Duration,
    /// Who this process is, in every lease it takes.
    holder: String,
    /// The lease this process writes into the entries it holds.
    lease: serde_json::Value,
    spill: Spill,
    /// Per profile, what this process last read or wrote: the version a save checks against,
    /// and which tokens that version holds (a save with other tokens is spilled if it fails).
    seen: Mutex<HashMap<String, Seen>>,
    /// The versions of the last listing (`store_stamp`), for `record_stamp`.
    listed: Mutex<Option<HashMap<String, u64>>>,
    /// The leases this process holds now, by profile.
    held: Arc<Mutex<HashMap<String, HeldProfile>>>,
    last_sync: Mutex<Option<Instant>>,
}

/// A profile whose lease this process holds, and its record as of the last read or write: the
/// record under the lease, which `load` gives without asking the server again.
struct HeldProfile {
    lease: Arc<lease::Held>,
    record: Option<TokenRecord>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    version: u64,
    tokens: u64,
}

impl std::fmt::Debug for BaoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaoStore")
            .field("address", &self.inner.address)
            .field("mount", &self.inner.mount)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

impl BaoStore {
    /// Opens the team store: reads the server token, sets up the client, and brings this
    /// host's spilled records to the server if there are any (any command does, so that a
    /// spilled refresh token reaches the team as soon as anything runs). `data_dir` holds the
    /// spill.
    pub fn open(
        settings: &BaoSettings,
        timeout: Duration,
        data_dir: &Path,
    ) -> Result<BaoStore, StoreError> {
        let address = settings.address.clone();
        let fail = |message: String| StoreError {
            message: format!("team store {address}: {message}"),
        };
        let token = server_token(&settings.token).map_err(fail)?;
        let http = crate::oauth::Http::new(timeout, settings.ca_file.as_deref()).map_err(fail)?;
        let kv = Kv::new(
            http.client().clone(),
            &settings.address,
            &settings.mount,
            settings.namespace.clone(),
            token,
            timeout,
        );
        let holder = lease::holder_id();
        let runner = Runner::start(timeout)
            .map_err(|e| fail(format!("cannot start the store's thread: {e}")))?;
        let store = BaoStore {
            inner: Arc::new(Inner {
                runner: Arc::new(runner),
                kv: Arc::new(kv),
                address: settings.address.clone(),
                mount: settings.mount.clone(),
                prefix: settings.prefix.clone(),
                lock_ttl: settings.lock_ttl,
                holder: holder.clone(),
                lease: lease::lease_value(&holder, settings.lock_ttl),
                spill: Spill::new(&data_dir.join("spill")),
                seen: Mutex::new(HashMap::new()),
                listed: Mutex::new(None),
                held: Arc::new(Mutex::new(HashMap::new())),
                last_sync: Mutex::new(None),
            }),
        };
        store.sync_spilled();
        Ok(store)
    }

    /// Where the records are, for people: the dashboard's header, `store migrate`.
    pub fn location(&self) -> String {
        format!(
            "OpenBao {} {}/{}",
            self.inner.address, self.inner.mount, self.inner.prefix
        )
    }

    fn record_key(&self, name: &str) -> String {
        format!("{}/{name}", self.inner.prefix)
    }

    fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, BaoError>> + Send + 'static,
    ) -> Result<T, BaoError> {
        self.inner
            .runner
            .run(work)
            .unwrap_or_else(|_| Err(BaoError::BadAnswer("the store's thread has stopped".into())))
    }

    /// The record as the server has it (no spill), with its version and the lease written in
    /// the entry (if any); remembered for `save`.
    fn read_team(
        &self,
        name: &str,
    ) -> Result<(Option<TokenRecord>, u64, Option<serde_json::Value>), StoreError> {
        let kv = self.inner.kv.clone();
        let key = self.record_key(name);
        let entry = self
            .run(async move { kv.read(&key).await })
            .map_err(|e| self.error(&e, &format!("cannot read {name}")))?;
        let data = entry.data.as_ref();
        let record = self.parse_record(name, data.and_then(|d| d.get("record")))?;
        self.remember(name, entry.version, record.as_ref());
        let lease = data.and_then(|d| d.get("lease")).cloned();
        Ok((record, entry.version, lease))
    }

    /// An entry's `record` field as a record; `None` for an entry without one (a lease taken
    /// on a profile that has never had a token).
    fn parse_record(
        &self,
        name: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<Option<TokenRecord>, StoreError> {
        let Some(json) = json else {
            return Ok(None);
        };
        let record = TokenRecord::deserialize(json).map_err(|e| StoreError {
            // Position only: serde's message may quote a token.
            message: format!(
                "team store {}: the record of {name} is not a tokdash record ({}); run: tokdash login {name}",
                self.inner.address,
                json_kind(&e)
            ),
        })?;
        Ok(Some(record))
    }

    fn remember(&self, name: &str, version: u64, record: Option<&TokenRecord>) {
        let tokens = record.map(fingerprint).unwrap_or(0);
        self.inner
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), Seen { version, tokens });
    }

    fn seen(&self, name: &str) -> Option<Seen> {
        self.inner
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .copied()
    }

    /// The lease this process holds on `name`, if it does.
    fn held(&self, name: &str) -> Option<Arc<lease::Held>> {
        self.held_profiles()
            .get(name)
            .map(|held| held.lease.clone())
    }

    fn held_profiles(&self) -> std::sync::MutexGuard<'_, HashMap<String, HeldProfile>> {
        self.inner.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `record` over version `cas` of the profile's entry (check-and-set), with `lease`
    /// in it when given (another holder's, kept as it is).
    fn write_team(
        &self,
        name: &str,
        record: &TokenRecord,
        cas: u64,
        lease: Option<&serde_json::Value>,
    ) -> Result<u64, BaoError> {
        let json = serde_json::to_value(record).map_err(|e| BaoError::BadAnswer(e.to_string()))?;
        let data = lease::entry_data(Some(&json), lease);
        let kv = self.inner.kv.clone();
        let key = self.record_key(name);
        let version = self.run(async move { kv.write_checked(&key, &data, cas).await })?;
        self.remember(name, version, Some(record));
        Ok(version)
    }

    /// Writes `record` into the entry whose lease this process holds, on the version it last
    /// wrote; the lease stays in it, or goes with this write when `release` (nothing else is
    /// left to do under it).
    fn write_held(
        &self,
        name: &str,
        held: &Arc<lease::Held>,
        record: &TokenRecord,
        release: bool,
    ) -> Result<u64, BaoError> {
        let json = serde_json::to_value(record).map_err(|e| BaoError::BadAnswer(e.to_string()))?;
        let kv = self.inner.kv.clone();
        let held = held.clone();
        let version = self.run(async move {
            let mut entry = held.entry.lock().await;
            let lease = (!release).then_some(&held.lease);
            let data = lease::entry_data(Some(&json), lease);
            let version = kv.write_checked(&held.key, &data, entry.version).await?;
            entry.version = version;
            entry.record = Some(json);
            entry.freed |= release;
            Ok(version)
        })?;
        self.remember(name, version, Some(record));
        if let Some(profile) = self.held_profiles().get_mut(name) {
            profile.record = Some(record.clone());
        }
        Ok(version)
    }

    /// A spilled record, under the profile's lease (`held`, just taken): written to the server
    /// unless the server's is newer (then the spill is dropped: a record written after ours was
    /// based on a later state of the family, and writing ours over it would lose that).
    fn sync_one(&self, name: &str, held: &Arc<lease::Held>, team: Option<&TokenRecord>) {
        let spilled = match self.inner.spill.get(name) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(profile = name, "{e}");
                return;
            }
        };
        let mut spilled = spilled;
        match spill_verdict(team, &spilled, self.inner.spill.base(name)) {
            SpillVerdict::AlreadyThere => {
                self.inner.spill.remove(name);
                return;
            }
            SpillVerdict::Superseded => {
                tracing::warn!(
                    profile = name,
                    team = team.map_or(0, |t| t.generation),
                    spilled = spilled.generation,
                    "the team store holds a newer record with other tokens than this host's spill; the spill is dropped"
                );
                self.inner.spill.remove(name);
                return;
            }
            SpillVerdict::Write => {
                if let Some(team) = team {
                    spilled.generation = spilled.generation.max(team.generation.saturating_add(1));
                }
            }
        }
        match self.write_held(name, held, &spilled, false) {
            Ok(_) => {
                self.inner.spill.remove(name);
                tracing::info!(profile = name, "spilled record written to the team store");
            }
            Err(e) => tracing::info!(profile = name, "spilled record not synced yet: {e:?}"),
        }
    }

    /// After a check-and-set conflict on a save under the lease, the record is read again and
    /// decides. Only a holder whose lease ran out (it held it past `lock_ttl`: paused, or cut
    /// off from the server) or a standby's stale copy gets here.
    ///
    /// - The team's record holds other tokens than the ones this save started from, and is as
    ///   new or newer: another host stored them after taking the lease over. Theirs stays and
    ///   ours is dropped with one line (not spilled): that host either spent the same refresh
    ///   token (the provider then revoked the family) or stored a new grant; either way ours is
    ///   not the one to keep.
    /// - It holds the same tokens (someone changed facts only, e.g. a refresh that failed before
    ///   reaching the provider, or nothing at all and the conflict came from a stale standby):
    ///   ours carries the only live refresh token, so it is written over that version, once,
    ///   leaving the lease in the entry as it is (another holder's stays theirs; ours goes with
    ///   this write when `release`).
    /// - Anything else (the server unreachable again, a second conflict) goes to the spill.
    fn after_conflict(
        &self,
        name: &str,
        record: &mut TokenRecord,
        seen: Seen,
        release: bool,
    ) -> Result<(), Option<StoreError>> {
        let (team, version, lease) = self.read_team(name).map_err(|_| None)?;
        let Some(team) = team else {
            return Err(None);
        };
        if fingerprint(&team) == seen.tokens {
            record.generation = record.generation.max(team.generation.saturating_add(1));
            let ours = lease
                .as_ref()
                .and_then(|l| l["holder"].as_str())
                .is_some_and(|h| h == self.inner.holder);
            let written = match self.held(name) {
                Some(held) if ours => {
                    let adopted = held.clone();
                    let _ = self.run(async move {
                        adopted.entry.lock().await.version = version;
                        Ok(())
                    });
                    self.write_held(name, &held, record, release)
                }
                _ => self.write_team(name, record, version, lease.as_ref()),
            };
            return match written {
                Ok(_) => {
                    self.inner.spill.remove(name);
                    tracing::info!(
                        profile = name,
                        "written over a record that changed only its facts meanwhile"
                    );
                    Ok(())
                }
                Err(_) => Err(None),
            };
        }
        if team.generation < record.generation {
            return Err(None);
        }
        self.inner.spill.remove(name);
        tracing::warn!(
            profile = name,
            team = team.generation,
            ours = record.generation,
            "another host stored a newer record while this process's lease had run out; ours is dropped"
        );
        Err(Some(StoreError {
            message: format!(
                "team store {}: cannot write {name}: another host stored a newer record of {name} after this process's lease ran out (held past lock_ttl: paused, or cut off from the server); that record stays and this process's new tokens are dropped; if this repeats, raise [store] lock_ttl",
                self.inner.address
            ),
        }))
    }

    /// `save`, on the lease when this process holds it (freeing it with the same write when
    /// `release`). If the server cannot take it and the record carries tokens the server does
    /// not have, the record goes to the spill, durably, and the save succeeds: the new refresh
    /// token is kept, and reaches the server later (`sync_one`).
    fn save_with(
        &self,
        name: &str,
        record: &mut TokenRecord,
        release: bool,
    ) -> Result<(), StoreError> {
        record.generation = record.generation.saturating_add(1);
        let seen = match self.seen(name) {
            Some(seen) => Ok(seen),
            None => self.read_team(name).map(|_| {
                self.seen(name).unwrap_or(Seen {
                    version: 0,
                    tokens: 0,
                })
            }),
        };
        let failure = match seen {
            Ok(seen) => {
                let written = match self.held(name) {
                    Some(held) => self.write_held(name, &held, record, release),
                    None => self.write_team(name, record, seen.version, None),
                };
                match written {
                    Ok(_) => {
                        self.inner.spill.remove(name);
                        return Ok(());
                    }
                    Err(BaoError::Conflict) => {
                        match self.after_conflict(name, record, seen, release) {
                            Ok(()) => return Ok(()),
                            Err(Some(superseded)) => return Err(superseded),
                            Err(None) => {
                                let e = BaoError::Conflict;
                                (self.error(&e, &format!("cannot write {name}")), Some(seen))
                            }
                        }
                    }
                    Err(e) => (self.error(&e, &format!("cannot write {name}")), Some(seen)),
                }
            }
            Err(e) => (e, None),
        };
        let (error, seen) = failure;
        let new_tokens = seen.is_none_or(|s| s.tokens != fingerprint(record));
        if !new_tokens {
            return Err(error);
        }
        let base = seen.map(|s| s.tokens);
        self.inner
            .spill
            .put(name, record, base)
            .map_err(|e| StoreError {
                message: format!("{error}; and the local spill failed too: {e}"),
            })?;
        tracing::warn!(
            profile = name,
            spill = %self.inner.spill.dir().display(),
            "{error}; the new tokens are kept in the local spill until the server takes them"
        );
        Ok(())
    }

    /// Brings every spilled record to the server, each under its lease; what cannot be done now
    /// stays spilled for the next process.
    pub fn sync_spilled(&self) {
        *self
            .inner
            .last_sync
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        for name in self.inner.spill.names() {
            // try_lock syncs the spill once it holds the lease, and the guard releases it.
            match self.try_lock(&name) {
                Ok(Some(_lease)) => {}
                Ok(None) => tracing::info!(profile = name.as_str(), "spill waits: lease held"),
                Err(e) => {
                    tracing::info!("spilled records not synced yet: {e}");
                    return;
                }
            }
        }
    }

    /// One line for people: the store, what failed, what to do.
    fn error(&self, e: &BaoError, doing: &str) -> StoreError {
        let inner = &self.inner;
        let (what, todo) = match e {
            BaoError::Down(why) => (
                format!("cannot connect ({why})"),
                "check that the server is up and that [store] address is right".to_string(),
            ),
            BaoError::Timeout(after) => (
                format!("no answer within {}", humantime::format_duration(*after)),
                "the server is stopped or overloaded; retry later".into(),
            ),
            BaoError::Cut(why) => (format!("the connection broke ({why})"), "retry".into()),
            BaoError::Sealed => (
                "the server is sealed".into(),
                "an operator must unseal it (bao operator unseal)".into(),
            ),
            BaoError::Denied => (
                "permission denied (HTTP 403)".into(),
                format!(
                    "check the server token (token_env/token_file, else BAO_TOKEN or VAULT_TOKEN) and that its policy allows {}/data/{}/* (README \"Team store\")",
                    inner.mount, inner.prefix
                ),
            ),
            BaoError::Leaderless => (
                "the cluster has no active node (failing over)".into(),
                "retry in a few seconds".into(),
            ),
            BaoError::ServerError(status, words) => (
                format!("the server failed (HTTP {status}: {words})"),
                "retry; if it persists, tell the server's operators".into(),
            ),
            BaoError::NoMount(words) => (
                format!("no KV v2 mount `{}` ({words})", inner.mount),
                "check [store] mount".into(),
            ),
            BaoError::Rejected(status, words) => (
                format!("the server refused (HTTP {status}: {words})"),
                "check [store] mount and prefix".into(),
            ),
            BaoError::Conflict => (
                "another host wrote the entry at the same time".into(),
                "retry".into(),
            ),
            BaoError::BadAnswer(words) => (
                format!("unexpected answer ({words})"),
                "check that [store] address is an OpenBao or Vault server".into(),
            ),
        };
        StoreError {
            message: format!("team store {}: {doing}: {what}; {todo}", inner.address),
        }
    }
}

impl TokenStore for BaoStore {
    /// This host's spilled record when there is one (it holds the newest tokens this host
    /// knows), else the record under this process's lease, else the server's.
    fn load(&self, name: &str) -> Result<Option<TokenRecord>, StoreError> {
        match self.inner.spill.get(name) {
            Ok(Some(record)) => return Ok(Some(record)),
            Ok(None) => {}
            Err(e) => return Err(StoreError { message: e }),
        }
        if let Some(held) = self.held_profiles().get(name) {
            return Ok(held.record.clone());
        }
        Ok(self.read_team(name)?.0)
    }

    /// Check-and-set on the version this process read or wrote last (under the lease, by the
    /// engine's rule), the lease kept in the entry until the guard goes.
    fn save(&self, name: &str, record: &mut TokenRecord) -> Result<(), StoreError> {
        self.save_with(name, record, false)
    }

    /// The save that frees the lease: one write instead of two.
    fn save_and_unlock(
        &self,
        name: &str,
        record: &mut TokenRecord,
        lock: LockGuard,
    ) -> Result<(), StoreError> {
        let saved = self.save_with(name, record, true);
        drop(lock);
        saved
    }

    fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError> {
        let kv = self.inner.kv.clone();
        let key = self.record_key(name);
        let lease = self.inner.lease.clone();
        let taken = self
            .run(async move { lease::take(&kv, &key, &lease).await })
            .map_err(|e| self.error(&e, &format!("cannot take the lease of {name}")))?;
        let Some(taken) = taken else {
            return Ok(None);
        };
        let held = Arc::new(taken.held);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let keeper = self.inner.runner.spawn(lease::keep(
            self.inner.kv.clone(),
            held.clone(),
            self.inner.lock_ttl,
            stopped,
        ));
        // From here on, an early return drops the guard, which frees the lease.
        let guard = Lease {
            stop: Some(stop),
            keeper: Some(keeper),
            runner: self.inner.runner.clone(),
            name: name.to_string(),
            held: held.clone(),
            held_profiles: self.inner.held.clone(),
        };
        let record = self.parse_record(name, taken.record.as_ref())?;
        self.remember(name, taken.version, record.as_ref());
        if self.inner.spill.has(name) {
            self.sync_one(name, &held, record.as_ref());
        }
        self.held_profiles().insert(
            name.to_string(),
            HeldProfile {
                lease: held,
                record,
            },
        );
        Ok(Some(LockGuard::new(guard)))
    }

    fn names(&self) -> Result<Vec<String>, StoreError> {
        let kv = self.inner.kv.clone();
        let prefix = self.inner.prefix.clone();
        let mut names = self
            .run(async move { kv.names(&prefix).await })
            .map_err(|e| self.error(&e, "cannot list the records"))?;
        names.extend(self.inner.spill.names());
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    /// One `LIST detailed-metadata` of the prefix (every record's version, ~25 ms for 1,000),
    /// whatever the number of profiles: what the dashboard's 1 s poll costs the server. Spilled
    /// records are tried again here, every few seconds, so a dashboard or an agent left running
    /// brings them to the server once it answers.
    fn store_stamp(&self) -> Option<Stamp> {
        let due = self
            .inner
            .last_sync
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|t| t.elapsed() >= SYNC_EVERY);
        let spilled = self.inner.spill.names();
        if due && !spilled.is_empty() {
            self.sync_spilled();
        }
        let kv = self.inner.kv.clone();
        let prefix = self.inner.prefix.clone();
        let listed = self.run(async move { kv.versions(&prefix).await });
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.inner.spill.names().hash(&mut hasher);
        match listed {
            Ok(versions) => {
                versions.hash(&mut hasher);
                *self.inner.listed.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(versions.into_iter().collect());
            }
            // Unreachable: a stamp of its own, and the records' stamps stay as they were, so a
            // poll reads nothing again (a thousand failing reads a second would help no one).
            Err(e) => {
                tracing::debug!("cannot list the team store: {e:?}");
                "unreachable".hash(&mut hasher);
            }
        }
        Some(Stamp::new(u128::from(hasher.finish())))
    }

    fn record_stamp(&self, name: &str) -> Option<Stamp> {
        let listed = self.inner.listed.lock().unwrap_or_else(|p| p.into_inner());
        let version = listed.as_ref()?.get(name).copied().unwrap_or(0);
        let spilled = u128::from(self.inner.spill.has(name));
        Some(Stamp::new(u128::from(version) << 1 | spilled))
    }

    fn unsynced(&self, name: &str) -> bool {
        self.inner.spill.has(name)
    }

    fn location(&self) -> Option<String> {
        Some(BaoStore::location(self))
    }
}

/// A held lease: dropping it stops the renewals and frees the lease (unless a save already
/// did), on the store's thread, without waiting; the process waits for that before it ends
/// (`Runner`'s drop).
struct Lease {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    keeper: Option<tokio::task::JoinHandle<()>>,
    runner: Arc<Runner>,
    name: String,
    held: Arc<lease::Held>,
    held_profiles: Arc<Mutex<HashMap<String, HeldProfile>>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        {
            let mut held = self.held_profiles.lock().unwrap_or_else(|p| p.into_inner());
            if held
                .get(&self.name)
                .is_some_and(|h| Arc::ptr_eq(&h.lease, &self.held))
            {
                held.remove(&self.name);
            }
        }
        drop(self.stop.take());
        if let Some(keeper) = self.keeper.take() {
            self.runner.keep(keeper);
        }
    }
}

/// What a spilled record's sync does, given the team's record under the lease.
#[derive(Debug, PartialEq, Eq)]
enum SpillVerdict {
    /// The team already holds the spilled tokens (the write that failed had landed after all).
    AlreadyThere,
    /// The team holds other tokens, stored later: another host's newer state of the family.
    Superseded,
    Write,
}

/// A spill carries the only live refresh token unless the team already has it or moved on
/// without it. `base` (the tokens the spilled refresh started from) tells "moved on" from
/// "changed facts only": a team record that still holds the base tokens, whatever its
/// generation (a refresh that failed before reaching the provider, a standing changed), is
/// written over; without a base, a record as new as the spill is taken as moved on.
fn spill_verdict(
    team: Option<&TokenRecord>,
    spilled: &TokenRecord,
    base: Option<u64>,
) -> SpillVerdict {
    let Some(team) = team else {
        return SpillVerdict::Write;
    };
    let tokens = fingerprint(team);
    if tokens == fingerprint(spilled) {
        SpillVerdict::AlreadyThere
    } else if base == Some(tokens) || team.generation < spilled.generation {
        SpillVerdict::Write
    } else {
        SpillVerdict::Superseded
    }
}

/// Which tokens a record holds, to tell "new tokens" from "the same tokens, new facts". Kept in
/// spill files (`Spill::base`), so the same in every process and version: the first 8 bytes of a
/// SHA-256 of both tokens.
fn fingerprint(record: &TokenRecord) -> u64 {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for token in [&record.access_token, &record.refresh_token] {
        match token.as_ref().map(Secret::expose) {
            Some(t) => {
                ctx.update(&[1]);
                ctx.update(&(t.len() as u64).to_le_bytes());
                ctx.update(t.as_bytes());
            }
            None => ctx.update(&[0]),
        }
    }
    let digest = ctx.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_le_bytes(first)
}

fn json_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Data => "a field has the wrong type",
        _ => "not a record",
    }
}

/// The server token: `token_file`'s first line, `token_env`'s variable, else `BAO_TOKEN`, else
/// `VAULT_TOKEN`. Never echoed in a message.
fn server_token(source: &BaoTokenSource) -> Result<Secret, String> {
    let from_env = |var: &str| std::env::var(var).ok().filter(|v| !v.trim().is_empty());
    let token = match source {
        BaoTokenSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!("cannot read the server token from token_file {}: {e}", path.display())
            })?;
            text.lines().next().map(str::trim).unwrap_or("").to_string()
        }
        BaoTokenSource::Env(var) => from_env(var)
            .ok_or_else(|| format!("no server token: ${var} (token_env) is not set"))?,
        BaoTokenSource::Default => from_env("BAO_TOKEN")
            .or_else(|| from_env("VAULT_TOKEN"))
            .ok_or_else(|| {
                "no server token: set BAO_TOKEN (or VAULT_TOKEN), or token_env or token_file in [store]"
                    .to_string()
            })?,
    };
    if token.is_empty() {
        return Err("the server token is empty".into());
    }
    Ok(Secret::new(token.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rt: &str, generation: u64) -> TokenRecord {
        TokenRecord {
            access_token: Some(Secret::new(format!("at-{rt}"))),
            refresh_token: Some(Secret::new(rt)),
            generation,
            ..TokenRecord::default()
        }
    }

    #[test]
    fn a_spill_is_written_over_a_team_record_that_changed_only_facts_since_its_refresh() {
        let base = record("rt1", 4);
        let spilled = record("rt2", 5);
        // Another host failed a refresh meanwhile (same tokens, two facts-only saves).
        let team = record("rt1", 7);
        assert_eq!(
            spill_verdict(Some(&team), &spilled, Some(fingerprint(&base))),
            SpillVerdict::Write,
            "the spill holds the only live token"
        );
        assert_eq!(
            spill_verdict(Some(&team), &spilled, None),
            SpillVerdict::Superseded,
            "without a base, generations decide"
        );
    }

    #[test]
    fn a_spill_gives_way_to_other_tokens_stored_later_and_goes_when_they_are_its_own() {
        let base = Some(fingerprint(&record("rt1", 4)));
        let spilled = record("rt2", 5);
        assert_eq!(
            spill_verdict(Some(&record("rt9", 6)), &spilled, base),
            SpillVerdict::Superseded
        );
        assert_eq!(
            spill_verdict(Some(&record("rt9", 3)), &spilled, base),
            SpillVerdict::Write,
            "other tokens, but older than the spill"
        );
        assert_eq!(
            spill_verdict(Some(&record("rt2", 5)), &spilled, base),
            SpillVerdict::AlreadyThere
        );
        assert_eq!(spill_verdict(None, &spilled, base), SpillVerdict::Write);
    }

    #[test]
    fn fingerprints_tell_tokens_apart_and_are_stable() {
        assert_eq!(fingerprint(&record("a", 1)), fingerprint(&record("a", 2)));
        assert_ne!(fingerprint(&record("a", 1)), fingerprint(&record("b", 1)));
        let mut no_access = record("a", 1);
        no_access.access_token = None;
        assert_ne!(fingerprint(&no_access), fingerprint(&record("a", 1)));
        // Kept in spill files: the same value in every process and version.
        assert_eq!(fingerprint(&TokenRecord::default()), 0xc685_f224_d296_a296);
    }
}
