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

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporary files start with this; no profile name can (names do not start with `.`).
pub const TEMP_PREFIX: &str = ".tmp";

#[derive(Debug)]
pub struct AtomicDir {
    dir: PathBuf,
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
    file: tempfile::NamedTempFile,
    target: PathBuf,
}

#[derive(Debug, Default)]
struct Committed {
    /// Every ticket up to this one went through a commit.
    through: u64,
    /// The tickets whose commit failed, with why; taken by their writers.
    failed: Vec<(u64, io::ErrorKind, String)>,
}

impl AtomicDir {
    pub fn new(dir: &Path) -> AtomicDir {
        AtomicDir {
            dir: dir.to_path_buf(),
            queue: Mutex::new(Queue::default()),
            commits: Mutex::new(Committed::default()),
        }
    }

    pub fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        // tempfile creates the file 0600 with O_EXCL; its name starts with `.tmp`, which no
        // profile name can, so a leftover from a crash never looks like a record.
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)?;
        // Held until the file is renamed: the sweep of leftovers (FileStore::remove_stale_temporaries)
        // leaves a locked temporary file alone, however long its writer has been stopped.
        tmp.as_file().lock()?;
        tmp.write_all(bytes)?;
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
            let batch =
                std::mem::take(&mut self.queue.lock().unwrap_or_else(|p| p.into_inner()).waiting);
            let last = batch.last().map_or(committed.through, |q| q.ticket);
            committed.failed.extend(self.commit(batch));
            committed.through = last;
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
            match queued.file.persist(&queued.target) {
                Ok(_) => renamed.push(queued.ticket),
                Err(e) => failed.push((queued.ticket, e.error.kind(), e.error.to_string())),
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
    fn concurrent_writers_all_land_and_share_directory_syncs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Arc::new(AtomicDir::new(tmp.path()));
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
