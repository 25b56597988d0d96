//! The engine: one refresh path, one lock, one store, shared by the command line and the
//! dashboard (`tokdash token` and the `r` key end up in [`Engine::refresh`]).
//!
//! The engine owns every round trip to the store, which it knows only as a [`TokenStore`]:
//! commands and the dashboard's worker ask the engine, and get back what it stored.

mod browser_login;
mod call;
mod check;
mod error;
mod id_token;
mod login;
mod publish;
mod refresh;
mod revoke;
#[cfg(test)]
mod tests;
mod watch;

pub use crate::oauth::device::LoginPrompt;
pub use browser_login::{BROWSER_LOGIN_LIMIT, BrowserEvent, BrowserOptions, BrowserPrompt};
pub use call::{ApiRequest, ApiResponse};
pub use check::CheckReport;
pub use error::{EngineError, ErrorKind, exchange_error};
pub use publish::{Notices, stderr_notices};
pub use refresh::{RefreshFailed, RefreshMode, RefreshOutcome, Refreshed};
pub use revoke::Revoked;
pub use watch::{Polled, StoreWatch};

use crate::config::{Config, Profile, ProviderConfig};
use crate::oauth::discovery::Discovery;
use crate::oauth::{ClientAuth, Http};
use crate::provider::{self, Endpoints};
use crate::secret::Secret;
use crate::store::{LocalCache, LockGuard, TokenRecord, TokenStore};
use std::sync::Arc;
use tokio::sync::Semaphore;

pub struct Engine {
    config: Arc<Config>,
    /// Every read and write of a record goes through here: no caller of the engine touches it.
    store: Arc<dyn TokenStore>,
    /// Where the discovery documents are kept between runs; none in memory-only engines.
    cache: Option<LocalCache>,
    http: Http,
    discovery: Discovery,
    /// `max_concurrency` requests in flight at once, whatever asks for them.
    permits: Arc<Semaphore>,
    disk: DiskWork,
    /// Where the warnings of token files and hooks go (see `publish.rs`).
    notices: Notices,
}

/// How often a held profile lock is tried again: soon at first (the holder is often a quick
/// refresh), then at most every 100 ms.
const LOCK_POLL_FIRST: std::time::Duration = std::time::Duration::from_millis(2);
const LOCK_POLL_MAX: std::time::Duration = std::time::Duration::from_millis(100);

/// Where the store's quick calls (reading a record, trying a lock, queueing a record for its
/// commit) run. The commits themselves (writes and fsyncs) always run on tokio's blocking
/// threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskWork {
    /// On blocking threads too: the dashboard's worker never stalls on a slow disk.
    Offload,
    /// On the calling thread: a command has nothing else to keep responsive, and a hand-off to
    /// another thread costs more than reading a small file (two context switches and wake-ups
    /// per call, most of the client's CPU in `refresh --all`).
    Inline,
}

impl Engine {
    pub fn new(config: Arc<Config>, store: impl TokenStore) -> Result<Engine, EngineError> {
        let http = Http::new(config.settings.timeout, config.settings.ca_file.as_deref())
            .map_err(|e| EngineError::new("settings", ErrorKind::Config, e))?;
        let permits = Arc::new(Semaphore::new(config.settings.max_concurrency));
        Ok(Engine {
            config,
            store: Arc::new(store),
            cache: None,
            http,
            discovery: Discovery::default(),
            permits,
            disk: DiskWork::Offload,
            notices: stderr_notices(),
        })
    }

    pub fn with_disk_work(mut self, disk: DiskWork) -> Engine {
        self.disk = disk;
        self
    }

    /// Sends the warnings of token files and `on_refresh` hooks to `notices` instead of stderr.
    pub fn with_notices(mut self, notices: Notices) -> Engine {
        self.notices = notices;
        self
    }

    /// Keeps the discovery documents in `cache` between runs.
    pub fn with_cache(mut self, cache: LocalCache) -> Engine {
        self.cache = Some(cache);
        self
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Watches the store for records changed by anyone (the dashboard's poll).
    pub fn watch(&self) -> StoreWatch {
        StoreWatch::new(self.store.clone(), self.config.clone())
    }

    /// The record `load` gives is newer than the team store's (spilled on this host).
    pub fn unsynced(&self, name: &str) -> bool {
        self.store.unsynced(name)
    }

    /// Where the records are, when worth saying (a team store): the dashboard's header.
    pub fn store_location(&self) -> Option<String> {
        self.store.location()
    }

    /// Runs a quick store call where [`DiskWork`] says.
    async fn on_disk<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self.disk {
            DiskWork::Offload => blocking(f).await,
            DiskWork::Inline => f(),
        }
    }

    pub fn profile(&self, name: &str) -> Result<&Profile, EngineError> {
        self.config.profile(name).ok_or_else(|| {
            EngineError::new(name, ErrorKind::Config, "no such profile in the config")
        })
    }

    /// Where this profile's requests go: the provider's defaults or discovery, then overrides.
    pub async fn endpoints(&self, profile: &Profile) -> Result<Endpoints, EngineError> {
        if let Some(e) = provider::static_endpoints(profile) {
            return Ok(e);
        }
        let ProviderConfig::Oidc { issuer } = &profile.provider else {
            unreachable!("only oidc profiles lack static endpoints");
        };
        self.discovered_endpoints(profile, issuer).await
    }

    /// The endpoints of `issuer`'s discovery document (cached), with the profile's overrides.
    async fn discovered_endpoints(
        &self,
        profile: &Profile,
        issuer: &str,
    ) -> Result<Endpoints, EngineError> {
        let _permit = self.permits.acquire().await;
        let found = self
            .discovery
            .endpoints(
                &self.http,
                self.config.settings.timeout,
                self.cache.as_ref(),
                issuer,
            )
            .await
            .map_err(|e| EngineError::new(&profile.name, ErrorKind::Transient, e))?;
        Ok(provider::with_overrides(found, profile))
    }

    /// The profile's endpoints and the URL of one the operation cannot do without (`pick`
    /// chooses it), or a config error that says what to set (`missing`).
    async fn required_endpoint(
        &self,
        profile: &Profile,
        pick: fn(&Endpoints) -> &Option<String>,
        missing: &str,
    ) -> Result<(Endpoints, String), EngineError> {
        let endpoints = self.endpoints(profile).await?;
        let url = pick(&endpoints)
            .clone()
            .ok_or_else(|| EngineError::new(&profile.name, ErrorKind::Config, missing))?;
        Ok((endpoints, url))
    }

    /// The client's credentials; a secret command runs here, off the async threads.
    async fn client_auth(&self, profile: &Profile) -> Result<ClientAuth, EngineError> {
        let source = profile.client_secret.clone();
        let resolved = if source.may_block() {
            blocking(move || source.resolve()).await
        } else {
            source.resolve()
        };
        let secret: Option<Secret> = resolved
            .map_err(|e| EngineError::new(&profile.name, ErrorKind::Config, e.to_string()))?;
        Ok(ClientAuth {
            client_id: profile.client_id.clone(),
            secret,
            method: profile.auth_method,
        })
    }

    pub async fn load(&self, name: &str) -> Result<Option<TokenRecord>, EngineError> {
        let store = self.store.clone();
        let owned = name.to_string();
        self.on_disk(move || store.load(&owned))
            .await
            .map_err(|e| store_error(name, e))
    }

    async fn save(&self, name: &str, record: &mut TokenRecord) -> Result<(), EngineError> {
        self.save_then(name, record, None).await
    }

    /// [`Engine::save`], then the lock released: one step on a team store.
    async fn save_and_unlock(
        &self,
        name: &str,
        record: &mut TokenRecord,
        lock: LockGuard,
    ) -> Result<(), EngineError> {
        self.save_then(name, record, Some(lock)).await
    }

    /// The save, releasing `unlock` once it is durable when given; `record` gets the saved
    /// generation. A command awaits the disk on its own thread where the store can
    /// ([`TokenStore::start_save`]); otherwise the save runs on a blocking thread (it waits for
    /// the disk or the team store).
    async fn save_then(
        &self,
        name: &str,
        record: &mut TokenRecord,
        unlock: Option<LockGuard>,
    ) -> Result<(), EngineError> {
        if self.disk == DiskWork::Inline {
            let generation = record.generation;
            // Other requests in flight (this one's permit is back): their answers will be
            // saved right behind this record, and may share its commit.
            let more_coming =
                self.permits.available_permits() < self.config.settings.max_concurrency;
            if let Some(started) = self.store.start_save(name, record, more_coming) {
                let saved = match started {
                    Ok(pending) => pending.durable().await,
                    Err(e) => Err(e),
                };
                // The lock goes only now that the record is durable (or failed to be).
                drop(unlock);
                if saved.is_err() {
                    record.generation = generation;
                }
                return saved.map_err(|e| store_error(name, e));
            }
        }
        let store = self.store.clone();
        let owned = name.to_string();
        let mut copy = record.clone();
        let saved = blocking(move || {
            match unlock {
                Some(lock) => store.save_and_unlock(&owned, &mut copy, lock),
                None => store.save(&owned, &mut copy),
            }
            .map(|()| copy)
        })
        .await;
        *record = saved.map_err(|e| store_error(name, e))?;
        Ok(())
    }

    /// Waits for the profile's lock, then reads the record again under it (another process may
    /// have changed it while we waited).
    ///
    /// A held lock is waited for by trying again on a timer, never by a thread parked in
    /// `flock`: the holder may be this very process, whose `save` needs one of the few blocking
    /// threads that parked waiters would occupy (a deadlock, with two `refresh --all` at once).
    async fn lock_and_load(&self, name: &str) -> Result<(LockGuard, TokenRecord), EngineError> {
        let mut pause = LOCK_POLL_FIRST;
        loop {
            let store = self.store.clone();
            let owned = name.to_string();
            // The lock and the read under it in one call: on a team store each call is a hop to
            // a blocking thread and to the store's thread and back (bench/team_store.sh).
            let taken = self
                .on_disk(move || {
                    let Some(lock) = store.try_lock(&owned)? else {
                        return Ok(None);
                    };
                    let record = store.load(&owned)?;
                    Ok(Some((lock, record)))
                })
                .await
                .map_err(|e| store_error(name, e))?;
            if let Some((lock, record)) = taken {
                return Ok((lock, record.unwrap_or_default()));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LOCK_POLL_MAX);
        }
    }

    /// A valid access token: the stored one when it is not within `refresh_ahead` of expiry,
    /// else a refreshed one. What `tokdash token` prints.
    pub async fn access_token(&self, name: &str) -> Result<AccessToken, EngineError> {
        self.access_token_with(name, None).await
    }

    /// [`Engine::access_token`], with `--min-valid`: when `min_valid` is given, the token is
    /// refreshed when less than that is left, instead of by the due rule. At most one refresh,
    /// under the lock (where the record is read again: another process's refresh counts). A
    /// fresh token that still has less than `min_valid` is handed out as it is; the caller warns.
    ///
    /// When the refresh fails but the stored access token has not expired yet, that token is
    /// returned with the failure beside it: a script is better served by a token that works for
    /// a few more minutes (and a warning) than by none.
    pub async fn access_token_with(
        &self,
        name: &str,
        min_valid: Option<std::time::Duration>,
    ) -> Result<AccessToken, EngineError> {
        let profile = self.profile(name)?;
        let mode = match min_valid {
            Some(d) => RefreshMode::MinValid {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            },
            None => RefreshMode::IfNeeded,
        };
        let record = self.load(name).await?;
        let now = crate::clock::now();
        if let Some(record) = &record
            && mode.fresh(record, profile, now)
            && let Some(at) = &record.access_token
        {
            return Ok(AccessToken::fresh(at.clone(), record));
        }
        match self.refresh(name, mode).await {
            Ok(refreshed) => {
                let record = &refreshed.record;
                record
                    .access_token
                    .clone()
                    .map(|at| AccessToken::fresh(at, record))
                    .ok_or_else(|| {
                        EngineError::new(
                            name,
                            ErrorKind::Refused,
                            "the token endpoint sent no access_token",
                        )
                    })
            }
            Err(RefreshFailed { error: e, .. }) => match record {
                Some(r)
                    if r.expires_at.is_none_or(|at| at > now)
                        && !matches!(e.kind, ErrorKind::Store) =>
                {
                    // A failed refresh leaves the access token and its expiry as they were.
                    match &r.access_token {
                        Some(token) => {
                            let mut given = AccessToken::fresh(token.clone(), &r);
                            given.failed_refresh = Some(e);
                            Ok(given)
                        }
                        None => Err(e),
                    }
                }
                _ => Err(e),
            },
        }
    }

    /// Refreshes every profile named, at once, and returns the results in the same order; the
    /// semaphore keeps `max_concurrency` requests in flight over the one connection pool.
    pub async fn refresh_many(
        self: &Arc<Self>,
        names: &[String],
        mode: RefreshMode,
    ) -> Vec<Result<Refreshed, RefreshFailed>> {
        // `max_concurrency` requests in flight, and room for the profiles whose records wait
        // for their commit meanwhile: a commit gathers what arrives over ~10 ms
        // (store/atomic.rs), and its writers hold their slot (and lock) until it is durable,
        // so with fewer slots the requests would stall behind the commits. Still bounded:
        // hundreds of profiles do not hold hundreds of locks at once.
        let jobs = Arc::new(Semaphore::new(
            self.config.settings.max_concurrency * PROFILES_UNDER_WAY_PER_REQUEST,
        ));
        let mut set = tokio::task::JoinSet::new();
        for (i, name) in names.iter().enumerate() {
            let engine = self.clone();
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
        let reported: Vec<_> = results.into_iter().flatten().collect();
        assert_eq!(reported.len(), names.len(), "every task reports");
        reported
    }
}

/// Profiles [`Engine::refresh_many`] keeps under way per request in flight (BENCHMARKS.md,
/// issue 15: 2 stalled the requests once commits gathered 10 ms; 8 and more ran at the same
/// pace).
const PROFILES_UNDER_WAY_PER_REQUEST: usize = 8;

/// What [`Engine::access_token`] hands out.
#[derive(Debug)]
pub struct AccessToken {
    pub token: Secret,
    /// The token's expiry, unix seconds, when known.
    pub expires_at: Option<i64>,
    /// `token_type` and `scope` as the token endpoint sent them.
    pub token_type: Option<String>,
    pub scope: Option<String>,
    /// The record's generation when the token was read: a refresh after a 401 passes it as
    /// `seen_generation`, so another process's refresh meanwhile is not repeated.
    pub generation: u64,
    /// The refresh that failed, when the stored token (not yet expired) is handed out instead.
    pub failed_refresh: Option<EngineError>,
}

impl AccessToken {
    /// The record's id token, its expiry its own JWT `exp` (see `id_token.rs`).
    fn fresh_id_token(token: Secret, record: &TokenRecord) -> AccessToken {
        AccessToken {
            expires_at: id_token::id_expiry(record),
            ..AccessToken::fresh(token, record)
        }
    }

    fn fresh(token: Secret, record: &TokenRecord) -> AccessToken {
        AccessToken {
            token,
            expires_at: record.expires_at,
            token_type: record.token_type.clone(),
            scope: record.scope.clone(),
            generation: record.generation,
            failed_refresh: None,
        }
    }
}

fn store_error(profile: &str, e: crate::store::StoreError) -> EngineError {
    // A team store's server that cannot be reached now is a transient failure (exit 1), like a
    // provider's; a local store that cannot be used stays a store error (exit 2).
    let kind = if e.from_server() {
        ErrorKind::Transient
    } else {
        ErrorKind::Store
    };
    EngineError::new(profile, kind, e.to_string())
}

/// Runs blocking work (disk, a secret command) off the async threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
