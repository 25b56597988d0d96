//! What the store keeps per profile. One JSON file per profile, `<name>.json`.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// Where the profile stands, beyond what the expiry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    #[default]
    Active,
    /// The refresh token was rejected (`invalid_grant`): only `login` or `import` helps.
    NeedsLogin,
    /// The user revoked the tokens with tokdash.
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    pub message: String,
    /// The OAuth `error` code, when the provider sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A transient failure (network, 5xx, 429): a retry may succeed.
    pub transient: bool,
    /// Unix seconds.
    pub at: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Absolute expiry of the access token, unix seconds; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// When the current access token was obtained, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obtained_at: Option<i64>,
    /// When a refresh last succeeded, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refresh: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    #[serde(default)]
    pub standing: Standing,
    /// Bumped on every write: lets a reader tell that another process changed the record.
    #[serde(default)]
    pub generation: u64,
}

impl TokenRecord {
    pub fn has_refresh_token(&self) -> bool {
        self.refresh_token.as_ref().is_some_and(|t| !t.is_empty())
    }
}
