//! Everything that can happen to the dashboard.

use crate::provider::Endpoints;
use crate::store::TokenRecord;
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

pub use crate::engine::LoginPrompt;

#[derive(Debug, Clone)]
pub enum WorkerEvent {
    /// A refresh finished: the record as stored.
    Refreshed {
        name: String,
        record: TokenRecord,
        sent: bool,
        rotated: bool,
    },
    /// A refresh failed; `record` is the record as stored after the failure.
    RefreshFailed {
        name: String,
        error: String,
        transient: bool,
        record: Option<TokenRecord>,
    },
    Revoked {
        name: String,
        record: Option<TokenRecord>,
    },
    RevokeFailed {
        name: String,
        error: String,
    },
    /// Records that changed on disk since the last poll (`None`: the file is gone).
    StoreChanged(Vec<(String, Option<TokenRecord>)>),
    Endpoints {
        name: String,
        endpoints: Result<Endpoints, String>,
    },
    LoginPrompt {
        name: String,
        prompt: LoginPrompt,
    },
    LoginDone {
        name: String,
        record: TokenRecord,
    },
    LoginFailed {
        name: String,
        error: String,
    },
}

impl Msg {
    pub fn worker(event: WorkerEvent) -> Msg {
        Msg::Worker(Box::new(event))
    }
}
