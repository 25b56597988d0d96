//! One request to a provider, with the retry policy: bounded attempts, exponential backoff with
//! jitter, `Retry-After` honoured. A refresh is retried only when the server provably did not act
//! on it (a refused connection, or an answer saying it failed): after a timeout or a cut-off
//! response the server may have rotated the refresh token already, and sending the old one again
//! would trip reuse detection and revoke the whole family.

use super::error::{self, OAuthError};
use super::{Http, Reply, TransportError};
use std::time::Duration;

pub const MAX_ATTEMPTS: u32 = 3;
/// Longer waits are not done in-line: the command fails and says when to retry.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A failed exchange, in the server's terms; `engine::exchange_error` words it for the user.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The provider answered with an OAuth error object.
    #[error("refused (HTTP {}, {})", .error.status, .error.summary())]
    OAuth {
        error: OAuthError,
        retry_after: Option<Duration>,
    },
    /// The provider answered something that is not OAuth (an HTML 502, a plain 404…).
    #[error("the server answered {what}")]
    NotOAuth {
        status: u16,
        what: String,
        retry_after: Option<Duration>,
    },
    #[error(transparent)]
    Transport(#[from] TransportError),
}

impl ExchangeError {
    pub fn transient(&self) -> bool {
        match self {
            ExchangeError::OAuth { error, .. } => {
                error.status == 429
                    || error.status >= 500
                    || matches!(
                        error.error.as_str(),
                        "temporarily_unavailable" | "server_error"
                    )
            }
            ExchangeError::NotOAuth { status, .. } => *status == 429 || *status >= 500,
            ExchangeError::Transport(TransportError::Setup(_)) => false,
            ExchangeError::Transport(_) => true,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ExchangeError::OAuth { retry_after, .. }
            | ExchangeError::NotOAuth { retry_after, .. } => *retry_after,
            ExchangeError::Transport(_) => None,
        }
    }
}

/// Sends `build()` until it succeeds (2xx) or the policy says stop. `idempotent` requests
/// (discovery, client credentials, userinfo, revocation) may also be retried after a timeout.
pub async fn send_with_retries(
    http: &Http,
    timeout: Duration,
    idempotent: bool,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Reply, ExchangeError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match http.send(build(), timeout).await {
            Ok(reply) if (200..300).contains(&reply.status) => return Ok(reply),
            Ok(reply) => error_of(reply),
            Err(e) => ExchangeError::Transport(e),
        };
        let may_retry = match &err {
            ExchangeError::Transport(t) => {
                t.never_sent() || (idempotent && !matches!(t, TransportError::TooLarge { .. }))
            }
            ExchangeError::OAuth { .. } | ExchangeError::NotOAuth { .. } => err.transient(),
        };
        if !may_retry || attempt >= MAX_ATTEMPTS {
            return Err(err);
        }
        let wait = match err.retry_after() {
            Some(w) if w > MAX_RETRY_AFTER => return Err(err),
            Some(w) => w,
            None => backoff(attempt),
        };
        tracing::debug!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            "retrying after a transient failure"
        );
        tokio::time::sleep(wait).await;
    }
}

/// 250 ms, 500 ms, 1 s… each with full jitter, so many profiles failing together do not retry
/// in lockstep.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 250u64 << attempt.min(6);
    Duration::from_millis(rand::random_range(ceiling / 2..=ceiling))
}

pub fn error_of(reply: Reply) -> ExchangeError {
    match error::parse(reply.status, &reply.body) {
        Some(error) => ExchangeError::OAuth {
            error,
            retry_after: reply.retry_after,
        },
        None => ExchangeError::NotOAuth {
            status: reply.status,
            what: error::describe_non_oauth(
                reply.status,
                reply.content_type.as_deref(),
                &reply.body,
            ),
            retry_after: reply.retry_after,
        },
    }
}
