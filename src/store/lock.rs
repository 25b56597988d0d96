//! One holder per profile across processes: an exclusive `flock` on `<name>.lock`.
//! The kernel drops the lock when the holder dies, so a killed process never wedges the store.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Released when dropped: closing the file releases its `flock` (no other descriptor shares it:
/// files are opened close-on-exec, so a hook's process never inherits it), which saves the
/// explicit unlock's system call on every refresh.
#[derive(Debug)]
pub struct ProfileLock {
    _file: File,
}

impl ProfileLock {
    /// Blocks until the lock is ours.
    pub fn acquire(path: &Path) -> io::Result<Self> {
        let file = open(path)?;
        file.lock()?;
        Ok(ProfileLock { _file: file })
    }

    /// `None` when another holder has it.
    pub fn try_acquire(path: &Path) -> io::Result<Option<Self>> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(ProfileLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// Never through a symbolic link (`O_NOFOLLOW`: the error is `ELOOP`), and only a plain file,
/// as the open file itself says: a lock taken on a link's target, or on a named pipe, is no lock
/// of the store's.
fn open(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(
            "not a plain file; move it out of the store and tokdash makes a new lock file",
        ));
    }
    Ok(file)
}
