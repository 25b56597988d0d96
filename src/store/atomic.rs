//! Crash-safe file replacement: a temporary file in the same directory, fsync, rename over the
//! target, fsync of the directory. A crash at any instant leaves the old file or the new one.
//!
//! The temporary files' data is group-committed too (one `syncfs` for the writers that wrote
//! at about the same time, before any of them renames); see `data_sync_through`.
//!
//! The directory's fsync is group-committed: writers that rename at about the same time share
//! one fsync, as databases share a log flush. Each writer still returns only after an fsync of
//! the directory that began after its own rename, so every caller sees the guarantee it would
//! have with an fsync of its own; `refresh --all` just pays for far fewer of them.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files start with this; no profile name can (names do not start with `.`).
pub const TEMP_PREFIX: &str = ".tmp";

#[derive(Debug)]
pub struct AtomicDir {
    dir: PathBuf,
    /// Temporary files written so far (a ticket each), not yet known to be durable.
    written: AtomicU64,
    /// Every temporary file up to this ticket is durable; held across the barrier, as `synced`.
    data_synced: Mutex<u64>,
    /// Renames finished so far (a ticket each).
    renamed: AtomicU64,
    /// Every rename up to this ticket is durable. Held across the fsync, so that writers who
    /// arrive meanwhile wait and then find themselves covered by it, or by the next one.
    synced: Mutex<u64>,
}

impl AtomicDir {
    pub fn new(dir: &Path) -> AtomicDir {
        AtomicDir {
            dir: dir.to_path_buf(),
            written: AtomicU64::new(0),
            data_synced: Mutex::new(0),
            renamed: AtomicU64::new(0),
            synced: Mutex::new(0),
        }
    }

    pub fn write(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        // tempfile creates the file 0600 with O_EXCL; its name starts with `.tmp`, which no
        // profile name can, so a leftover from a crash never looks like a record.
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)?;
        // Held until this function returns: the sweep of leftovers (FileStore::remove_stale_temporaries)
        // leaves a locked temporary file alone, however long its writer has been stopped.
        tmp.as_file().lock()?;
        tmp.write_all(bytes)?;
        let written = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        self.data_sync_through(written, tmp.as_file())?;
        tmp.persist(target).map_err(|e| e.error)?;
        let ticket = self.renamed.fetch_add(1, Ordering::SeqCst) + 1;
        self.sync_through(ticket)
    }

    /// Returns once the temporary file of write `ticket` is durable. Writers that wrote at about
    /// the same time share one barrier: `syncfs` of the store's file system, which makes every
    /// file written before it began durable (as an fsync of each would), in one journal commit
    /// and one flush of the disk's cache instead of one per file. A writer alone fsyncs its own
    /// file, so a single `token` refresh never waits for other programs' data.
    fn data_sync_through(&self, ticket: u64, own: &File) -> io::Result<()> {
        let mut synced = self.data_synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= ticket {
            return Ok(());
        }
        let covered = self.written.load(Ordering::SeqCst);
        if covered == *synced + 1 {
            own.sync_all()?;
        } else {
            sync_file_system(own)?;
        }
        *synced = covered;
        Ok(())
    }

    /// Returns once an fsync of the directory that started after rename `ticket` has finished.
    fn sync_through(&self, ticket: u64) -> io::Result<()> {
        // A poisoned lock only means another writer panicked; the counter is still right.
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= ticket {
            return Ok(());
        }
        // Every rename counted here finished before this fsync starts.
        let covered = self.renamed.load(Ordering::SeqCst);
        File::open(&self.dir)?.sync_all()?;
        *synced = covered;
        Ok(())
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
        assert_eq!(dir.renamed.load(Ordering::SeqCst), 160);
        assert_eq!(
            *dir.data_synced.lock().unwrap(),
            160,
            "every temporary file was made durable before its rename"
        );
        assert_eq!(
            *dir.synced.lock().unwrap(),
            160,
            "the last rename is covered"
        );
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
