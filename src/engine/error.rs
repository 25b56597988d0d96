//! Engine failures as people read them: `<profile>: <what happened> (<error>: <description>); <hint>`.

use crate::failure::Failure;
use crate::provider::ErrorClass;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The provider rejected the refresh token; only `login`/`import` helps.
    NeedsLogin,
    /// No refresh token, or revoked: nothing to act with.
    NothingToActWith,
    /// The provider refused for a reason a retry will not fix (invalid_client, invalid_scope…).
    Refused,
    /// Network, timeout, 5xx, 429: a later retry may work.
    Transient,
    /// The local config cannot work (a secret variable unset, no endpoint for this action).
    Config,
    /// The token store failed.
    Store,
}

#[derive(Debug, Clone)]
pub struct EngineError {
    pub profile: String,
    pub kind: FailureKind,
    pub message: String,
    pub hint: Option<String>,
    /// The OAuth `error` code, when the provider sent one.
    pub code: Option<String>,
    /// How long the server asked us to wait (`Retry-After`, Auth0's `X-RateLimit-Reset`).
    pub retry_after: Option<std::time::Duration>,
}

impl EngineError {
    pub fn new(profile: &str, kind: FailureKind, message: impl Into<String>) -> Self {
        EngineError {
            profile: profile.to_string(),
            kind,
            message: message.into(),
            hint: None,
            code: None,
            retry_after: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn from_class(class: ErrorClass) -> FailureKind {
        match class {
            ErrorClass::NeedsLogin => FailureKind::NeedsLogin,
            ErrorClass::Config => FailureKind::Refused,
            ErrorClass::Transient => FailureKind::Transient,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind == FailureKind::Transient
    }

    /// The message without the profile name, for the dashboard's MESSAGE column and the record.
    pub fn detail(&self) -> String {
        match &self.hint {
            Some(h) => format!("{}; {h}", self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.profile, self.detail())
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        let code = match e.kind {
            FailureKind::Config | FailureKind::Store => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}
