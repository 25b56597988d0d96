//! One function per subcommand. They share the engine with the dashboard; nothing here talks
//! HTTP or writes the store by itself.

mod config_check;
mod engine_cmds;
mod import;
mod list;
mod login;

pub use config_check::config_check;
pub use engine_cmds::{check, refresh, refresh_many, revoke, runtime, token};
pub use import::import;
pub use list::list;
pub use login::login;

use crate::config::{Config, Profile};
use crate::failure::{CmdResult, Failure};
use crate::paths::Paths;
use crate::store::Store;
use std::path::Path;

pub struct Context {
    pub paths: Paths,
    _log_guard: Option<tracing_appender::non_blocking::WorkerGuard>,
}

impl Context {
    pub fn new(config: Option<&Path>, store: Option<&Path>) -> Result<Context, Failure> {
        let paths = Paths::resolve(config, store).map_err(Failure::usage)?;
        let guard = crate::logging::init(paths.log.as_deref());
        Ok(Context {
            paths,
            _log_guard: guard,
        })
    }

    /// Loads the config. Its warnings are said by [`warn_about`], for the profiles a command
    /// uses.
    pub fn config(&self) -> Result<Config, Failure> {
        Ok(Config::load(&self.paths.config)?)
    }

    pub fn store(&self) -> Result<Store, Failure> {
        Ok(Store::open(&self.paths.store)?)
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

pub fn dashboard(ctx: &Context) -> CmdResult {
    let config = ctx.config()?;
    // The parse's peak is gone by now; the dashboard may run for days.
    crate::memory::release_freed();
    let store = ctx.store()?;
    crate::dashboard::run(config, store)
}

pub fn demo() -> CmdResult {
    crate::demo::run()
}
