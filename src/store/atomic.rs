//! Crash-safe file replacement: a temporary file in the same directory, made durable, renamed
//! over the target, then an fsync of the directory. A crash at any instant leaves the old file or
//! the new one.
//!
//! Writes that arrive together are committed together, as databases share a log flush: each
//! writer queues its bytes; the first to find no commit running becomes the leader, and commits
//! what is queued, batch after batch, until the queue is empty. For a batch the leader writes
//! each file (a temporary file, or the target's spare, below), pays one barrier, a `syncfs`,
//! which makes the batch's files durable and with them the renames of the batch before (a file
//! system's sync writes its directories too), then renames the files over their targets; the
//! renames of the last batch get an fsync of the directory. Each writer's call returns only
//! once its file went through a barrier and its rename through the next, so every caller sees
//! the guarantee it would have with fsyncs of its own; `refresh --all` pays about one barrier
//! per batch instead of two per profile (BENCHMARKS.md, issue 15).
//!
//! Two ways to wait: [`AtomicDir::write`] blocks its thread (leading the commit itself when none
//! runs); [`AtomicDir::start_write`] returns a [`Durable`] to `.await`, the leader then running
//! on one of tokio's blocking threads. A command's saves take the second way: its one async
//! thread goes on driving the requests, and no thread is handed each save only to park until
//! its commit (two context switches per refresh, BENCHMARKS.md). The leader, not the writer,
//! writes the files: a write can wait for the disk (rewriting part of a block that is not cached
//! reads the block first), and must not stall that async thread.
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
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A commit that starts less than this after the last one ended is part of a burst of writes
/// (`refresh --all`, the dashboard refreshing many profiles)...
const BURST: Duration = Duration::from_millis(5);
/// ...and, when the last writer said more writes are on their way, waits this long before
/// taking the queue, so that they join its batch: fewer barriers per write (BENCHMARKS.md,
/// issue 15). A lone write (`tokdash token`) never waits, nor the last writes of a burst.
/// 10 ms, against a server answering a refresh in 1–2 ms: `refresh --all` of 500 pays about 70
/// barriers instead of about 220 (with 1 ms), for 20% less CPU and no loss of pace (the engine
/// keeps enough profiles under way that the requests go on meanwhile); longer saved little more.
const GATHER: Duration = Duration::from_millis(10);

/// Temporary files start with this; no profile name can (names do not start with `.`).
pub const TEMP_PREFIX: &str = ".tmp";

/// Spare files start with this (kept on purpose, so not swept as temporaries).
pub const SPARE_PREFIX: &str = ".spare.";

#[derive(Debug)]
pub struct AtomicDir {
    dir: PathBuf,
    /// Writes go through each target's spare file (module doc).
    spares: bool,
    /// Written files waiting for a commit, and whether a leader is committing.
    queue: Mutex<Queue>,
    /// What the commits did, for the writers waiting on them.
    committed: Mutex<Committed>,
    /// Wakes the writers blocked in [`AtomicDir::write`] after each commit...
    blocked: Condvar,
    /// ...and those awaiting a [`Durable`].
    awaiting: tokio::sync::Notify,
    /// The directory, opened for its fsyncs on the first one.
    dir_file: std::sync::OnceLock<File>,
}

#[derive(Debug, Default)]
struct Queue {
    /// The last ticket handed out.
    issued: u64,
    waiting: Vec<Queued>,
    /// A leader is committing: it takes what is queued before it stops.
    leading: bool,
    /// The last writer expects more writes right behind its own (see [`AtomicDir::start_write`]).
    more_coming: bool,
}

/// A write waiting for its commit, which writes it.
#[derive(Debug)]
struct Queued {
    ticket: u64,
    target: PathBuf,
    bytes: Vec<u8>,
}

/// A write whose file is written, waiting for its barrier.
#[derive(Debug)]
struct Written {
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
    failed: Failures,
    /// When the last commit ended.
    last_end: Option<Instant>,
}

impl Committed {
    /// The outcome of `ticket`'s commit, once it went through one.
    fn outcome(&mut self, ticket: u64) -> Option<io::Result<()>> {
        if self.through < ticket {
            return None;
        }
        Some(
            match self.failed.iter().position(|(t, _, _)| *t == ticket) {
                Some(i) => {
                    let (_, kind, why) = self.failed.swap_remove(i);
                    Err(io::Error::new(kind, why))
                }
                None => Ok(()),
            },
        )
    }
}

/// How long a commit starting `now` waits for more writers: [`GATHER`] within a burst, when
/// more are on their way.
fn gather_pause(last_end: Option<Instant>, now: Instant, more_coming: bool) -> Duration {
    match last_end {
        Some(end) if now.saturating_duration_since(end) < BURST => next_pause(more_coming),
        _ => Duration::ZERO,
    }
}

/// How long the leader waits before its next batch, in a burst: [`GATHER`] when more writers
/// are on their way.
fn next_pause(more_coming: bool) -> Duration {
    if more_coming { GATHER } else { Duration::ZERO }
}

/// A poisoned lock only means another writer panicked; what it guards is still whole (every
/// change to it is one assignment or push).
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// A write started by [`AtomicDir::start_write`]: `.await` it for the write's durability.
#[derive(Debug)]
#[must_use = "the write is durable only once this is awaited"]
pub struct Durable {
    dir: Arc<AtomicDir>,
    ticket: u64,
}

impl Durable {
    /// Returns once the write is durable (or failed), without blocking the thread.
    pub async fn wait(self) -> io::Result<()> {
        loop {
            let notified = self.dir.awaiting.notified();
            tokio::pin!(notified);
            // Registered before the check, so that a commit ending between the check and the
            // await still wakes this writer.
            notified.as_mut().enable();
            if let Some(outcome) = locked(&self.dir.committed).outcome(self.ticket) {
                return outcome;
            }
            notified.await;
        }
    }
}

/// The leader of the commits, should it unwind (a panic in a commit): its batch fails rather
/// than leaving its writers waiting, and the next writer can lead.
struct Leader<'a> {
    dir: &'a AtomicDir,
    /// The last ticket of the batch being committed.
    in_flight: Option<u64>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        let first = locked(&self.dir.committed).through + 1;
        if let Some(last) = self.in_flight {
            let why = "the commit of this write was interrupted";
            let failed = (first..=last)
                .map(|t| (t, io::ErrorKind::Interrupted, why.to_string()))
                .collect();
            self.dir.record(last, failed);
        }
        locked(&self.dir.queue).leading = false;
        self.dir.wake_waiters();
    }
}

impl AtomicDir {
    pub fn new(dir: &Path) -> AtomicDir {
        AtomicDir {
            dir: dir.to_path_buf(),
            spares: false,
            queue: Mutex::new(Queue::default()),
            committed: Mutex::new(Committed::default()),
            blocked: Condvar::new(),
            awaiting: tokio::sync::Notify::new(),
            dir_file: std::sync::OnceLock::new(),
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

    /// Replaces `target` with `bytes`, durably, before it returns; blocks the thread. Its
    /// writer cannot tell whether others follow (the dashboard's saves), so a commit in a burst
    /// waits for them.
    pub fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        let (ticket, lead) = self.queue(target, bytes.to_vec(), true);
        if lead {
            self.lead();
        }
        let mut committed = locked(&self.committed);
        loop {
            if let Some(outcome) = committed.outcome(ticket) {
                return outcome;
            }
            committed = self
                .blocked
                .wait(committed)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Queues `bytes` for `target` and returns at once; a blocking thread of the current tokio
    /// runtime leads the commit when none runs (this thread, when there is no runtime).
    /// `target` is replaced once the returned [`Durable`] resolves; until then nothing is
    /// promised (a crash leaves the old file). `more_coming`: the writer expects more writes
    /// right behind this one (a command with other requests in flight); a commit in a burst
    /// then waits [`GATHER`] for them, else it starts at once.
    pub fn start_write(
        self: &Arc<Self>,
        target: &Path,
        bytes: Vec<u8>,
        more_coming: bool,
    ) -> Durable {
        let (ticket, lead) = self.queue(target, bytes, more_coming);
        if lead {
            let leader = self.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(move || leader.lead())),
                Err(_) => leader.lead(),
            }
        }
        Durable {
            dir: self.clone(),
            ticket,
        }
    }

    /// Queues a write; returns its ticket, and whether the caller must lead the commit (none
    /// runs).
    fn queue(&self, target: &Path, bytes: Vec<u8>, more_coming: bool) -> (u64, bool) {
        let mut queue = locked(&self.queue);
        queue.more_coming = more_coming;
        queue.issued += 1;
        let ticket = queue.issued;
        queue.waiting.push(Queued {
            ticket,
            target: target.to_path_buf(),
            bytes,
        });
        let lead = !std::mem::replace(&mut queue.leading, true);
        (ticket, lead)
    }

    /// Writes each queued file: into the target's spare, or a new temporary file. The leader
    /// writes them, not their writers: a write can wait for the disk (a partial write of a
    /// block that is not cached reads it first), which must not stall a command's one async
    /// thread.
    fn write_files(&self, batch: Vec<Queued>) -> (Vec<Written>, Failures) {
        let mut written = Vec::with_capacity(batch.len());
        let mut failed = Vec::new();
        for Queued {
            ticket,
            target,
            bytes,
        } in batch
        {
            match self.write_file(&target, &bytes) {
                Ok(file) => written.push(Written {
                    ticket,
                    file,
                    target,
                }),
                Err(e) => failed.push((ticket, e.kind(), e.to_string())),
            }
        }
        (written, failed)
    }

    fn write_file(&self, target: &Path, bytes: &[u8]) -> io::Result<Pending> {
        if let Some(spare) = self.spare_written(target, bytes) {
            return Ok(spare);
        }
        // tempfile creates the file 0600 with O_EXCL; its name starts with `.tmp`, which no
        // profile name can, so a leftover from a crash never looks like a record.
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)?;
        // Held until the file is renamed: the sweep of leftovers
        // (FileStore::remove_stale_temporaries) leaves a locked temporary file alone, however
        // long its writer has been stopped.
        tmp.as_file().lock()?;
        tmp.write_all(bytes)?;
        Ok(Pending::Fresh(tmp))
    }

    /// Commits what is queued, batch after batch, until the queue is empty, and wakes the
    /// writers of each batch once it is durable. Only one leader runs at a time
    /// (`Queue::leading`).
    ///
    /// A batch costs one barrier: the `syncfs` that makes its files durable also makes the
    /// previous batch's renames durable (a file system's sync writes its directories too), and
    /// that batch's writers are woken after it. The last batch's renames get an fsync of the
    /// directory of their own before the leader stops.
    fn lead(&self) {
        let mut leader = Leader {
            dir: self,
            in_flight: None,
        };
        let more_coming = locked(&self.queue).more_coming;
        let mut pause = gather_pause(
            locked(&self.committed).last_end,
            Instant::now(),
            more_coming,
        );
        let mut renamed: Option<Renamed> = None;
        loop {
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
            let batch = std::mem::take(&mut locked(&self.queue).waiting);
            if let Some(last) = batch.last().map(|q| q.ticket) {
                leader.in_flight = Some(last);
                let (written, failed) = self.write_files(batch);
                // One file alone, with no renames to cover, is fsynced by itself: a single
                // `token` refresh never waits for the rest of the file system's dirty data.
                let barrier = match (written.as_slice(), &renamed) {
                    ([], None) => Ok(()),
                    ([], Some(_)) => self.sync_dir(),
                    ([one], None) => one.file.as_file().sync_all(),
                    ([first, ..], _) => sync_file_system(first.file.as_file()),
                };
                match barrier {
                    Ok(()) => {
                        if let Some(previous) = renamed.take() {
                            previous.durable(self);
                        }
                        renamed = Some(Renamed::new(last, written, failed));
                    }
                    Err(e) => {
                        if let Some(previous) = renamed.take() {
                            previous.lost(self, &e);
                        }
                        let tickets: Vec<u64> = written.iter().map(|w| w.ticket).collect();
                        let mut failed = failed;
                        failed.extend(failures(&tickets, &e));
                        self.record(last, failed);
                    }
                }
            }
            {
                let queue = locked(&self.queue);
                if !queue.waiting.is_empty() {
                    // More arrived during this batch: a burst, so wait for those on their way.
                    pause = next_pause(queue.more_coming);
                    continue;
                }
            }
            if let Some(last_batch) = renamed.take() {
                match self.sync_dir() {
                    Ok(()) => last_batch.durable(self),
                    Err(e) => last_batch.lost(self, &e),
                }
            }
            leader.in_flight = None;
            // Stopping is decided under the queue's lock, where writers decide to lead.
            let mut queue = locked(&self.queue);
            if queue.waiting.is_empty() {
                queue.leading = false;
                break;
            }
            pause = next_pause(queue.more_coming);
        }
        std::mem::forget(leader);
    }

    /// A batch's tickets up to `last` went through their commit, all but `failed`.
    fn record(&self, last: u64, failed: Failures) {
        {
            let mut committed = locked(&self.committed);
            committed.failed.extend(failed);
            committed.through = last;
            committed.last_end = Some(Instant::now());
        }
        self.wake_waiters();
    }

    fn wake_waiters(&self) {
        self.blocked.notify_all();
        self.awaiting.notify_waiters();
    }

    /// An fsync of the directory: its renames durable. The directory is opened once.
    fn sync_dir(&self) -> io::Result<()> {
        let dir = match self.dir_file.get() {
            Some(dir) => dir,
            None => {
                let opened = File::open(&self.dir)?;
                self.dir_file.get_or_init(|| opened)
            }
        };
        dir.sync_all()
    }
}

/// Tickets that failed, with why; taken by their writers.
type Failures = Vec<(u64, io::ErrorKind, String)>;

fn failures(tickets: &[u64], e: &io::Error) -> Failures {
    tickets
        .iter()
        .map(|t| (*t, e.kind(), e.to_string()))
        .collect()
}

/// A batch whose files are durable and renamed into place, waiting for the barrier that makes
/// the renames durable.
struct Renamed {
    last: u64,
    done: Vec<u64>,
    failed: Failures,
}

impl Renamed {
    /// Renames each written file over its target; the batch's tickets end at `last`, and
    /// `failed` are those already lost.
    fn new(last: u64, written: Vec<Written>, failed: Failures) -> Renamed {
        let mut renamed = Renamed {
            last,
            done: Vec::with_capacity(written.len()),
            failed,
        };
        for Written {
            ticket,
            file,
            target,
        } in written
        {
            match file.replace(&target) {
                Ok(()) => renamed.done.push(ticket),
                Err(e) => renamed.failed.push((ticket, e.kind(), e.to_string())),
            }
        }
        renamed
    }

    /// The barrier after the renames succeeded: the batch is committed.
    fn durable(self, dir: &AtomicDir) {
        dir.record(self.last, self.failed);
    }

    /// The barrier failed: the renamed files are in place, but not known to be durable.
    fn lost(mut self, dir: &AtomicDir, e: &io::Error) {
        self.failed.extend(failures(&self.done, e));
        dir.record(self.last, self.failed);
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
        // Cut only what the old content had beyond the new: a record is rewritten at about its
        // size, so this is rarely needed (an `ftruncate` is 3% of `refresh --all`'s CPU).
        let len = u64::try_from(bytes.len()).ok()?;
        if meta.len() > len {
            file.set_len(len).ok()?;
        }
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
        assert_eq!(
            gather_pause(None, now, true),
            Duration::ZERO,
            "the first write"
        );
        assert_eq!(
            gather_pause(Some(now - BURST * 2), now, true),
            Duration::ZERO,
            "a lone write"
        );
        assert_eq!(
            gather_pause(Some(now - BURST / 5), now, true),
            GATHER,
            "within a burst"
        );
        assert_eq!(
            gather_pause(Some(now - BURST / 5), now, false),
            Duration::ZERO,
            "within a burst, but no other writer on its way"
        );
        assert_eq!(next_pause(true), GATHER);
        assert_eq!(next_pause(false), Duration::ZERO);
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
        assert_everything_committed(&dir, 160);
    }

    fn assert_everything_committed(dir: &AtomicDir, writes: u64) {
        assert_eq!(
            dir.committed.lock().unwrap().through,
            writes,
            "every write went through a commit"
        );
        assert!(dir.queue.lock().unwrap().waiting.is_empty());
        // A leader on a blocking thread wakes the last batch's writers before it stops (it must
        // stop under the queue's lock, after recording): it stops soon after, not at once.
        let deadline = Instant::now() + Duration::from_secs(10);
        while dir.queue.lock().unwrap().leading {
            assert!(
                Instant::now() < deadline,
                "the leader stopped, so the next writer leads"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let leftovers = std::fs::read_dir(&dir.dir)
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

    /// A command's runtime: one async thread, and blocking threads for the commits' leader.
    fn one_thread_runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    /// A command's way: many writes started on one async thread, awaited together; each is in
    /// place once its `Durable` resolves, and the commits share barriers.
    #[test]
    fn writes_awaited_on_one_async_thread_all_land_in_shared_commits() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Arc::new(AtomicDir::with_spares(tmp.path()));
        let runtime = one_thread_runtime();
        let rounds = 5;
        runtime.block_on(async {
            for round in 0..rounds {
                let writes: Vec<_> = (0..16)
                    .map(|w| {
                        let target = tmp.path().join(format!("w{w}.json"));
                        let text = format!("{w}-{round}");
                        let durable = dir.start_write(&target, text.clone().into_bytes(), true);
                        async move {
                            durable.wait().await.unwrap();
                            assert_eq!(std::fs::read_to_string(&target).unwrap(), text);
                        }
                    })
                    .collect();
                futures::future::join_all(writes).await;
            }
        });
        assert_everything_committed(&dir, 16 * rounds);
    }

    /// A write that cannot take its target's place (its directory is gone) fails alone: the
    /// writes committed in the same batches land, and the next writer can lead again.
    #[test]
    fn a_write_that_cannot_land_fails_alone_and_its_batch_lands() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Arc::new(AtomicDir::with_spares(tmp.path()));
        let runtime = one_thread_runtime();
        let lost = tmp.path().join("gone").join("p.json");
        let outcomes = runtime.block_on(async {
            let writes: Vec<_> = (0..8)
                .map(|w| {
                    let target = if w == 3 {
                        lost.clone()
                    } else {
                        tmp.path().join(format!("w{w}.json"))
                    };
                    let durable = dir.start_write(&target, format!("{w}").into_bytes(), w < 7);
                    async move { (target, durable.wait().await) }
                })
                .collect();
            futures::future::join_all(writes).await
        });
        for (target, outcome) in outcomes {
            if target == lost {
                let e = outcome.expect_err("no directory to rename into");
                assert_eq!(e.kind(), io::ErrorKind::NotFound);
            } else {
                outcome.unwrap();
                assert!(target.exists());
            }
        }
        assert!(!lost.exists());
        let committed = dir.committed.lock().unwrap();
        assert_eq!(committed.through, 8);
        assert!(
            committed.failed.is_empty(),
            "the failure was taken by its writer"
        );
        drop(committed);
        // The temporary file of the lost write is gone too (tempfile removes it when dropped).
        assert_everything_committed(&dir, 8);
    }

    /// Without a runtime, `start_write` leads the commit on its own thread.
    #[test]
    fn a_write_started_outside_a_runtime_is_committed_before_it_is_awaited() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Arc::new(AtomicDir::new(tmp.path()));
        let target = tmp.path().join("p.json");
        let durable = dir.start_write(&target, b"one".to_vec(), false);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "one");
        let runtime = one_thread_runtime();
        runtime.block_on(durable.wait()).unwrap();
        assert_everything_committed(&dir, 1);
    }
}
