//! Crash-safe file replacement: a temporary file in the same directory, fsync, rename over the
//! target, fsync of the directory. A crash at any instant leaves the old file or the new one.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

pub fn write_atomically(dir: &Path, target: &Path, bytes: &[u8]) -> io::Result<()> {
    // tempfile creates the file 0600 with O_EXCL; its name starts with `.tmp`, which no profile
    // name can, so a leftover from a crash never looks like a record.
    let mut tmp = tempfile::Builder::new().prefix(".tmp").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    sync_dir(dir)
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
