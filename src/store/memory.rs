//! A store in memory: the second implementation of [`TokenStore`]. The engine's unit tests use
//! it to check the lock and rotation rules; nothing here survives the process.

use super::{LockGuard, Stamp, StoreError, TokenRecord, TokenStore};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<String, (TokenRecord, u64)>,
    locked: HashSet<String>,
    /// Bumped on every save: the store's stamp.
    saves: u64,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many saves the store has seen, all profiles together.
    pub fn saves(&self) -> u64 {
        self.inner().saves
    }

    /// Whether the profile's lock is held now.
    pub fn is_locked(&self, name: &str) -> bool {
        self.inner().locked.contains(name)
    }
}

/// Releases its profile on drop.
struct Held {
    store: MemoryStore,
    name: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.store.inner().locked.remove(&self.name);
    }
}

impl TokenStore for MemoryStore {
    fn load(&self, name: &str) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.inner().records.get(name).map(|(r, _)| r.clone()))
    }

    fn save(&self, name: &str, record: &mut TokenRecord) -> Result<(), StoreError> {
        record.generation = record.generation.saturating_add(1);
        let mut inner = self.inner();
        inner.saves += 1;
        let stamp = inner.saves;
        inner
            .records
            .insert(name.to_string(), (record.clone(), stamp));
        Ok(())
    }

    fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError> {
        if !self.inner().locked.insert(name.to_string()) {
            return Ok(None);
        }
        Ok(Some(LockGuard::new(Held {
            store: self.clone(),
            name: name.to_string(),
        })))
    }

    fn names(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.inner().records.keys().cloned().collect())
    }

    fn store_stamp(&self) -> Option<Stamp> {
        Some(Stamp::new(u128::from(self.inner().saves)))
    }

    fn record_stamp(&self, name: &str) -> Option<Stamp> {
        let inner = self.inner();
        inner
            .records
            .get(name)
            .map(|(_, at)| Stamp::new(u128::from(*at)))
    }
}
