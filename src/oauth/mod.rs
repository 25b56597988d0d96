//! The HTTP side of OAuth: one client, request shapes, error bodies, discovery. Hand-written on
//! reqwest rather than the `oauth2` crate (see README "Design notes"): the provider quirks of
//! providers.md and the exact moment a rotated refresh token is stored are ours to control.

pub mod authorize;
pub mod client_auth;
pub mod device;
pub mod discovery;
pub mod error;
pub mod exchange;
pub mod http;
pub mod loopback;
pub mod pkce;
pub mod token_response;

pub use client_auth::ClientAuth;
pub use error::OAuthError;
pub use http::{Http, Reply, TransportError, httpdate_to_unix};

/// A provider's answer that is not what it should be. Says what is wrong, never quotes the
/// answer: it may hold tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl From<&str> for ParseError {
    fn from(why: &str) -> Self {
        ParseError(why.to_string())
    }
}

impl From<String> for ParseError {
    fn from(why: String) -> Self {
        ParseError(why)
    }
}
