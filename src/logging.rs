//! Logs go to a file, never to stdout (the UI and command output own it). Level from
//! `$TOKDASH_LOG` (an `EnvFilter` string), default `info`. Nothing here ever formats a secret:
//! secrets are `Secret`, whose `Debug` is redacted.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// How log lines reach the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogWrites {
    /// From a thread of their own: the dashboard and the agent never wait on the disk.
    Background,
    /// Each line written where it is logged (one `write` of an `O_APPEND` file): a command's
    /// lines cost no thread wake-ups (BENCHMARKS.md, issue 15), and none is lost on exit.
    Direct,
}

/// Keep the guard alive for as long as the program runs, or the last lines are lost.
/// Logging is best effort: a log file that cannot be opened never stops a command.
pub fn init(log_file: Option<&Path>, writes: LogWrites) -> Option<WorkerGuard> {
    let path = log_file?;
    let dir = path.parent()?;
    let file = open_private(dir, path).ok()?;
    let filter = EnvFilter::try_from_env("TOKDASH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false);
    match writes {
        LogWrites::Background => {
            let (writer, guard) = tracing_appender::non_blocking(file);
            lines.with_writer(writer).try_init().ok()?;
            Some(guard)
        }
        LogWrites::Direct => {
            lines
                .with_writer(std::sync::Mutex::new(file))
                .try_init()
                .ok()?;
            None
        }
    }
}

fn open_private(dir: &Path, path: &Path) -> std::io::Result<std::fs::File> {
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        dirs.mode(0o700);
        options.mode(0o600);
    }
    dirs.create(dir)?;
    options.open(path)
}
