//! After a new token is stored: the token files rewritten and the `on_refresh` hook run
//! (SPEC.md "Tokens where they are used"). Every path that stores a new token (a refresh by a
//! command, the dashboard or the agent, a login, an import) ends here, after `save`: the store
//! comes first, always, and nothing here can touch it.
//!
//! Failures are warnings, logged here and handed to the engine's [`Notices`] (stderr for a
//! command, the row's message in the dashboard, a line for the agent).

use super::{Engine, blocking};
use crate::config::Profile;
use crate::store::{Replaced, TokenRecord, write_token_file};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

/// Where publishing warnings go: `(profile, what happened)`. Never given a token.
pub type Notices = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// A command's notices: a warning line on stderr (stdout belongs to the token or the output).
pub fn stderr_notices() -> Notices {
    Arc::new(|name, message| eprintln!("tokdash: warning: {name}: {message}"))
}

/// At most this much of a failed hook's stderr is quoted.
const HOOK_STDERR_QUOTED: usize = 200;

impl Engine {
    /// The token files, written while the caller still holds the profile's lock, so that two
    /// processes' files are written in the order of their refreshes.
    pub(super) async fn write_token_files(&self, profile: &Profile, record: &TokenRecord) {
        let files: [(&str, &Option<PathBuf>, &Option<crate::secret::Secret>); 2] = [
            (
                "access_token_file",
                &profile.token_files.access_token,
                &record.access_token,
            ),
            (
                "id_token_file",
                &profile.token_files.id_token,
                &record.id_token,
            ),
        ];
        for (key, path, token) in files {
            let Some(path) = path.clone() else {
                continue;
            };
            let Some(token) = token.clone() else {
                tracing::debug!(profile = %profile.name, key, "no such token stored; file left as it is");
                continue;
            };
            let shown = path.clone();
            let written =
                blocking(move || write_token_file(&path, token.expose().as_bytes())).await;
            match written {
                Ok(Replaced::File) => {
                    tracing::debug!(profile = %profile.name, file = %shown.display(), "token file written");
                }
                Ok(Replaced::Link) => self.notice(
                    &profile.name,
                    &format!(
                        "{key} {} was a symbolic link: replaced by a plain file holding the token; the link's target was not written",
                        shown.display()
                    ),
                ),
                Err(e) => self.notice(
                    &profile.name,
                    &format!(
                        "{key}: cannot write {}: {e}; the token is stored, the file is stale",
                        shown.display()
                    ),
                ),
            }
        }
    }

    /// The `on_refresh` hook: no shell, the token in its environment only, killed (with anything
    /// it started) after `settings.timeout`. Its outcome never reaches the store.
    pub(super) async fn run_hook(&self, profile: &Profile, record: &TokenRecord) {
        let Some(argv) = &profile.on_refresh else {
            return;
        };
        let Some((program, args)) = argv.split_first() else {
            return;
        };
        let timeout = self.config.settings.timeout;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env("TOKDASH_PROFILE", &profile.name)
            .env(
                "TOKDASH_EXPIRES_AT",
                record
                    .expires_at
                    .map(crate::clock::rfc3339)
                    .unwrap_or_default(),
            )
            .stdin(Stdio::null())
            // The dashboard owns the terminal: a hook's output must not draw over it.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        match &record.access_token {
            Some(token) => command.env("TOKDASH_ACCESS_TOKEN", token.expose()),
            None => command.env_remove("TOKDASH_ACCESS_TOKEN"),
        };
        let name = &profile.name;
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) => {
                return self.notice(name, &format!("on_refresh: cannot run {program}: {e}"));
            }
        };
        let group = child.id();
        match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(output)) if output.status.success() => {
                tracing::info!(profile = %name, "on_refresh ran");
            }
            Ok(Ok(output)) => {
                let said = String::from_utf8_lossy(&output.stderr);
                let said = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                let said: String = said.chars().take(HOOK_STDERR_QUOTED).collect();
                let tail = if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                };
                self.notice(
                    name,
                    &format!(
                        "on_refresh {program} failed ({}){tail}; the token is stored",
                        output.status
                    ),
                );
            }
            Ok(Err(e)) => self.notice(name, &format!("on_refresh {program}: {e}")),
            Err(_) => {
                // The child itself is killed on drop; what it started is in its process group.
                if let Some(pid) = group.and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: kill has no memory preconditions; the group is the hook's own.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                self.notice(
                    name,
                    &format!(
                        "on_refresh {program} was killed after {} (settings.timeout); the token is stored",
                        humantime::format_duration(timeout)
                    ),
                );
            }
        }
    }

    fn notice(&self, name: &str, message: &str) {
        tracing::warn!(profile = name, "{message}");
        (self.notices)(name, message);
    }
}
