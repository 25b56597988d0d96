//! The engine: one refresh path, one lock, one store, shared by the command line and the
//! dashboard (`tokdash token` and the `r` key end up in [`Engine::refresh`]).

mod check;
mod error;
mod login;
mod refresh;
mod revoke;

pub use check::CheckReport;
pub use error::{EngineError, FailureKind};
pub use login::{DEVICE_CODE_GRANT, LoginPrompt, parse_device_authorization};
pub use refresh::{RefreshMode, Refreshed};
pub use revoke::Revoked;

use crate::config::{Config, Profile, ProviderConfig};
use crate::oauth::discovery::Discovery;
use crate::oauth::{ClientAuth, Http};
use crate::provider::{self, Endpoints};
use crate::secret::Secret;
use crate::store::{Store, TokenRecord};
use std::sync::Arc;
use tokio::sync::Semaphore;

pub struct Engine {
    pub config: Arc<Config>,
    pub store: Store,
    http: Http,
    discovery: Discovery,
    /// `max_concurrency` requests in flight at once, whatever asks for them.
    permits: Arc<Semaphore>,
    disk: DiskWork,
}

/// How often a held profile lock is tried again: soon at first (the holder is often a quick
/// refresh), then at most every 100 ms.
const LOCK_POLL_FIRST: std::time::Duration = std::time::Duration::from_millis(2);
const LOCK_POLL_MAX: std::time::Duration = std::time::Duration::from_millis(100);

/// Where the store's quick calls (reading a record, trying a lock) run. Writes always go to
/// tokio's blocking threads, where their fsyncs overlap.
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
    pub fn new(config: Arc<Config>, store: Store) -> Result<Engine, EngineError> {
        let http = Http::new(config.settings.timeout, config.settings.ca_file.as_deref())
            .map_err(|e| EngineError::new("settings", FailureKind::Config, e))?;
        let permits = Arc::new(Semaphore::new(config.settings.max_concurrency));
        Ok(Engine {
            config,
            store,
            http,
            discovery: Discovery::default(),
            permits,
            disk: DiskWork::Offload,
        })
    }

    pub fn with_disk_work(mut self, disk: DiskWork) -> Engine {
        self.disk = disk;
        self
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
            EngineError::new(name, FailureKind::Config, "no such profile in the config")
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
        let _permit = self.permits.acquire().await;
        let found = self
            .discovery
            .endpoints(
                &self.http,
                self.config.settings.timeout,
                &self.store,
                issuer,
            )
            .await
            .map_err(|e| EngineError::new(&profile.name, FailureKind::Transient, e))?;
        Ok(provider::with_overrides(found, profile))
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
            .map_err(|e| EngineError::new(&profile.name, FailureKind::Config, e.to_string()))?;
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
        let store = self.store.clone();
        let owned = name.to_string();
        let mut copy = record.clone();
        let saved = blocking(move || store.save(&owned, &mut copy).map(|()| copy)).await;
        *record = saved.map_err(|e| store_error(name, e))?;
        Ok(())
    }

    /// Waits for the profile's lock, then reads the record again under it (another process may
    /// have changed it while we waited).
    ///
    /// A held lock is waited for by trying again on a timer, never by a thread parked in
    /// `flock`: the holder may be this very process, whose `save` needs one of the few blocking
    /// threads that parked waiters would occupy (a deadlock, with two `refresh --all` at once).
    async fn lock_and_load(
        &self,
        name: &str,
    ) -> Result<(crate::store::ProfileLock, TokenRecord), EngineError> {
        let mut pause = LOCK_POLL_FIRST;
        let lock = loop {
            let store = self.store.clone();
            let owned = name.to_string();
            let free = self
                .on_disk(move || store.try_lock(&owned))
                .await
                .map_err(|e| store_error(name, e))?;
            if let Some(lock) = free {
                break lock;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LOCK_POLL_MAX);
        };
        let record = self.load(name).await?.unwrap_or_default();
        Ok((lock, record))
    }

    /// A valid access token: the stored one when it is not within `refresh_ahead` of expiry,
    /// else a refreshed one. What `tokdash token` prints.
    ///
    /// When the refresh fails but the stored access token has not expired yet, that token is
    /// returned with the failure beside it: a script is better served by a token that works for
    /// a few more minutes (and a warning) than by none.
    pub async fn access_token(
        &self,
        name: &str,
    ) -> Result<(Secret, Option<EngineError>), EngineError> {
        let profile = self.profile(name)?;
        let record = self.load(name).await?;
        let now = crate::clock::now();
        if let Some(record) = &record
            && record.standing == crate::store::Standing::Active
            && !crate::status::needs_refresh(&record.meta(), profile.refresh_ahead, now)
            && let Some(at) = &record.access_token
        {
            return Ok((at.clone(), None));
        }
        match self.refresh(name, RefreshMode::IfNeeded).await {
            Ok(refreshed) => refreshed
                .record
                .access_token
                .map(|at| (at, None))
                .ok_or_else(|| {
                    EngineError::new(
                        name,
                        FailureKind::Refused,
                        "the token endpoint sent no access_token",
                    )
                }),
            Err(e) => match record {
                Some(r)
                    if r.expires_at.is_none_or(|at| at > now)
                        && !matches!(e.kind, FailureKind::Store) =>
                {
                    r.access_token.map(|at| (at, Some(e.clone()))).ok_or(e)
                }
                _ => Err(e),
            },
        }
    }
}

pub fn store_error(profile: &str, e: crate::store::StoreError) -> EngineError {
    EngineError::new(profile, FailureKind::Store, e.to_string())
}

/// Runs blocking work (disk, a secret command) off the async threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
