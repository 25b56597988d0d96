//! The file store: one `0600` JSON file per profile in a `0700` directory, atomic writes, and a
//! per-profile lock across processes. See SPEC.md "Token store guarantees".
//!
//! All calls here block on the disk; async callers run them with `spawn_blocking`, but for
//! [`FileStore::start_save`], whose wait for the disk is awaited.
//! Paths stay in here: the engine sees only [`TokenStore`].

use super::atomic;
use super::lock::ProfileLock;
use super::{LockGuard, PendingSave, Stamp, StoreError, TokenRecord, TokenStore};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl StoreError {
    /// An error about one file of the store: its path, then what is wrong with it.
    fn at(path: &Path, message: impl std::fmt::Display) -> Self {
        StoreError {
            message: format!("{}: {message}", path.display()),
        }
    }

    fn io(path: &Path, what: &str, e: std::io::Error) -> Self {
        StoreError::at(path, format_args!("{what}: {e}"))
    }
}

#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    /// Shared by every clone, so that the whole process group-commits its directory fsyncs.
    writer: Arc<atomic::AtomicDir>,
}

impl FileStore {
    /// Opens the store, creating it `0700` if it does not exist. A store that others can read is
    /// refused, as ssh refuses a loose `~/.ssh`.
    pub fn open(dir: &Path) -> Result<FileStore, StoreError> {
        if !dir.exists() {
            create_private_dir(dir)
                .map_err(|e| StoreError::io(dir, "cannot create the token store", e))?;
        }
        let meta = std::fs::metadata(dir)
            .map_err(|e| StoreError::io(dir, "cannot open the token store", e))?;
        if !meta.is_dir() {
            return Err(StoreError::at(dir, "the token store is not a directory"));
        }
        refuse_loose_permissions(dir, &meta, 0o700)?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
            writer: Arc::new(atomic::AtomicDir::with_spares(dir)),
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
    ///
    /// The record is opened without following a symbolic link, then checked and read through
    /// the open file, so what is checked is what is read. Anything but a plain file (a link, a
    /// directory, a named pipe) is refused as what it is, with no `chmod` hint: a `chmod` of a
    /// link changes its target. The error never quotes the file's content.
    pub fn load(&self, name: &str) -> Result<Option<TokenRecord>, StoreError> {
        let path = self.record_path(name);
        let (file, meta) = match open_plain(&path) {
            Ok(opened) => opened,
            Err(OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(OpenError::NotPlain(what)) => return Err(not_a_plain_record(name, &path, what)),
            Err(OpenError::Io(e)) => return Err(unreadable_record(name, &path, &e)),
        };
        refuse_loose_permissions(&path, &meta, 0o600)?;
        let bytes = read_opened(&file, &meta).map_err(|e| unreadable_record(name, &path, &e))?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            StoreError::at(
                &path,
                // Only the kind and the position: serde_json's own message quotes the offending
                // value (`invalid type: string "…"`), which may be a token.
                format_args!(
                    "the token record is not valid ({} at line {} column {}); it was left as it is: move it out of the store and run: {}",
                    json_error_kind(&e),
                    e.line(),
                    e.column(),
                    start_again(name)
                ),
            )
        })
    }

    /// Replaces the record atomically, bumping its generation.
    pub fn save(&self, name: &str, record: &mut TokenRecord) -> Result<(), StoreError> {
        let (path, bytes) = self.encode_next(name, record)?;
        self.writer
            .write(&path, &bytes)
            .map_err(|e| record_write_error(&path, e))
    }

    /// [`FileStore::save`], but only queued for its commit; durable once the [`PendingSave`]
    /// resolves.
    pub fn start_save(
        &self,
        name: &str,
        record: &mut TokenRecord,
        more_coming: bool,
    ) -> Result<PendingSave, StoreError> {
        let (path, bytes) = self.encode_next(name, record)?;
        let durable = self.writer.start_write(&path, bytes, more_coming);
        Ok(PendingSave { durable, path })
    }

    /// The record's path, and its bytes with the next generation (set in `record`).
    fn encode_next(
        &self,
        name: &str,
        record: &mut TokenRecord,
    ) -> Result<(PathBuf, Vec<u8>), StoreError> {
        // Saturating: a record file edited to the last value must not panic a save.
        record.generation = record.generation.saturating_add(1);
        let path = self.record_path(name);
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| {
            StoreError::at(&path, format_args!("cannot encode the token record: {e}"))
        })?;
        Ok((path, bytes))
    }

    /// Waits for the profile's lock. Hold it from reading the refresh token until the response
    /// is stored, and re-read the record after taking it.
    pub fn lock(&self, name: &str) -> Result<ProfileLock, StoreError> {
        let path = self.lock_path(name);
        ProfileLock::acquire(&path).map_err(|e| lock_error(&path, e))
    }

    pub fn try_lock(&self, name: &str) -> Result<Option<ProfileLock>, StoreError> {
        let path = self.lock_path(name);
        ProfileLock::try_acquire(&path).map_err(|e| lock_error(&path, e))
    }

    /// The local cache that lives beside the records (the discovery documents): not token
    /// records, so not part of [`TokenStore`].
    pub fn cache(&self) -> LocalCache {
        LocalCache {
            dir: self.dir.clone(),
            writer: self.writer.clone(),
        }
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
            // Not through a link, and not a named pipe, whose opening would wait for a writer.
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
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

impl TokenStore for FileStore {
    fn load(&self, name: &str) -> Result<Option<TokenRecord>, StoreError> {
        FileStore::load(self, name)
    }

    fn save(&self, name: &str, record: &mut TokenRecord) -> Result<(), StoreError> {
        FileStore::save(self, name, record)
    }

    fn start_save(
        &self,
        name: &str,
        record: &mut TokenRecord,
        more_coming: bool,
    ) -> Option<Result<PendingSave, StoreError>> {
        Some(FileStore::start_save(self, name, record, more_coming))
    }

    fn try_lock(&self, name: &str) -> Result<Option<LockGuard>, StoreError> {
        Ok(FileStore::try_lock(self, name)?.map(LockGuard::new))
    }

    /// The records in the directory: plain `<name>.json` files; temporaries, caches and locks
    /// start with `.` or end otherwise.
    fn names(&self) -> Result<Vec<String>, StoreError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| StoreError::io(&self.dir, "cannot list the token store", e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| {
                let file = e.file_name().into_string().ok()?;
                let name = file.strip_suffix(".json")?;
                (!name.starts_with('.') && !name.is_empty()).then(|| name.to_string())
            })
            .collect();
        names.sort_unstable();
        Ok(names)
    }

    /// The directory's mtime, which moves on every atomic write (a rename into it): one `stat`.
    fn store_stamp(&self) -> Option<Stamp> {
        std::fs::metadata(&self.dir)
            .and_then(|m| m.modified())
            .ok()
            .map(Stamp::from_time)
    }

    /// Of the path itself: a record that is a symbolic link is seen as one, dangling or not.
    fn record_stamp(&self, name: &str) -> Option<Stamp> {
        std::fs::symlink_metadata(self.record_path(name))
            .and_then(|m| m.modified())
            .ok()
            .map(Stamp::from_time)
    }
}

/// Files beside the records that are not token records (the discovery documents), written with
/// the same atomic writes and read with the same care (never through a link).
#[derive(Debug, Clone)]
pub struct LocalCache {
    dir: PathBuf,
    /// The store's writer: cache writes share its group-committed directory fsyncs.
    writer: Arc<atomic::AtomicDir>,
}

impl LocalCache {
    /// Writes one file of the cache, atomically.
    pub fn write(&self, file_name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.dir.join(file_name);
        self.writer
            .write(&path, bytes)
            .map_err(|e| StoreError::io(&path, "cannot write", e))
    }

    /// Reads one file of the cache; `None` when it is missing or is not a plain file.
    pub fn read(&self, file_name: &str) -> Option<Vec<u8>> {
        let (file, meta) = open_plain(&self.dir.join(file_name)).ok()?;
        read_opened(&file, &meta).ok()
    }
}

/// How old a temporary file must be before it counts as a crashed writer's leftover.
pub const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(60);

/// A writer locks its temporary file for as long as it writes (see atomic.rs); one that is merely
/// slow, or stopped with Ctrl-Z, still holds it, and its file is not a leftover.
fn no_writer_holds(path: &Path) -> bool {
    open_plain(path).is_ok_and(|(f, _)| f.try_lock().is_ok())
}

/// Why a file of the store could not be opened as a plain file.
#[derive(Debug)]
enum OpenError {
    /// Not a plain file: what it is instead ("a symbolic link", "a directory"…).
    NotPlain(&'static str),
    Io(std::io::Error),
}

/// Opens a file of the store for reading: never through a symbolic link (`O_NOFOLLOW`), never
/// waiting for a writer (`O_NONBLOCK`, which a named pipe would otherwise do, and which changes
/// nothing for a plain file), and only a plain file, as the open file itself says (`fstat`).
/// Returns the file and its metadata.
fn open_plain(path: &Path) -> Result<(std::fs::File, std::fs::Metadata), OpenError> {
    let open = |flags: i32| {
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | flags);
        }
        let _ = flags;
        options.open(path)
    };
    // A read that updates the access time (`relatime` does once after each write) dirties the
    // inode, and on ext4 then waits for the journal commit in progress: a command's reads run on
    // its one async thread, which would stall every connection for that long (bench/refresh_all.sh
    // PIPELINE=1). The kernel allows O_NOATIME to a file's owner only; others read without it.
    let opened = match open(NO_ATIME) {
        Err(e) if NO_ATIME != 0 && e.raw_os_error() == Some(libc::EPERM) => open(0),
        other => other,
    };
    let file = match opened {
        Ok(file) => file,
        Err(e) if is_symlink_refusal(&e) => return Err(OpenError::NotPlain("a symbolic link")),
        Err(e) => {
            // A socket cannot be opened at all (ENXIO): say what it is rather than that. The
            // path is looked at only to word the error.
            let what = std::fs::symlink_metadata(path).ok().and_then(|m| kind(&m));
            return Err(what.map_or(OpenError::Io(e), OpenError::NotPlain));
        }
    };
    let meta = file.metadata().map_err(OpenError::Io)?;
    match kind(&meta) {
        Some(what) => Err(OpenError::NotPlain(what)),
        None => Ok((file, meta)),
    }
}

/// The whole of a file [`open_plain`] opened, sized by the metadata it read. Read through a
/// `Take` rather than the file itself: `File::read_to_end` would ask the kernel for the size and
/// the position again (a `statx` and an `lseek` per record read).
fn read_opened(file: &std::fs::File, meta: &std::fs::Metadata) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(u64::MAX).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(target_os = "linux")]
const NO_ATIME: i32 = libc::O_NOATIME;
#[cfg(not(target_os = "linux"))]
const NO_ATIME: i32 = 0;

/// `O_NOFOLLOW` met a symbolic link: `ELOOP` on Linux and macOS, `EMLINK` on FreeBSD.
fn is_symlink_refusal(e: &std::io::Error) -> bool {
    #[cfg(target_os = "freebsd")]
    let refused = [libc::ELOOP, libc::EMLINK];
    #[cfg(not(target_os = "freebsd"))]
    let refused = [libc::ELOOP];
    e.raw_os_error().is_some_and(|code| refused.contains(&code))
}

/// What a file is when it is not a plain file; `None` for a plain file.
fn kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_block_device() || t.is_char_device() {
            return Some("a device");
        }
    }
    Some(if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        "something other than a plain file"
    })
}

/// What makes a profile's record anew once the bad one is out of the way.
fn start_again(name: &str) -> String {
    format!("tokdash login {name} (or tokdash import {name})")
}

/// A record that is not a plain file. The hint never names a path through a link: a link is
/// removed (which removes the link alone), anything else moved out of the store.
fn not_a_plain_record(name: &str, path: &Path, what: &str) -> StoreError {
    let fix = match what {
        "a symbolic link" => format!(
            "remove the link (rm {}) and run: {}",
            path.display(),
            start_again(name)
        ),
        _ => format!("move it out of the store and run: {}", start_again(name)),
    };
    StoreError::at(
        path,
        format_args!(
            "is {what}, not a token record; tokdash keeps only plain files in its store: {fix}"
        ),
    )
}

/// A plain file that cannot be opened or read (`EACCES` for a file of another user, `EIO`).
fn unreadable_record(name: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::at(
        path,
        format_args!(
            "cannot read the token record ({e}); it must be a file of yours with permissions 0600 (ls -l {}), or move it out of the store and run: {}",
            path.display(),
            start_again(name)
        ),
    )
}

fn record_write_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::io(path, "cannot write the token record", e)
}

impl PendingSave {
    /// Returns once the record is durable, or with why it could not be written.
    pub async fn durable(self) -> Result<(), StoreError> {
        let PendingSave { durable, path } = self;
        durable
            .wait()
            .await
            .map_err(|e| record_write_error(&path, e))
    }
}

/// The lock file is tokdash's own and holds nothing: any other file there is simply removed.
fn lock_error(path: &Path, e: std::io::Error) -> StoreError {
    let message = if is_symlink_refusal(&e) {
        format!(
            "is a symbolic link; tokdash keeps only plain files in its store and never follows a link there: remove the link (rm {}); tokdash makes a new lock file",
            path.display()
        )
    } else {
        format!("cannot lock the profile: {e}")
    };
    StoreError::at(path, message)
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
        return Err(StoreError::at(
            path,
            format_args!(
                "permissions {mode:04o} let other users read tokens; refusing to use it. run: chmod {wanted:o} {}",
                path.display()
            ),
        ));
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
        let store = FileStore::open(&dir).unwrap();
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
        let e = FileStore::open(tmp.path()).unwrap_err().to_string();
        assert!(
            e.contains(&format!("chmod 700 {}", tmp.path().display())),
            "{e}"
        );
    }

    #[test]
    fn refuses_a_record_others_can_read() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = FileStore::open(tmp.path()).unwrap();
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
        let store = FileStore::open(tmp.path()).unwrap();
        let path = store.record_path("p");
        std::fs::write(&path, "{\"refresh_token\": \"SECRETVALUE").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = store.load("p").unwrap_err().to_string();
        assert!(!e.contains("SECRETVALUE"), "{e}");
        assert!(path.exists());
    }

    /// A private store with one good record, `good`.
    fn store_with_a_good_record(tmp: &tempfile::TempDir) -> FileStore {
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = FileStore::open(tmp.path()).unwrap();
        let mut good = TokenRecord {
            refresh_token: Some(Secret::new("RT-good")),
            ..Default::default()
        };
        store.save("good", &mut good).unwrap();
        store
    }

    /// A bad record is refused naming its path, with what it is and how to start again, never
    /// with a `chmod`; the good record beside it still loads.
    fn assert_refused(store: &FileStore, name: &str, what: &str, fix: &str) -> String {
        let e = store.load(name).unwrap_err();
        let path = store.record_path(name);
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("{}: {what}", path.display())),
            "{text}"
        );
        assert!(text.contains(fix), "{text}");
        assert!(text.contains(&format!("tokdash login {name}")), "{text}");
        assert!(!text.contains("chmod"), "{text}");
        assert!(store.load("good").unwrap().unwrap().has_refresh_token());
        text
    }

    #[test]
    fn a_record_that_is_not_json_names_its_path_and_the_way_out() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_a_good_record(&tmp);
        let path = store.record_path("b");
        std::fs::write(&path, "not json SECRET-b").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = assert_refused(
            &store,
            "b",
            "the token record is not valid (not JSON at line 1 column 2)",
            "move it out of the store",
        );
        assert!(!text.contains("SECRET-b"), "{text}");
    }

    #[test]
    fn a_record_that_is_a_symlink_is_refused_and_its_target_never_read() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_a_good_record(&tmp);
        // A target outside the store that would parse as a record, with loose permissions: a
        // store that followed the link would either load it or suggest a chmod of it.
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("elsewhere.json");
        std::fs::write(&target, r#"{"refresh_token": "RT-OUTSIDE"}"#).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&target, store.record_path("b")).unwrap();
        let text = assert_refused(
            &store,
            "b",
            "is a symbolic link, not a token record",
            &format!("rm {}", store.record_path("b").display()),
        );
        assert!(
            !text.contains("RT-OUTSIDE") && !text.contains("elsewhere"),
            "{text}"
        );
        // A dangling link and a link to itself are links too.
        std::fs::remove_file(store.record_path("b")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("gone"), store.record_path("b")).unwrap();
        assert_refused(&store, "b", "is a symbolic link", "rm ");
        std::fs::remove_file(store.record_path("b")).unwrap();
        std::os::unix::fs::symlink(store.record_path("b"), store.record_path("b")).unwrap();
        assert_refused(&store, "b", "is a symbolic link", "rm ");
    }

    #[test]
    fn a_record_that_is_a_directory_is_refused_as_one() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_a_good_record(&tmp);
        std::fs::create_dir(store.record_path("b")).unwrap();
        std::fs::set_permissions(
            store.record_path("b"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_refused(
            &store,
            "b",
            "is a directory, not a token record",
            "move it out of the store",
        );
    }

    /// The tests run as root, whom no permission bits stop from reading, so an unreadable record
    /// is made of what root cannot read as a record either: a named pipe. Read naively it would
    /// also wait for a writer forever; this returns at once.
    #[test]
    fn a_record_that_is_a_named_pipe_is_refused_without_waiting_for_a_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_a_good_record(&tmp);
        let path =
            std::ffi::CString::new(store.record_path("b").as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o644) }, 0);
        assert_refused(
            &store,
            "b",
            "is a named pipe (FIFO), not a token record",
            "move it out of the store",
        );
        // The sweep of leftovers does not wait on one either.
        let fifo =
            std::ffi::CString::new(tmp.path().join(".tmpPIPE").as_os_str().as_encoded_bytes())
                .unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert_eq!(store.remove_stale_temporaries(), 0);
    }

    #[test]
    fn saving_over_a_symlink_replaces_the_link_and_never_writes_its_target() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_a_good_record(&tmp);
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("passwd");
        std::fs::write(&target, "root:x:0:0").unwrap();
        std::os::unix::fs::symlink(&target, store.record_path("b")).unwrap();
        let mut record = TokenRecord {
            refresh_token: Some(Secret::new("RT-new")),
            ..Default::default()
        };
        store.save("b", &mut record).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "root:x:0:0");
        let meta = std::fs::symlink_metadata(store.record_path("b")).unwrap();
        assert!(meta.file_type().is_file(), "the link itself was replaced");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(store.load("b").unwrap().unwrap(), record);
    }

    #[test]
    fn a_lock_file_that_is_a_symlink_is_refused_and_its_target_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_a_good_record(&tmp);
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        std::os::unix::fs::symlink(&target, tmp.path().join("b.lock")).unwrap();
        let e = store.lock("b").unwrap_err().to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert!(
            e.contains(&format!("rm {}", tmp.path().join("b.lock").display())),
            "{e}"
        );
        assert!(store.try_lock("b").is_err());
        assert!(!target.exists(), "no file was created through the link");
        std::fs::create_dir(tmp.path().join("c.lock")).unwrap();
        assert!(store.try_lock("c").is_err());
        assert!(store.try_lock("good").unwrap().is_some());
    }

    #[test]
    fn other_files_of_the_store_are_not_read_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_with_a_good_record(&tmp);
        let cache = store.cache();
        cache.write("cache.json", b"{}").unwrap();
        assert_eq!(cache.read("cache.json").unwrap(), b"{}");
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("t"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("t"), tmp.path().join("linked.json"))
            .unwrap();
        assert_eq!(cache.read("linked.json"), None);
    }

    #[test]
    fn stale_temporaries_are_removed_and_everything_else_kept() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let store = FileStore::open(tmp.path()).unwrap();
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
        let store = FileStore::open(tmp.path()).unwrap();
        let held = store.lock("p").unwrap();
        assert!(store.try_lock("p").unwrap().is_none());
        drop(held);
        assert!(store.try_lock("p").unwrap().is_some());
    }
}
