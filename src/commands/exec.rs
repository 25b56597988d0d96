//! `tokdash exec NAME [--env VAR] [--min-valid D] -- PROGRAM [ARG...]`: runs PROGRAM, without a
//! shell, with the access token in its environment (never in any argv), and exits as it did.

use super::{Context, hand_out, warn_about};
use crate::failure::{CmdResult, Failure};
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

/// The variable the token is handed in when `--env` does not name another.
pub const DEFAULT_VAR: &str = "TOKDASH_ACCESS_TOKEN";

/// What a shell answers for a program it cannot find, or finds but cannot run.
const NOT_FOUND: u8 = 127;
const NOT_EXECUTABLE: u8 = 126;

pub fn exec(
    ctx: &Context,
    name: &str,
    var: &str,
    min_valid: Option<Duration>,
    command: &[OsString],
) -> CmdResult {
    check_var(var)?;
    let Some((program, args)) = command.split_first() else {
        return Err(Failure::usage("exec: name the program to run after `--`"));
    };
    let engine = ctx.engine_for(name)?;
    warn_about(engine.config(), &[name]);
    let token = {
        let runtime = ctx.runtime()?;
        runtime.block_on(hand_out(&engine, name, min_valid, "using"))?
    };
    let shown = program.to_string_lossy();
    let mut child = match std::process::Command::new(program)
        .args(args)
        .env(var, token.token.expose())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            let (code, why) = match e.kind() {
                std::io::ErrorKind::NotFound => (NOT_FOUND, "command not found".to_string()),
                std::io::ErrorKind::PermissionDenied => {
                    (NOT_EXECUTABLE, "permission denied (not executable)".into())
                }
                _ => (NOT_EXECUTABLE, format!("cannot run it: {e}")),
            };
            return Err(Failure {
                code,
                message: format!("{name}: exec: {shown}: {why}"),
            });
        }
    };
    drop(token);
    // Ctrl-C and Ctrl-\ reach the program (the terminal sends them to the whole foreground
    // group); tokdash waits for it to end and reports that, as a shell does, rather than die
    // first and leave it running.
    let _quiet = IgnoreTerminalSignals::new();
    let status = child
        .wait()
        .map_err(|e| Failure::failed(format!("{name}: exec: {shown}: cannot wait for it: {e}")))?;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(Failure::silent(u8::try_from(code).unwrap_or(1))),
        // Killed by signal N: exit 128 + N, as shells report it.
        (None, Some(signal)) => Err(Failure::silent(
            u8::try_from(128 + signal).unwrap_or(u8::MAX),
        )),
        (None, None) => Err(Failure::silent(1)),
    }
}

/// An environment variable name: not empty, no `=` and no NUL.
fn check_var(var: &str) -> Result<(), Failure> {
    if var.is_empty() || var.contains(['=', '\0']) {
        return Err(Failure::usage(format!(
            "exec: --env `{var}` is not an environment variable name"
        )));
    }
    Ok(())
}

/// SIGINT and SIGQUIT ignored by tokdash while it waits for the program (set after the spawn, so
/// the program keeps the default handling); restored on drop.
struct IgnoreTerminalSignals {
    previous: [(libc::c_int, libc::sighandler_t); 2],
}

impl IgnoreTerminalSignals {
    fn new() -> Self {
        let ignore = |sig| {
            // SAFETY: installing SIG_IGN is async-signal-safe and touches no Rust state.
            (sig, unsafe { libc::signal(sig, libc::SIG_IGN) })
        };
        IgnoreTerminalSignals {
            previous: [ignore(libc::SIGINT), ignore(libc::SIGQUIT)],
        }
    }
}

impl Drop for IgnoreTerminalSignals {
    fn drop(&mut self) {
        for (sig, handler) in self.previous {
            // SAFETY: puts back the handler that was there before `new`.
            unsafe { libc::signal(sig, handler) };
        }
    }
}
