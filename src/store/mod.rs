//! The token store: what the engine keeps per profile, behind one interface, [`TokenStore`].
//! See SPEC.md "Token store guarantees".
//!
//! The interface speaks of profile names and records only, never of paths or files. The file
//! store ([`FileStore`]) is the one tokdash runs on; [`MemoryStore`] is a second implementation
//! that the engine's unit tests use to check its lock and rotation rules without a disk.

mod atomic;
mod bao;
mod file;
mod lock;
mod memory;
mod record;

pub use atomic::{Replaced, write_token_file};
pub use bao::BaoStore;
pub use file::{FileStore, LocalCache, STALE_TEMPORARY};
pub use lock::ProfileLock;
pub use memory::MemoryStore;
pub use record::{LastError, RecordMeta, Standing, TokenRecord};

/// A store failure, in words for people: for the file store, the path of the file at fault and
/// what is wrong with it (tests assert the wording of each).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub message: String,
}

/// How every team store message starts (`team store <address>: …`).
pub const TEAM_STORE: &str = "team store ";

impl StoreError {
    /// A failure of the team store's server (down, sealed, failing over, a 403, a 5xx): the
    /// command could not reach what it needs, rather than a local store that cannot be used.
    pub fn from_server(&self) -> bool {
        self.message.starts_with(TEAM_STORE)
    }
}

/// Where the engine keeps records. Every call may block (on a disk, say): async callers run
/// them off their async threads.
///
/// The rules the engine builds on:
/// - `save` returns only once the record is durable: a crash after it leaves the new record.
///   A refresh that rotated the refresh token saves before anything else sees the response.
/// - `try_lock` is one holder per profile across every user of the same store (processes, for
///   the file store); the lock is released when the [`LockGuard`] is dropped.
pub trait TokenStore: Send + Sync + 'static {
    /// The stored record, or `None` when the profile has never had a token.
    fn load(&self, name: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Replaces the record atomically, bumping its generation.
    fn save(&self, name: &str, record: &mut TokenRecord) -> Result<(), StoreError>;

    /// `save`, then the lock released, for a save that is the last thing done under the lock.
    /// A team store makes it one step (the write that stores the record frees the lease: a
    /// request less per refresh); the record is durable before the lock goes either way.
    fn save_and_unlock(
        &self,
        name: &str,
        record: &mut TokenRecord,
        lock: LockGuard,
    ) -> Result<(), StoreError> {
        let saved = self.save(name, record);
        drop(lock);
        saved
    }

    /// `save` in two steps, for a caller that must not wait for the disk on its own thread (a
    /// command's one async thread): the record is encoded and queued for its commit now (its
    /// generation bumped), and is durable once the [`PendingSave`] resolves; hold the lock until
    /// then. `None`: this store has no such split (a team store waits on the network), so the
    /// caller runs `save` on a blocking thread. `more_coming`: the caller expects more saves
    /// right behind this one (it has other requests in flight), which the commit may wait a
    /// moment for, to make them durable together.
    fn start_save(
        &self,
        _name: &str,
        _record: &mut TokenRecord,
        _more_coming: bool,
    ) -> Option<Result<PendingSave, StoreError>> {
        None
    }

    /// Takes the profile's lock, or `None` when another holder has it. Never waits: the engine
    /// polls a held lock (see `Engine::lock_and_load` for why).
    fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError>;

    /// The names of the profiles that have a record, sorted.
    fn names(&self) -> Result<Vec<String>, StoreError>;

    /// Moves whenever any record may have changed. Cheap: the dashboard asks every second.
    /// `None` when the store cannot tell now.
    fn store_stamp(&self) -> Option<Stamp>;

    /// Moves whenever this record may have changed (also when it is made or removed).
    fn record_stamp(&self, name: &str) -> Option<Stamp>;

    /// The record `load` gives is newer than the shared store's (a team store's local spill).
    fn unsynced(&self, _name: &str) -> bool {
        false
    }

    /// Where the records are, for people, when that is worth saying (a team store).
    fn location(&self) -> Option<String> {
        None
    }
}

/// The store a process runs on, as `[store]` and the command line chose it.
#[derive(Debug, Clone)]
pub enum Backend {
    Files(FileStore),
    /// A team store, and the local file store beside it for what stays per host (the
    /// discovery documents).
    Team(BaoStore, FileStore),
}

impl Backend {
    /// The local file store: the records of `Files`, the per-host cache of both.
    pub fn local(&self) -> &FileStore {
        match self {
            Backend::Files(local) | Backend::Team(_, local) => local,
        }
    }

    pub fn cache(&self) -> LocalCache {
        self.local().cache()
    }

    pub fn is_team(&self) -> bool {
        matches!(self, Backend::Team(..))
    }

    fn store(&self) -> &dyn TokenStore {
        match self {
            Backend::Files(files) => files,
            Backend::Team(team, _) => team,
        }
    }
}

impl TokenStore for Backend {
    fn load(&self, name: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.store().load(name)
    }
    fn save(&self, name: &str, record: &mut TokenRecord) -> Result<(), StoreError> {
        self.store().save(name, record)
    }
    fn save_and_unlock(
        &self,
        name: &str,
        record: &mut TokenRecord,
        lock: LockGuard,
    ) -> Result<(), StoreError> {
        self.store().save_and_unlock(name, record, lock)
    }
    fn start_save(
        &self,
        name: &str,
        record: &mut TokenRecord,
        more_coming: bool,
    ) -> Option<Result<PendingSave, StoreError>> {
        self.store().start_save(name, record, more_coming)
    }
    fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError> {
        self.store().try_lock(name)
    }
    fn names(&self) -> Result<Vec<String>, StoreError> {
        self.store().names()
    }
    fn store_stamp(&self) -> Option<Stamp> {
        self.store().store_stamp()
    }
    fn record_stamp(&self, name: &str) -> Option<Stamp> {
        self.store().record_stamp(name)
    }
    fn unsynced(&self, name: &str) -> bool {
        self.store().unsynced(name)
    }
    fn location(&self) -> Option<String> {
        self.store().location()
    }
}

/// A save that [`TokenStore::start_save`] started: `.durable().await` it.
#[derive(Debug)]
#[must_use = "the record is durable only once this is awaited"]
pub struct PendingSave {
    durable: atomic::Durable,
    /// The record's file, for the error.
    path: std::path::PathBuf,
}

/// A point in a store's history, compared for equality only ("what changed since").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp(u128);

impl Stamp {
    pub fn new(value: u128) -> Stamp {
        Stamp(value)
    }

    /// A modification time, to the nanosecond the file system keeps.
    pub fn from_time(t: std::time::SystemTime) -> Stamp {
        let nanos = t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Stamp(nanos)
    }
}

/// A profile's lock, held until dropped.
pub struct LockGuard {
    _held: Box<dyn Send + Sync>,
}

impl LockGuard {
    /// Wraps whatever an implementation releases on drop (a locked file, a set entry).
    pub fn new(held: impl Send + Sync + 'static) -> LockGuard {
        LockGuard {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockGuard")
    }
}
