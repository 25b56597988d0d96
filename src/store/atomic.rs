//! Crash-safe file replacement: a temporary file in the same directory, made durable, renamed
//! over the target, then an fsync of the directory. A crash at any instant leaves the old file or
//! the new one.
//!
//! Writes that arrive together are committed together, as databases share a log flush: each
//! writer writes its temporary file and queues it; one of them (the first to find no commit
//! running) takes every queued file and pays the barriers once for all of them: one `syncfs`
//! (every temporary file durable), the renames, one fsync of the directory. Each writer returns
//! only once its own file went through both barriers, so every caller sees the guarantee it would
//! have with fsyncs of its own; `refresh --all` pays two barriers per batch instead of two per
//! profile (BENCHMARKS.md, issue 15).
//!
//! A directory made [`AtomicDir::with_spares`] (the token store's) keeps one spare file beside
//! each target, `.spare.<name>`: a write rewrites the spare in place, makes it durable, and
//! exchanges it with the target (`renameat2(RENAME_EXCHANGE)`, one atomic rename), so the old
//! target becomes the next write's spare. The file system then never allocates or frees an inode
//! per write, which on this project's ext4 (no journal: every new inode is checked against the
//! recently deleted ones) halves the kernel's cost of a durable write (BENCHMARKS.md). Whatever
//! looks wrong about a spare (a link, a directory, loose permissions, another writer holding it)
//! sends the write down the temporary-file path instead.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A commit that starts less than this after the last one ended is part of a burst of writes
/// (`refresh --all`, the dashboard refreshing many profiles)...
const BURST: Duration = Duration::from_millis(5);
/// ...and waits this long before taking the queue, so that the writers on their way join its
/// batch: fewer barriers per write (BENCHMARKS.md, issue 15). A lone write (`tokdash token`)
/// never waits.
const GATHER: Duration = Duration::from_millis(1);

/// Temporary files start with this; no profile name can (names do not start with `.`).
pub const TEMP_PREFIX: &str = ".tmp";

/// Spare files start with this (kept on purpose, so not swept as temporaries).
pub const SPARE_PREFIX: &str = ".spare.";

#[derive(Debug)]
pub struct AtomicDir {
    dir: PathBuf,
    /// Writes go through each target's spare file (module doc).
    spares: bool,
    /// Written temporary files waiting for a commit, in the order of their tickets.
    queue: Mutex<Queue>,
    /// Held by the writer committing a batch; the others wait on it, then find their ticket
    /// committed (or lead the next batch).
    commits: Mutex<Committed>,
}

#[derive(Debug, Default)]
struct Queue {
    /// The last ticket handed out.
    issued: u64,
    waiting: Vec<Queued>,
}

#[derive(Debug)]
struct Queued {
    ticket: u64,
    file: Pending,
    target: PathBuf,
}

/// A written file waiting to take its target's place.
#[derive(Debug)]
enum Pending {
    /// A new temporary file, renamed over the target.
    Fresh(tempfile::NamedTempFile),
    /// The target's spare, rewritten in place (and locked), exchanged with the target.
    Spare { file: File, path: PathBuf },
}

impl Pending {
    fn as_file(&self) -> &File {
        match self {
            Pending::Fresh(tmp) => tmp.as_file(),
            Pending::Spare { file, .. } => file,
        }
    }

    /// Takes the target's place: the rename that makes the write visible.
    fn replace(self, target: &Path) -> io::Result<()> {
        match self {
            Pending::Fresh(tmp) => tmp.persist(target).map(drop).map_err(|e| e.error),
            Pending::Spare { file, path } => {
                let replaced = replace_with_spare(&path, target);
                drop(file);
                replaced
            }
        }
    }
}

#[derive(Debug, Default)]
struct Committed {
    /// Every ticket up to this one went through a commit.
    through: u64,
    /// The tickets whose commit failed, with why; taken by their writers.
    failed: Vec<(u64, io::ErrorKind, String)>,
    /// When the last commit ended.
    last_end: Option<Instant>,
}

/// How long a commit starting `now` waits for more writers: [`GATHER`] within a burst.
fn gather_pause(last_end: Option<Instant>, now: Instant) -> Duration {
    match last_end {
        Some(end) if now.saturating_duration_since(end) < BURST => GATHER,
        _ => Duration::ZERO,
    }
}

impl AtomicDir {
    pub fn new(dir: &Path) -> AtomicDir {
        AtomicDir {
            dir: dir.to_path_buf(),
            spares: false,
            queue: Mutex::new(Queue::default()),
            commits: Mutex::new(Committed::default()),
        }
    }

    /// A directory whose targets each keep a spare file (module doc): for the token store,
    /// whose every record is rewritten at each refresh.
    pub fn with_spares(dir: &Path) -> AtomicDir {
        AtomicDir {
            spares: true,
            ..AtomicDir::new(dir)
        }
    }

    pub fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let tmp = match self.spare_written(target, bytes) {
            Some(spare) => spare,
            None => {
                // tempfile creates the file 0600 with O_EXCL; its name starts with `.tmp`, which
                // no profile name can, so a leftover from a crash never looks like a record.
                let mut tmp = tempfile::Builder::new()
                    .prefix(TEMP_PREFIX)
                    .tempfile_in(&self.dir)?;
                // Held until the file is renamed: the sweep of leftovers
                // (FileStore::remove_stale_temporaries) leaves a locked temporary file alone,
                // however long its writer has been stopped.
                tmp.as_file().lock()?;
                tmp.write_all(bytes)?;
                Pending::Fresh(tmp)
            }
        };
        let ticket = {
            // A poisoned lock only means another writer panicked; the queue is still whole.
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.issued += 1;
            let ticket = queue.issued;
            queue.waiting.push(Queued {
                ticket,
                file: tmp,
                target: target.to_path_buf(),
            });
            ticket
        };
        let mut committed = self.commits.lock().unwrap_or_else(|p| p.into_inner());
        if committed.through < ticket {
            // No commit took this file yet: this writer commits everything queued, its own
            // file included (it was queued before this lock was taken).
            let pause = gather_pause(committed.last_end, Instant::now());
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
            let batch =
                std::mem::take(&mut self.queue.lock().unwrap_or_else(|p| p.into_inner()).waiting);
            let last = batch.last().map_or(committed.through, |q| q.ticket);
            committed.failed.extend(self.commit(batch));
            committed.through = last;
            committed.last_end = Some(Instant::now());
        }
        match committed.failed.iter().position(|(t, _, _)| *t == ticket) {
            Some(i) => {
                let (_, kind, why) = committed.failed.swap_remove(i);
                Err(io::Error::new(kind, why))
            }
            None => Ok(()),
        }
    }

    /// Makes a batch of written temporary files durable, renames each over its target and makes
    /// the renames durable; returns the tickets that failed, with why.
    fn commit(&self, batch: Vec<Queued>) -> Vec<(u64, io::ErrorKind, String)> {
        let fail_all = |batch: &[u64], e: &io::Error| -> Vec<(u64, io::ErrorKind, String)> {
            batch
                .iter()
                .map(|t| (*t, e.kind(), e.to_string()))
                .collect()
        };
        let tickets: Vec<u64> = batch.iter().map(|q| q.ticket).collect();
        // One file alone is fsynced by itself: a single `token` refresh never waits for the
        // rest of the file system's dirty data.
        let durable = match batch.as_slice() {
            [one] => one.file.as_file().sync_all(),
            [first, ..] => sync_file_system(first.file.as_file()),
            [] => Ok(()),
        };
        if let Err(e) = durable {
            return fail_all(&tickets, &e);
        }
        let mut failed = Vec::new();
        let mut renamed = Vec::new();
        for queued in batch {
            match queued.file.replace(&queued.target) {
                Ok(()) => renamed.push(queued.ticket),
                Err(e) => failed.push((queued.ticket, e.kind(), e.to_string())),
            }
        }
        if !renamed.is_empty()
            && let Err(e) = File::open(&self.dir).and_then(|d| d.sync_all())
        {
            failed.extend(fail_all(&renamed, &e));
        }
        failed
    }
}

impl AtomicDir {
    /// `bytes` written into `target`'s spare, or `None` when this directory keeps none or the
    /// spare is not fit (then a fresh temporary file is used). Opened without following a link,
    /// created `0600` when missing; refused when it is not a plain private file with one name,
    /// or when another writer holds it locked.
    fn spare_written(&self, target: &Path, bytes: &[u8]) -> Option<Pending> {
        if !self.spares {
            return None;
        }
        let path = spare_path(target)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 || meta.nlink() != 1 {
            return None;
        }
        file.try_lock().ok()?;
        file.write_all_at(bytes, 0).ok()?;
        file.set_len(u64::try_from(bytes.len()).ok()?).ok()?;
        Some(Pending::Spare { file, path })
    }
}

/// `<dir>/.spare.<name>` for `<dir>/<name>`.
fn spare_path(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?.to_str()?;
    Some(target.with_file_name(format!("{SPARE_PREFIX}{name}")))
}

/// Puts the spare in the target's place: exchanged with a target that is a plain file (which
/// becomes the next spare), renamed over anything else (nothing there yet, a link: replaced,
/// never followed) or where the file system cannot exchange.
fn replace_with_spare(spare: &Path, target: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(target).is_ok_and(|m| m.is_file()) {
        match exchange(spare, target) {
            Ok(()) => return Ok(()),
            // Not supported here, or the target went meanwhile: a plain rename does the job.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::ENOSYS | libc::ENOENT | libc::EOPNOTSUPP)
                ) => {}
            Err(e) => return Err(e),
        }
    }
    std::fs::rename(spare, target)
}

/// `renameat2(a, b, RENAME_EXCHANGE)`: the two names swap files, atomically.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both strings are NUL-terminated and outlive the call; AT_FDCWD with paths as
    // given, as rename(2) takes them.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// `syncfs(2)`: every file of `file`'s file system durable.
#[cfg(target_os = "linux")]
fn sync_file_system(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: syncfs only reads the descriptor, which `file` keeps open for the call.
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn sync_file_system(file: &File) -> io::Result<()> {
    file.sync_all()
}

/// What [`write_token_file`] found in the file's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// Nothing, or a plain file: the usual case.
    File,
    /// A symbolic link, now replaced by a plain file; its target was never opened.
    Link,
}

/// A token file (`access_token_file`, `id_token_file`): the token alone, `0600`, written with
/// the store's crash-safe replacement. The rename replaces whatever name was there without
/// following it, so a symbolic link in the file's place is replaced by a plain file and its
/// target is never written (the link is reported, so the user hears of it).
pub fn write_token_file(target: &Path, token: &[u8]) -> io::Result<Replaced> {
    let dir = target
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no directory"))?;
    let found = match std::fs::symlink_metadata(target) {
        Ok(meta) if meta.file_type().is_symlink() => Replaced::Link,
        Ok(meta) if meta.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "a directory is in the file's place",
            ));
        }
        _ => Replaced::File,
    };
    AtomicDir::new(dir).write(target, token)?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_token_file_is_private_bare_and_replaces_a_link_without_writing_its_target() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("at");
        assert_eq!(write_token_file(&file, b"AT-1").unwrap(), Replaced::File);
        assert_eq!(std::fs::read(&file).unwrap(), b"AT-1");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let target = tmp.path().join("target");
        std::fs::write(&target, "precious").unwrap();
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&target, &file).unwrap();
        assert_eq!(write_token_file(&file, b"AT-2").unwrap(), Replaced::Link);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        assert!(
            !std::fs::symlink_metadata(&file)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"AT-2");
    }

    #[test]
    fn with_spares_a_target_and_its_spare_trade_places_and_no_inode_is_made_after_the_second_write()
    {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = AtomicDir::with_spares(tmp.path());
        let target = tmp.path().join("p.json");
        let ino = || std::fs::metadata(&target).unwrap().ino();
        dir.write(&target, b"first, and longer").unwrap();
        let first = ino();
        dir.write(&target, b"second").unwrap();
        let second = ino();
        assert_ne!(first, second);
        for (i, expected) in [first, second, first, second].into_iter().enumerate() {
            let text = format!("write {i}");
            dir.write(&target, text.as_bytes()).unwrap();
            assert_eq!(
                std::fs::read_to_string(&target).unwrap(),
                text,
                "shorter: truncated"
            );
            assert_eq!(ino(), expected, "the two files take turns");
        }
        let spare = tmp.path().join(".spare.p.json");
        let mode = std::fs::metadata(&spare).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_spare_that_is_a_link_or_loose_is_passed_over_and_its_target_never_written() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = AtomicDir::with_spares(tmp.path());
        let target = tmp.path().join("p.json");
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "precious").unwrap();
        std::os::unix::fs::symlink(&outside, tmp.path().join(".spare.p.json")).unwrap();
        dir.write(&target, b"one").unwrap();
        dir.write(&target, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "two");

        let loose = tmp.path().join(".spare.q.json");
        std::fs::write(&loose, "x").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        let q = tmp.path().join("q.json");
        dir.write(&q, b"one").unwrap();
        dir.write(&q, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&q).unwrap(), "two");
        assert_eq!(std::fs::read_to_string(&loose).unwrap(), "x", "left alone");
        assert_eq!(
            std::fs::metadata(&q).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn only_a_commit_in_a_burst_of_writes_waits_for_more_writers() {
        let now = Instant::now();
        assert_eq!(gather_pause(None, now), Duration::ZERO, "the first write");
        assert_eq!(
            gather_pause(Some(now - BURST * 2), now),
            Duration::ZERO,
            "a lone write"
        );
        assert_eq!(
            gather_pause(Some(now - BURST / 5), now),
            GATHER,
            "within a burst"
        );
    }

    #[test]
    fn concurrent_writers_with_spares_all_land() {
        concurrent_writers(AtomicDir::with_spares);
    }

    #[test]
    fn concurrent_writers_all_land_and_share_directory_syncs() {
        concurrent_writers(AtomicDir::new);
    }

    fn concurrent_writers(make: fn(&Path) -> AtomicDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Arc::new(make(tmp.path()));
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let dir = dir.clone();
                let root = tmp.path().to_path_buf();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        let target = root.join(format!("w{w}.json"));
                        dir.write(&target, format!("{w}-{i}").as_bytes()).unwrap();
                        // Durable and visible when write returns.
                        assert_eq!(
                            std::fs::read_to_string(&target).unwrap(),
                            format!("{w}-{i}")
                        );
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(
            dir.commits.lock().unwrap().through,
            160,
            "every write went through a commit"
        );
        assert!(dir.queue.lock().unwrap().waiting.is_empty());
        let leftovers = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(TEMP_PREFIX)
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
