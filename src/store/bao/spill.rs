//! The local spill: where a record goes when the team store cannot be written after the
//! provider handed out new tokens (a rotated refresh token must not be lost). One `0600` file per
//! profile, `<data dir>/spill/<name>.json` in a `0700` directory, in the file store's record
//! format, written with the same crash-safe replacement. A spilled record is this host's newest
//! truth for its profile until it reaches the team store (`BaoStore::sync`).

use crate::store::TokenRecord;
use crate::store::atomic::AtomicDir;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub struct Spill {
    dir: PathBuf,
    writer: AtomicDir,
}

impl Spill {
    pub fn new(dir: &Path) -> Spill {
        Spill {
            dir: dir.to_path_buf(),
            writer: AtomicDir::new(dir),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Where the fingerprint of the tokens the spilled record's refresh started from is kept
    /// (`fingerprint`): what the sync compares the team's record with.
    fn base_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.base"))
    }

    /// Writes the record durably (file and directory fsynced) before returning, with `base`,
    /// the fingerprint of the tokens its refresh started from, when known (written first: a
    /// spill is its record file, and a base without one is ignored).
    pub fn put(&self, name: &str, record: &TokenRecord, base: Option<u64>) -> Result<(), String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| {
                format!(
                    "{}: cannot create the spill directory: {e}",
                    self.dir.display()
                )
            })?;
        match base {
            Some(base) => {
                let path = self.base_path(name);
                self.writer
                    .write(&path, format!("{base:016x}\n").as_bytes())
                    .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
            }
            None => remove_if_there(&self.base_path(name)),
        }
        let bytes = serde_json::to_vec_pretty(record).map_err(|e| e.to_string())?;
        let path = self.path(name);
        self.writer
            .write(&path, &bytes)
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))
    }

    /// The spilled record, if any; a file that is not one (a link, garbage) is reported.
    pub fn get(&self, name: &str) -> Result<Option<TokenRecord>, String> {
        let path = self.path(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "{}: cannot read the spilled record: {e}",
                    path.display()
                ));
            }
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| format!("{}: cannot read the spilled record: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            // Position only: serde's message may quote a token.
            format!(
                "{}: the spilled record is not valid (line {} column {}); move it away once its token is safe",
                path.display(),
                e.line(),
                e.column()
            )
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// The fingerprint of the tokens the spilled record's refresh started from, when it was
    /// known and kept.
    pub fn base(&self, name: &str) -> Option<u64> {
        let text = std::fs::read_to_string(self.base_path(name)).ok()?;
        u64::from_str_radix(text.trim(), 16).ok()
    }

    pub fn remove(&self, name: &str) {
        remove_if_there(&self.path(name));
        remove_if_there(&self.base_path(name));
    }

    /// The profiles with a spilled record, sorted.
    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().into_string().ok()?;
                let name = file.strip_suffix(".json")?;
                crate::config::is_valid_profile_name(name).then(|| name.to_string())
            })
            .collect();
        names.sort_unstable();
        names
    }
}

fn remove_if_there(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("{}: cannot remove the synced spill: {e}", path.display());
    }
}
