//! The one place tokdash builds its async runtime: single-threaded, since the work is waiting on
//! the network and a small runtime starts fast.

use crate::failure::Failure;
use tokio::runtime::Runtime;

/// Threads for blocking work in a command: the leader of the store's commits (store/atomic.rs),
/// whose writers await it without a thread of their own, and the discovery cache's reads and
/// writes. Nothing else waits on them: a held lock is polled on a timer.
const COMMAND_BLOCKING_THREADS: usize = 16;

/// Threads for a team store's calls in a command: each waits for one request to the server.
const TEAM_COMMAND_BLOCKING_THREADS: usize = 16;

/// What the runtime is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A command: the store's commits on a few blocking threads.
    Command,
    /// A command on a team store: its store calls wait on the network on blocking threads
    /// (they only wait there), for as many profiles as `Engine::refresh_many` keeps under way.
    TeamCommand,
    /// The dashboard (also the demo's): tokio's defaults.
    Dashboard,
}

pub fn build(purpose: Purpose) -> Result<Runtime, Failure> {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    match purpose {
        // tokio's default cap is 512 threads: hundreds of profiles would start hundreds.
        Purpose::Command => {
            builder.max_blocking_threads(COMMAND_BLOCKING_THREADS);
        }
        Purpose::TeamCommand => {
            builder.max_blocking_threads(TEAM_COMMAND_BLOCKING_THREADS);
        }
        Purpose::Dashboard => {}
    }
    builder
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))
}
