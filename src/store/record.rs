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
    /// When the provider said the refresh token (the login) ends, unix seconds: from
    /// `refresh_token_expires_in` / `refresh_expires_in` or the `exp` of a JWT refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<i64>,
    /// When the login or import that began this refresh token family happened, unix seconds:
    /// what `refresh_token_lifetime` counts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_started_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    #[serde(default)]
    pub standing: Standing,
    /// Bumped on every write: lets a reader tell that another process changed the record.
    #[serde(default)]
    pub generation: u64,
}

/// A [`TokenRecord`] without its secrets (see [`TokenRecord::meta`]). The dashboard holds one per
/// profile, so ten thousand profiles cost what their facts cost, not what their tokens cost; it
/// reads token values from the store only to show or copy one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordMeta {
    /// An access token is stored (possibly empty, like [`TokenRecord::access_token`]).
    pub has_access_token: bool,
    /// A refresh token is stored and is not empty: [`TokenRecord::has_refresh_token`].
    pub has_refresh_token: bool,
    pub has_id_token: bool,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    pub expires_at: Option<i64>,
    pub obtained_at: Option<i64>,
    pub last_refresh: Option<i64>,
    pub refresh_expires_at: Option<i64>,
    pub family_started_at: Option<i64>,
    pub last_error: Option<LastError>,
    pub standing: Standing,
    pub generation: u64,
    /// Newer here than in the team store: kept in this host's spill until the server takes it.
    pub unsynced: bool,
}

impl RecordMeta {
    /// Whether a record read from the store (`read`) replaces the one already held (`held`):
    /// one that appeared or went away, or a newer generation. An older generation is a read
    /// that raced a write of ours and is not taken.
    pub fn replaces(held: Option<&RecordMeta>, read: Option<&RecordMeta>) -> bool {
        match (held, read) {
            // The same generation once its spill reached the team store: now synced.
            (Some(old), Some(new)) => {
                new.generation > old.generation
                    || new.generation == old.generation && new.unsynced != old.unsynced
            }
            (None, Some(_)) | (Some(_), None) => true,
            (None, None) => false,
        }
    }
}

impl TokenRecord {
    pub fn has_refresh_token(&self) -> bool {
        self.refresh_token.as_ref().is_some_and(|t| !t.is_empty())
    }

    /// Everything but the token values: what the dashboard keeps for each of its rows.
    pub fn meta(&self) -> RecordMeta {
        RecordMeta {
            has_access_token: self.access_token.is_some(),
            has_refresh_token: self.has_refresh_token(),
            has_id_token: self.id_token.is_some(),
            token_type: self.token_type.clone(),
            scope: self.scope.clone(),
            expires_at: self.expires_at,
            obtained_at: self.obtained_at,
            last_refresh: self.last_refresh,
            refresh_expires_at: self.refresh_expires_at,
            family_started_at: self.family_started_at,
            last_error: self.last_error.clone(),
            standing: self.standing,
            generation: self.generation,
            unsynced: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_keeps_every_fact_and_no_value() {
        let record = TokenRecord {
            access_token: Some(Secret::new("AT-meta-9c1e")),
            refresh_token: Some(Secret::new("")),
            id_token: Some(Secret::new("ID-meta-9c1e")),
            token_type: Some("Bearer".into()),
            scope: Some("openid".into()),
            expires_at: Some(10),
            obtained_at: Some(5),
            last_refresh: Some(6),
            refresh_expires_at: Some(7),
            family_started_at: Some(4),
            last_error: None,
            standing: Standing::NeedsLogin,
            generation: 4,
        };
        let meta = record.meta();
        assert!(meta.has_access_token && meta.has_id_token);
        assert!(!meta.has_refresh_token, "an empty refresh token is none");
        assert_eq!(
            (meta.expires_at, meta.obtained_at, meta.last_refresh),
            (Some(10), Some(5), Some(6))
        );
        assert_eq!(
            (meta.refresh_expires_at, meta.family_started_at),
            (Some(7), Some(4))
        );
        assert_eq!((meta.standing, meta.generation), (Standing::NeedsLogin, 4));
        assert_eq!(meta.scope.as_deref(), Some("openid"));
        let dump = format!("{meta:?}");
        assert!(
            !dump.contains("AT-meta") && !dump.contains("ID-meta"),
            "{dump}"
        );
    }
}
