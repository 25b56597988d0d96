//! `tokdash store migrate --from DIR [NAME...]`: local records into the team store.
//!
//! The one command that works on stores rather than through the engine: it moves records
//! between two of them and sends nothing to a provider.

use super::Context;
use crate::failure::{CmdResult, Failure};
use crate::store::{Backend, FileStore, LockGuard, StoreError, TokenRecord, TokenStore};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a profile's lease is waited for: a refresh holding it takes seconds at most, a
/// vanished holder's lease is free after `lock_ttl` (60 s by default).
const LEASE_WAIT: Duration = Duration::from_secs(90);

pub fn migrate(ctx: &Context, from: &Path, names: &[String]) -> CmdResult {
    let config = ctx.config()?;
    let store = ctx.store(&config)?;
    let Backend::Team(team, _) = &store else {
        return Err(Failure::usage(format!(
            "store migrate copies into a team store, and {} names none (add [store] with backend = \"openbao\"; --store and $TOKDASH_STORE choose a local store)",
            config.path.display()
        )));
    };
    let local = FileStore::open(from)?;
    let names = if names.is_empty() {
        local.names()?
    } else {
        names.to_vec()
    };
    println!("into {}:", team.location());
    let mut failed = 0;
    for name in &names {
        match migrate_one(team, &local, name) {
            Ok(what) => println!("{name}: {what}"),
            Err(e) => {
                failed += 1;
                println!("{name}: not copied: {e}");
            }
        }
    }
    if failed > 0 {
        return Err(Failure::failed(format!(
            "{failed} of {} profile(s) not copied",
            names.len()
        )));
    }
    Ok(())
}

/// Copies one record under the profile's lease, unless the team's was refreshed as late or
/// later (then the team's is the one in use, and ours is older).
fn migrate_one(team: &dyn TokenStore, local: &FileStore, name: &str) -> Result<String, String> {
    let mut record = local
        .load(name)
        .map_err(|e| e.message)?
        .ok_or_else(|| format!("no record in {}", local.dir().display()))?;
    let _lease = lease(team, name).map_err(|e| e.message)?;
    let current = team.load(name).map_err(|e| e.message)?;
    if let Some(current) = &current
        && last_new_token(current) >= last_new_token(&record)
    {
        return Ok(format!(
            "skipped: the team store's record is as new or newer (tokens from {})",
            crate::clock::rfc3339(last_new_token(current))
        ));
    }
    // Readers tell a newer record by its generation: above both.
    record.generation = record
        .generation
        .max(current.as_ref().map_or(0, |c| c.generation));
    team.save(name, &mut record).map_err(|e| e.message)?;
    Ok("copied".into())
}

fn last_new_token(record: &TokenRecord) -> i64 {
    record
        .last_refresh
        .into_iter()
        .chain(record.obtained_at)
        .max()
        .unwrap_or(0)
}

fn lease(team: &dyn TokenStore, name: &str) -> Result<LockGuard, StoreError> {
    let until = Instant::now() + LEASE_WAIT;
    loop {
        if let Some(lease) = team.try_lock(name)? {
            return Ok(lease);
        }
        if Instant::now() >= until {
            return Err(StoreError {
                message: format!(
                    "its lease stayed held for {}s; retry later",
                    LEASE_WAIT.as_secs()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
