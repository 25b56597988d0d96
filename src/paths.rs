//! Where tokdash's files live (SPEC.md "Names and paths").

use directories::ProjectDirs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Paths {
    pub config: PathBuf,
    pub store: PathBuf,
    /// `--store`/`$TOKDASH_STORE` chose the store: a local file store, whatever `[store]` says.
    pub store_forced: bool,
    /// The data directory: the team store's spill lives in `spill/` under it.
    pub data: PathBuf,
    pub log: Option<PathBuf>,
    /// Where the config's index is kept (`config/index.rs`): a cache, safe to delete.
    pub config_index: Option<PathBuf>,
}

impl Paths {
    /// `--config`/`--store` (clap also reads `$TOKDASH_CONFIG`/`$TOKDASH_STORE` into them), else
    /// the platform's directories.
    pub fn resolve(config: Option<&Path>, store: Option<&Path>) -> Result<Paths, String> {
        let dirs = ProjectDirs::from("", "", "tokdash");
        let from_dirs = |what: &str, f: &dyn Fn(&ProjectDirs) -> PathBuf| {
            dirs.as_ref().map(f).ok_or_else(|| {
                format!(
                    "cannot find a home directory for the {what}; pass --{what} or set $TOKDASH_{}",
                    what.to_uppercase()
                )
            })
        };
        let config = match config {
            Some(p) => p.to_path_buf(),
            None => from_dirs("config", &|d| d.config_dir().join("profiles.toml"))?,
        };
        let store_forced = store.is_some();
        let store = match store {
            Some(p) => p.to_path_buf(),
            None => from_dirs("store", &|d| d.data_dir().join("tokens"))?,
        };
        let config_index = dirs.as_ref().map(|d| d.cache_dir().join("config-index"));
        let data = match &dirs {
            Some(d) => d.data_dir().to_path_buf(),
            None => store.parent().unwrap_or(&store).to_path_buf(),
        };
        let log = dirs.map(|d| {
            d.state_dir()
                .unwrap_or_else(|| d.data_dir())
                .join("tokdash.log")
        });
        Ok(Paths {
            config,
            store,
            store_forced,
            data,
            log,
            config_index,
        })
    }

    /// The config file alone (for `config init`, which needs no store and no log).
    pub fn config_path(config: Option<&Path>) -> Result<PathBuf, String> {
        match config {
            Some(p) => Ok(p.to_path_buf()),
            None => ProjectDirs::from("", "", "tokdash")
                .map(|d| d.config_dir().join("profiles.toml"))
                .ok_or_else(|| {
                    "cannot find a home directory for the config; pass --config or set $TOKDASH_CONFIG"
                        .to_string()
                }),
        }
    }
}
