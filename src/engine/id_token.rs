//! The id token handed out where an id token is what the other side checks (`kube-credential`:
//! a Kubernetes API server's OIDC authenticator).
//!
//! The id token is due by its own JWT `exp`, with the same rule as the access token
//! ([`refresh_due`]: `refresh_ahead`, at most half of its lifetime, the idle keep-alive). An id
//! token without a readable `exp` is due only when the access token's record says so (keep-alive,
//! or a login that needs one). A refresh is the only way to a new id token; a provider that sends
//! none on refresh leaves the old one, which is then an error once it has expired.

use super::{AccessToken, Engine, EngineError, ErrorKind, RefreshFailed, RefreshMode};
use crate::clock;
use crate::config::Profile;
use crate::status::refresh_due;
use crate::store::{Standing, TokenRecord};

impl Engine {
    /// A valid id token: the stored one when it is not due, else the one a refresh brings.
    /// `expires_at` is the id token's own `exp`.
    pub async fn id_token(&self, name: &str) -> Result<AccessToken, EngineError> {
        self.id_token_with(name, None).await
    }

    /// [`id_token`](Self::id_token), refreshed first when less than `min_valid` is left of it
    /// (`--min-valid`), whatever the due rule says.
    pub async fn id_token_with(
        &self,
        name: &str,
        min_valid: Option<std::time::Duration>,
    ) -> Result<AccessToken, EngineError> {
        let profile = self.profile(name)?;
        let record = self.load(name).await?;
        let now = clock::now();
        if let Some(r) = &record
            && r.standing == Standing::Active
            && !id_token_due(r, profile, now)
            && !short_of(r, min_valid, now)
            && let Some(token) = &r.id_token
        {
            return Ok(AccessToken::fresh_id_token(token.clone(), r));
        }
        // Forced: the access token may well be fresh while the id token is not. Another process
        // that refreshed meanwhile (a new generation, valid) makes ours unnecessary.
        let mode = RefreshMode::Force {
            seen_generation: record.as_ref().map(|r| r.generation),
        };
        match self.refresh(name, mode).await {
            Ok(refreshed) => {
                let r = refreshed.record;
                let expires_at = id_expiry(&r);
                match r.id_token.clone() {
                    Some(token) if expires_at.is_none_or(|at| at > clock::now()) => {
                        Ok(AccessToken::fresh_id_token(token, &r))
                    }
                    _ => Err(EngineError::new(
                        name,
                        ErrorKind::Refused,
                        "the provider sent no new id token on refresh and the stored one has expired (or there is none)",
                    )
                    .with_hint(format!(
                        "set kube_token = \"access_token\" in profile {name}, or run: tokdash login {name}"
                    ))),
                }
            }
            Err(RefreshFailed { error: e, .. }) => match record {
                Some(r)
                    if !matches!(e.kind, ErrorKind::Store)
                        && r.id_token.is_some()
                        && id_expiry(&r).is_some_and(|at| at > now) =>
                {
                    let token = r.id_token.clone().expect("checked above");
                    Ok(AccessToken {
                        failed_refresh: Some(e),
                        ..AccessToken::fresh_id_token(token, &r)
                    })
                }
                _ => Err(e),
            },
        }
    }
}

/// The id token's `exp`, unix seconds.
pub(super) fn id_expiry(record: &TokenRecord) -> Option<i64> {
    record
        .id_token
        .as_ref()
        .and_then(|t| crate::jwt::expiry(t.expose()))
}

/// The due rule of [`refresh_due`] applied to the id token: its `exp` in place of the access
/// token's expiry (obtained with the access token, so the lifetime cap counts from the same time).
/// Less than `min_valid` is left of the id token (one of unknown expiry is never short).
fn short_of(record: &TokenRecord, min_valid: Option<std::time::Duration>, now: i64) -> bool {
    let Some(min_valid) = min_valid else {
        return false;
    };
    let wanted = i64::try_from(min_valid.as_secs()).unwrap_or(i64::MAX);
    id_expiry(record).is_some_and(|at| at.saturating_sub(now) < wanted)
}

fn id_token_due(record: &TokenRecord, profile: &Profile, now: i64) -> bool {
    if record.id_token.is_none() {
        return true;
    }
    let mut facts = record.meta();
    facts.has_access_token = true;
    facts.expires_at = id_expiry(record);
    refresh_due(&facts, profile, now)
}
