//! The token store: what the engine keeps per profile, behind one interface, [`TokenStore`].
//! See SPEC.md "Token store guarantees".
//!
//! The interface speaks of profile names and records only, never of paths or files. The file
//! store ([`FileStore`]) is the one tokdash runs on; [`MemoryStore`] is a second implementation
//! that the engine's unit tests use to check its lock and rotation rules without a disk.

mod atomic;
mod file;
mod lock;
mod memory;
mod record;

pub use atomic::{Replaced, write_token_file};
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
