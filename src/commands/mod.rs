//! One file per subcommand. They share the engine with the dashboard; nothing here talks
//! HTTP or touches the store by itself: every record is read and written by the engine.

mod browser_login;
mod call;
mod check;
mod completions;
mod config_check;
mod config_init;
mod dashboard;
mod exec;
mod git_credential;
mod health;
mod import;
mod kube_credential;
mod list;
mod login;
mod refresh;
mod revoke;
mod store;
mod token;

pub use call::{CallArgs, call};
pub use check::check;
pub use completions::{CompletionShell, completions, names};
pub use config_check::config_check;
pub use config_init::{StarterProvider, config_init};
pub use dashboard::{agent, dashboard, demo};
pub use exec::{DEFAULT_VAR as EXEC_DEFAULT_VAR, exec};
pub use git_credential::git_credential;
pub use health::health;
pub use import::import;
pub use kube_credential::kube_credential;
pub use list::list;
pub use login::{LoginFlags, login};
pub use refresh::refresh;
pub use revoke::revoke;
pub use store::migrate as store_migrate;
pub use token::{TokenFormat, token};

use crate::config::StoreSettings;
use crate::config::{Config, Profile};
use crate::engine::{AccessToken, DiskWork, Engine};
use crate::failure::Failure;
use crate::paths::Paths;
use crate::store::{Backend, BaoStore, FileStore, RecordMeta, TokenRecord};
use std::path::Path;
use std::sync::Arc;

pub struct Context {
    pub paths: Paths,
    /// Set once a team store is opened: its calls wait on the network on blocking threads, so
    /// the command's runtime gets more of them (see `runtime::Purpose::TeamCommand`).
    team: std::cell::Cell<bool>,
    _log_guard: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl Context {
    pub fn new(
        config: Option<&Path>,
        store: Option<&Path>,
        log_writes: crate::logging::LogWrites,
    ) -> Result<Context, Failure> {
        let paths = Paths::resolve(config, store).map_err(Failure::usage)?;
        let guard = crate::logging::init(paths.log.as_deref(), log_writes);
        Ok(Context {
            paths,
            team: std::cell::Cell::new(false),
            _log_guard: guard,
        })
    }

    /// Loads the config. Its warnings are said by [`warn_about`], for the profiles a command
    /// uses.
    pub fn config(&self) -> Result<Config, Failure> {
        Ok(Config::load(&self.paths.config)?)
    }

    /// The local file store: the records unless `[store]` names a team store, and the
    /// per-host cache (discovery documents) in every case.
    fn local_store(&self) -> Result<FileStore, Failure> {
        Ok(FileStore::open(&self.paths.store)?)
    }

    /// Opens the store `config` names: the team store of `[store]`, unless `--store` or
    /// `$TOKDASH_STORE` chose a local one. Only the dashboard and `refresh --all` (for the file
    /// store's housekeeping) hold it before handing it to an engine.
    fn store(&self, config: &Config) -> Result<Backend, Failure> {
        let local = self.local_store()?;
        match &config.store {
            StoreSettings::OpenBao(bao) if !self.paths.store_forced => {
                let team = BaoStore::open(bao, config.settings.timeout, &self.paths.data)?;
                self.team.set(true);
                Ok(Backend::Team(team, local))
            }
            _ => Ok(Backend::Files(local)),
        }
    }

    /// The engine on the config and the store, for a command.
    pub fn engine(&self) -> Result<Arc<Engine>, Failure> {
        let config = self.config()?;
        let store = self.store(&config)?;
        self.engine_on(Arc::new(config), store)
    }

    /// The engine for a command that uses one profile, which must be in the config. The
    /// config is read through its index where it can be (`Config::load_for`): with 1,000
    /// profiles that is most of what `token` costs.
    pub fn engine_for(&self, name: &str) -> Result<Arc<Engine>, Failure> {
        let paths = &self.paths;
        let config = Config::load_for(&paths.config, &[name], paths.config_index.as_deref())?;
        find_profile(&config, name)?;
        let store = self.store(&config)?;
        self.engine_on(Arc::new(config), store)
    }

    /// The engine on a config already loaded and a store already opened.
    fn engine_on(&self, config: Arc<Config>, store: Backend) -> Result<Arc<Engine>, Failure> {
        let cache = store.cache();
        // A team store's call waits for the network: on a blocking thread, so that the
        // command's one runtime thread drives the other profiles' requests meanwhile.
        let disk = if store.is_team() {
            DiskWork::Offload
        } else {
            DiskWork::Inline
        };
        Ok(Arc::new(
            Engine::new(config, store)?
                .with_cache(cache)
                .with_disk_work(disk),
        ))
    }

    /// The runtime a command runs its engine calls on.
    pub fn runtime(&self) -> Result<tokio::runtime::Runtime, Failure> {
        crate::runtime::build(if self.team.get() {
            crate::runtime::Purpose::TeamCommand
        } else {
            crate::runtime::Purpose::Command
        })
    }
}

/// Says the config's warnings that concern `names` (the profiles a command uses), once each, on
/// stderr (never stdout, which scripts read) and in the log.
pub fn warn_about(config: &Config, names: &[&str]) {
    for warning in config.warnings.iter().filter(|w| w.applies_to(names)) {
        tracing::warn!("{warning}");
        eprintln!("tokdash: warning: {warning}");
    }
}

/// The access token a command hands out (`token`, `exec`, `call`), by the due rule or
/// `--min-valid`, with the warnings on stderr (`use_word`: "printing", "using"): a failed refresh whose still-valid token is used,
/// and a fresh token that still has less than `--min-valid` left.
pub async fn hand_out(
    engine: &Engine,
    name: &str,
    min_valid: Option<std::time::Duration>,
    use_word: &str,
) -> Result<AccessToken, Failure> {
    let token = engine.access_token_with(name, min_valid).await?;
    let now = crate::clock::now();
    let left = crate::clock::expires_in(token.expires_at, now);
    if let Some(e) = &token.failed_refresh {
        eprintln!("tokdash: warning: {e}; {use_word} the current access token (expires in {left})");
    } else if let (Some(min), Some(at)) = (min_valid, token.expires_at)
        && at.saturating_sub(now) < i64::try_from(min.as_secs()).unwrap_or(i64::MAX)
    {
        let wanted = humantime::format_duration(min);
        tracing::warn!(
            profile = name,
            "the fresh access token has less than {wanted} left"
        );
        eprintln!(
            "tokdash: warning: {name}: the access token expires in {left}, less than --min-valid {wanted}, even fresh from the provider"
        );
    }
    Ok(token)
}

/// A profile's record as far as it could be read: its facts (`None`: no token yet), or the
/// store's words for a record it refuses.
pub type RecordFacts = Result<Option<RecordMeta>, String>;

/// Every profile of the config with the facts of its record, or the store's words for a record
/// it refuses (not JSON, a link…: that profile's problem, never a reason to hide the others).
pub fn every_record(
    ctx: &Context,
    engine: &Engine,
) -> Result<Vec<(Arc<Profile>, RecordFacts)>, Failure> {
    let profiles = engine.config().profiles.clone();
    Ok(ctx.runtime()?.block_on(async {
        let mut out = Vec::with_capacity(profiles.len());
        for profile in profiles {
            let unsynced = engine.unsynced(&profile.name);
            let record = match engine.load(&profile.name).await {
                Ok(record) => Ok(record.as_ref().map(|r| RecordMeta {
                    unsynced,
                    ..TokenRecord::meta(r)
                })),
                // The store's words, without the profile name the engine puts first.
                Err(e) => Err(e.message),
            };
            out.push((profile, record));
        }
        out
    }))
}

/// A name the config does not have is a usage error that lists the names it has.
pub fn find_profile<'a>(config: &'a Config, name: &str) -> Result<&'a Profile, Failure> {
    config.profile(name).ok_or_else(|| {
        let names = config.names();
        Failure::usage(if names.is_empty() {
            format!(
                "{name}: no such profile; {} defines none",
                config.path.display()
            )
        } else {
            format!(
                "{name}: no such profile; {} defines: {}",
                config.path.display(),
                names.join(", ")
            )
        })
    })
}
