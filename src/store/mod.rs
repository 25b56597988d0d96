//! The token store: one `0600` JSON file per profile in a `0700` directory, atomic writes, and a
//! per-profile lock across processes. See SPEC.md "Token store guarantees".
//!
//! All calls here block on the disk; async callers run them with `spawn_blocking`.

mod atomic;
mod lock;
mod record;

pub use lock::ProfileLock;
pub use record::{LastError, RecordMeta, Standing, TokenRecord};

use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct StoreError {
    pub path: PathBuf,
    pub message: String,
}

impl StoreError {
    fn io(path: &Path, what: &str, e: std::io::Error) -> Self {
        StoreError {
            path: path.to_path_buf(),
            message: format!("{what}: {e}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    /// Shared by every clone, so that the whole process group-commits its directory fsyncs.
    writer: Arc<atomic::AtomicDir>,
}

impl Store {
    /// Opens the store, creating it `0700` if it does not exist. A store that others can read is
    /// refused, as ssh refuses a loose `~/.ssh`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        if !dir.exists() {
            create_private_dir(dir)
                .map_err(|e| StoreError::io(dir, "cannot create the token store", e))?;
        }
        let meta = std::fs::metadata(dir)
            .map_err(|e| StoreError::io(dir, "cannot open the token store", e))?;
        if !meta.is_dir() {
            return Err(StoreError {
                path: dir.to_path_buf(),
                message: "the token store is not a directory".into(),
            });
        }
        refuse_loose_permissions(dir, &meta, 0o700)?;
        Ok(Store {
            dir: dir.to_path_buf(),
            writer: Arc::new(atomic::AtomicDir::new(dir)),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn record_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.lock"))
    }

    /// The stored record, or `None` when the profile has never had a token.
    pub fn load(&self, name: &str) -> Result<Option<TokenRecord>, StoreError> {
        let path = self.record_path(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&path, "cannot read the token record", e)),
        };
        let meta = std::fs::metadata(&path)
            .map_err(|e| StoreError::io(&path, "cannot read the token record", e))?;
        refuse_loose_permissions(&path, &meta, 0o600)?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError {
            path: path.clone(),
            // Only the kind and the position: serde_json's own message quotes the offending value
            // (`invalid type: string "…"`), which may be a token.
            message: format!(
                "the token record is not valid ({} at line {} column {}); it was left as it is: move it away and run tokdash import or login",
                json_error_kind(&e),
                e.line(),
                e.column()
            ),
        })
    }

    /// Replaces the record atomically, bumping its generation.
    pub fn save(&self, name: &str, record: &mut TokenRecord) -> Result<(), StoreError> {
        // Saturating: a record file edited to the last value must not panic a save.
        record.generation = record.generation.saturating_add(1);
        let path = self.record_path(name);
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| StoreError {
            path: path.clone(),
            message: format!("cannot encode the token record: {e}"),
        })?;
        self.writer
            .write(&path, &bytes)
            .map_err(|e| StoreError::io(&path, "cannot write the token record", e))
    }

    /// Waits for the profile's lock. Hold it from reading the refresh token until the response
    /// is stored, and re-read the record after taking it.
    pub fn lock(&self, name: &str) -> Result<ProfileLock, StoreError> {
        let path = self.lock_path(name);
        ProfileLock::acquire(&path).map_err(|e| StoreError::io(&path, "cannot lock the profile", e))
    }

    pub fn try_lock(&self, name: &str) -> Result<Option<ProfileLock>, StoreError> {
        let path = self.lock_path(name);
        ProfileLock::try_acquire(&path)
            .map_err(|e| StoreError::io(&path, "cannot lock the profile", e))
    }

    /// Writes any other file of the store (a discovery cache) with the same guarantees.
    pub fn write_file(&self, file_name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.dir.join(file_name);
        self.writer
            .write(&path, bytes)
            .map_err(|e| StoreError::io(&path, "cannot write", e))
    }

    pub fn read_file(&self, file_name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(file_name)).ok()
    }

    /// Removes the temporary files that writers killed mid-write left behind, and returns how
    /// many: those older than [`STALE_TEMPORARY`] that no writer holds locked. A live writer, in
    /// this process or another, keeps its temporary file locked while it writes, even if it is
    /// stopped for longer than that. Never touches a record: their names cannot start with `.`.
    pub fn remove_stale_temporaries(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = std::time::SystemTime::now();
        let removed = entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(atomic::TEMP_PREFIX)
            })
            .filter(|e| {
                e.metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TEMPORARY)
            })
            .filter(|e| no_writer_holds(&e.path()) && std::fs::remove_file(e.path()).is_ok())
            .count();
        if removed > 0 {
            tracing::info!(
                removed,
                "removed temporary files left by interrupted writes"
            );
        }
        removed
    }
}

/// How old a temporary file must be before it counts as a crashed writer's leftover.
pub const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(60);

/// A writer locks its temporary file for as long as it writes (see atomic.rs); one that is merely
/// slow, or stopped with Ctrl-Z, still holds it, and its file is not a leftover.
fn no_writer_holds(path: &Path) -> bool {
    std::fs::File::open(path).is_ok_and(|f| f.try_lock().is_ok())
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "a field of the wrong type or value",
        serde_json::error::Category::Eof => "cut short",
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(unix)]
fn refuse_loose_permissions(
    path: &Path,
    meta: &std::fs::Metadata,
    wanted: u32,
) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError {
            path: path.to_path_buf(),
            message: format!(
                "permissions {mode:04o} let other users read tokens; refusing to use it. run: chmod {wanted:o} {}",
                path.display()
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_loose_permissions(_: &Path, _: &std::fs::Metadata, _: u32) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_a_private_store_and_private_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/tokens");
        let store = Store::open(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let mut rec = TokenRecord {
            refresh_token: Some(Secret::new("rt")),
            ..Default::default()
        };
        store.save("p", &mut rec).unwrap();
        assert_eq!(mode(&store.record_path("p")), 0o600);
        assert_eq!(store.load("p").unwrap().unwrap(), rec);
        assert_eq!(rec.generation, 1);
    }

    #[test]
    fn refuses_a_store_others_can_read_and_says_how_to_fix_it() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = Store::open(tmp.path()).unwrap_err().to_string();
        assert!(
            e.contains(&format!("chmod 700 {}", tmp.path().display())),
            "{e}"
        );
    }

    #[test]
    fn refuses_a_record_others_can_read() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = Store::open(tmp.path()).unwrap();
        store.save("p", &mut TokenRecord::default()).unwrap();
        std::fs::set_permissions(
            store.record_path("p"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let e = store.load("p").unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn a_corrupt_record_is_an_error_that_leaks_nothing_and_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let path = store.record_path("p");
        std::fs::write(&path, "{\"refresh_token\": \"SECRETVALUE").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = store.load("p").unwrap_err().to_string();
        assert!(!e.contains("SECRETVALUE"), "{e}");
        assert!(path.exists());
    }

    #[test]
    fn stale_temporaries_are_removed_and_everything_else_kept() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = Store::open(tmp.path()).unwrap();
        store.save("p", &mut TokenRecord::default()).unwrap();
        let old = std::time::SystemTime::now() - STALE_TEMPORARY * 2;
        let leftover = tmp.path().join(".tmpCRASHED");
        std::fs::File::create(&leftover)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let in_flight = tmp.path().join(".tmpWRITING");
        std::fs::write(&in_flight, "x").unwrap();
        // A writer stopped mid-write for longer than the threshold still holds its lock.
        let stopped = tmp.path().join(".tmpSTOPPED");
        let stopped_file = std::fs::File::create(&stopped).unwrap();
        stopped_file.set_modified(old).unwrap();
        stopped_file.lock().unwrap();
        let old_record_lookalike = tmp.path().join("q.json");
        std::fs::File::create(&old_record_lookalike)
            .unwrap()
            .set_modified(old)
            .unwrap();

        assert_eq!(store.remove_stale_temporaries(), 1);
        assert!(!leftover.exists());
        assert!(in_flight.exists(), "a live writer's file is left alone");
        assert!(
            stopped.exists(),
            "a stopped writer's locked file is left alone"
        );
        assert!(old_record_lookalike.exists() && store.record_path("p").exists());
    }

    #[test]
    fn try_lock_sees_a_held_lock() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let held = store.lock("p").unwrap();
        assert!(store.try_lock("p").unwrap().is_none());
        drop(held);
        assert!(store.try_lock("p").unwrap().is_some());
    }
}
