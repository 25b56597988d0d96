//! What `update` asks the outside world to do. Plain data: tests read them, the worker runs them.

use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Refresh now (a key), unless another process refreshed since `seen_generation`.
    Refresh {
        name: String,
        seen_generation: Option<u64>,
    },
    /// Refresh if still needed after re-reading under the lock (auto-refresh).
    RefreshIfNeeded {
        name: String,
    },
    Revoke {
        name: String,
    },
    /// Look for records changed by anyone (another dashboard, `tokdash token` in a script).
    PollStore,
    /// Resolve the endpoints for the details pane (may need OIDC discovery).
    LoadEndpoints {
        name: String,
    },
    StartLogin {
        name: String,
    },
    CancelLogin {
        name: String,
    },
    /// The address pasted into the browser login's popup.
    PasteCallback {
        name: String,
        text: String,
    },
    /// Read the record, token values included, for the open details pane; the answer
    /// (`WorkerEvent::DetailsLoaded`) echoes `generation`, the row's when asked.
    LoadDetails {
        name: String,
        generation: Option<u64>,
    },
    /// Read the access token from the store, to copy it (`WorkerEvent::TokenForCopy`).
    LoadTokenForCopy {
        name: String,
    },
    /// Put text on the clipboard with OSC 52 (works through SSH). The runner's job, not the
    /// worker's: it is terminal output.
    Copy {
        text: Secret,
    },
}
