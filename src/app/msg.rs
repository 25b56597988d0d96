//! Everything that can happen to the dashboard.

use crate::engine::RefreshOutcome;
use crate::provider::Endpoints;
use crate::secret::Secret;
use crate::store::{RecordMeta, TokenRecord};
use crossterm::event::KeyEvent;

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// The clock, once a second: unix seconds.
    Tick(i64),
    Resize {
        width: u16,
        height: u16,
    },
    Worker(Box<WorkerEvent>),
    /// SIGTERM, SIGHUP (the SSH session dropped), SIGINT.
    Terminate,
}

pub use crate::engine::{BrowserPrompt, LoginPrompt};

/// What the worker reports. Records for the table come as [`RecordMeta`], converted by the worker
/// as soon as it has them: only `DetailsLoaded` and `TokenForCopy` carry token values.
#[derive(Debug, Clone)]
pub enum WorkerEvent {
    /// A refresh finished: the record as stored.
    Refreshed {
        name: String,
        record: RecordMeta,
        outcome: RefreshOutcome,
    },
    /// A refresh failed; `record` is the record as stored after the failure.
    RefreshFailed {
        name: String,
        error: String,
        transient: bool,
        /// The server asked for this many seconds before the next try (a 429's `Retry-After`).
        retry_after: Option<i64>,
        record: Option<RecordMeta>,
    },
    /// A token file could not be written or the `on_refresh` hook failed, after a new token
    /// was stored (the token itself is fine).
    PublishWarning {
        name: String,
        message: String,
    },
    Revoked {
        name: String,
        record: Option<RecordMeta>,
    },
    RevokeFailed {
        name: String,
        error: String,
    },
    /// Records that changed on disk since the last poll (`None`: the file is gone). A profile
    /// here whose record was refused before can be read again.
    StoreChanged(Vec<(String, Option<RecordMeta>)>),
    /// Records the store refuses (not JSON, a symbolic link, a directory…), each with the
    /// store's words for it: the path, what is wrong, what to do. Sent when a profile's problem
    /// first appears or its words change, not at every poll.
    RecordsUnusable(Vec<(String, String)>),
    Endpoints {
        name: String,
        endpoints: Result<Endpoints, String>,
    },
    LoginPrompt {
        name: String,
        prompt: LoginPrompt,
    },
    /// A browser login listens: what to show.
    BrowserLoginPrompt {
        name: String,
        prompt: BrowserPrompt,
    },
    /// A pasted address was not this login's callback; the login goes on.
    LoginNotice {
        name: String,
        message: String,
    },
    LoginDone {
        name: String,
        record: RecordMeta,
    },
    LoginFailed {
        name: String,
        error: String,
    },
    /// The answer to `Effect::LoadDetails`, with the `generation` it was asked for (`Ok(None)`:
    /// no record on disk).
    DetailsLoaded {
        name: String,
        generation: Option<u64>,
        record: Result<Option<TokenRecord>, String>,
    },
    /// The answer to `Effect::LoadTokenForCopy` (`Ok(None)`: the store has no access token).
    TokenForCopy {
        name: String,
        token: Result<Option<Secret>, String>,
    },
}

impl Msg {
    pub fn worker(event: WorkerEvent) -> Msg {
        Msg::Worker(Box::new(event))
    }
}
