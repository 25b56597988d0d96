//! Engine failures as people read them: `<profile>: <what happened> (<error>: <description>); <hint>`.

use crate::config::Profile;
use crate::failure::Failure;
use crate::oauth::TransportError;
use crate::oauth::exchange::ExchangeError;
use crate::provider::{self, ErrorClass};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
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
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    /// The OAuth `error` code, when the provider sent one.
    pub code: Option<String>,
    /// How long the server asked us to wait (`Retry-After`, Auth0's `X-RateLimit-Reset`).
    pub retry_after: Option<std::time::Duration>,
}

impl EngineError {
    pub fn new(profile: &str, kind: ErrorKind, message: impl Into<String>) -> Self {
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

    pub fn from_class(class: ErrorClass) -> ErrorKind {
        match class {
            ErrorClass::NeedsLogin => ErrorKind::NeedsLogin,
            ErrorClass::Config => ErrorKind::Refused,
            ErrorClass::Transient => ErrorKind::Transient,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// The message without the profile name, for the dashboard's MESSAGE column and the record.
    pub fn detail(&self) -> String {
        match &self.hint {
            Some(h) => format!("{}; {h}", self.message),
            None => self.message.clone(),
        }
    }
}

impl std::error::Error for EngineError {}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.profile, self.detail())
    }
}

/// Turns a failed exchange into what the user reads: the profile, what happened, the provider's
/// own code and text, and what to do.
pub fn exchange_error(profile: &Profile, action: &str, e: ExchangeError) -> EngineError {
    let name = &profile.name;
    let transient = e.transient();
    let retry_after = e.retry_after();
    let retry_hint = retry_after.map(|w| format!("the server asks to retry in {}s", w.as_secs()));
    let mut out = match e {
        ExchangeError::OAuth { error, .. } => {
            let class = if transient {
                ErrorClass::Transient
            } else {
                provider::classify(profile.provider.kind(), &error.error)
            };
            let mut out = EngineError::new(
                name,
                EngineError::from_class(class),
                format!(
                    "{action} refused (HTTP {}, {})",
                    error.status,
                    error.summary()
                ),
            );
            out.code = Some(error.error.clone());
            out.hint = retry_hint.or_else(|| provider::hint(class, name, &error.error));
            out
        }
        ExchangeError::NotOAuth { status, what, .. } => {
            let kind = if transient {
                ErrorKind::Transient
            } else {
                ErrorKind::Refused
            };
            let mut out = EngineError::new(
                name,
                kind,
                format!("{action} failed: the server answered {what}"),
            );
            // A redirect is not followed (it would turn the POST into a GET): the URL is wrong.
            out.hint = retry_hint.or_else(|| {
                (status == 404 || status == 405 || (300..400).contains(&status))
                    .then(|| format!("check the endpoints of {name}: tokdash config check"))
            });
            out
        }
        // Not the network's fault: something that is not a token endpoint answered.
        ExchangeError::Transport(t @ TransportError::TooLarge { .. }) => {
            EngineError::new(name, ErrorKind::Transient, format!("{action} failed: {t}")).with_hint(
                format!("check the endpoints of {name}: tokdash config check"),
            )
        }
        ExchangeError::Transport(t) => {
            EngineError::new(name, ErrorKind::Transient, format!("{action} failed: {t}"))
                .with_hint("check the network; a retry may succeed")
        }
    };
    out.retry_after = retry_after;
    out
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        let code = match e.kind {
            ErrorKind::Config | ErrorKind::Store => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}
