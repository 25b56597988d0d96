//! Revocation (RFC 7009) and the providers' variations (providers.md 1.6, 2.6, 3.6). After a
//! successful revocation the record keeps no token values and the profile is `revoked`.

use super::Engine;
use super::error::exchange_error;
use super::error::{EngineError, ErrorKind};
use crate::config::{Profile, ProviderConfig};
use crate::oauth::ClientAuth;
use crate::oauth::exchange::{self, ExchangeError};
use crate::provider::{self, Endpoints, RevocationStyle};
use crate::secret::Secret;
use crate::store::Standing;

#[derive(Debug, Clone)]
pub struct Revoked {
    /// What was sent: `refresh_token`, `access_token`.
    pub revoked: Vec<&'static str>,
    /// The provider said the token was already dead (Google's 400 invalid_token).
    pub already_dead: bool,
    /// The record as stored: no token values, `revoked`.
    pub record: crate::store::TokenRecord,
}

impl Engine {
    pub async fn revoke(&self, name: &str) -> Result<Revoked, EngineError> {
        let profile = self.profile(name)?;
        if matches!(profile.provider, ProviderConfig::Microsoft { .. })
            && profile.endpoints.revocation_url.is_none()
        {
            return Err(EngineError::new(
                name,
                ErrorKind::Refused,
                provider::microsoft::NO_REVOCATION,
            ));
        }
        let (endpoints, url) = self
            .required_endpoint(profile, |e| &e.revocation_url, "the provider has no revocation endpoint; set revocation_url in the profile if it has one")
            .await?;
        let (_lock, mut record) = self.lock_and_load(name).await?;
        // Refresh token first: revoking it ends the grant (RFC 7009 §2.1 "SHOULD also invalidate
        // all access tokens"); the access token follows where the provider can revoke it.
        let mut tokens: Vec<(&'static str, Secret)> = Vec::new();
        if let Some(rt) = record.refresh_token.clone() {
            tokens.push(("refresh_token", rt));
        }
        if let Some(at) = record.access_token.clone() {
            match endpoints.revocation_style {
                RevocationStyle::Rfc7009 => tokens.push(("access_token", at)),
                // Google revokes the pair from either token: the access token only matters
                // when it is all we have.
                RevocationStyle::Google if tokens.is_empty() => tokens.push(("access_token", at)),
                // Auth0 cannot revoke access tokens at all.
                RevocationStyle::Google | RevocationStyle::Auth0Json => {}
            }
        }
        if tokens.is_empty() {
            return Err(EngineError::new(
                name,
                ErrorKind::NothingToActWith,
                "there is no token to revoke",
            ));
        }
        let auth = self.client_auth(profile).await?;
        let mut revoked = Vec::new();
        let mut already_dead = false;
        for (hint, token) in tokens {
            match self
                .revoke_one(profile, &endpoints, &url, &auth, hint, &token)
                .await
            {
                Ok(()) => revoked.push(hint),
                Err(ExchangeError::OAuth { error, .. })
                    if endpoints.revocation_style == RevocationStyle::Google
                        && provider::google::revocation_already_done(&error.error) =>
                {
                    revoked.push(hint);
                    already_dead = true;
                }
                Err(e) if revoked.contains(&"refresh_token") => {
                    // The refresh token is dead already: record that, and say what remains.
                    let mut err = exchange_error(profile, "revocation of the access token", e);
                    err.message.push_str(" (the refresh token was revoked)");
                    self.forget_tokens(name, &mut record).await?;
                    return Err(err);
                }
                Err(e) => {
                    // RFC 7009 §2.2.1: on failure the client must assume the token still exists.
                    return Err(exchange_error(profile, "revocation", e));
                }
            }
        }
        self.forget_tokens(name, &mut record).await?;
        tracing::info!(profile = name, "revoked");
        Ok(Revoked {
            revoked,
            already_dead,
            record,
        })
    }

    /// After a revocation the record keeps no token values: they are dead, and dead secrets on
    /// disk are still secrets.
    async fn forget_tokens(
        &self,
        name: &str,
        record: &mut crate::store::TokenRecord,
    ) -> Result<(), EngineError> {
        record.access_token = None;
        record.refresh_token = None;
        record.id_token = None;
        record.expires_at = None;
        record.standing = Standing::Revoked;
        record.last_error = None;
        self.save(name, record).await
    }

    async fn revoke_one(
        &self,
        profile: &Profile,
        endpoints: &Endpoints,
        url: &str,
        auth: &ClientAuth,
        hint: &'static str,
        token: &Secret,
    ) -> Result<(), ExchangeError> {
        let http = &self.http;
        let _permit = self.permits.acquire().await;
        let _ = profile;
        exchange::send_with_retries(http, self.config.settings.timeout, true, || {
            provider::revocation_request(
                http.client(),
                &endpoints.revocation_style,
                url,
                auth,
                hint,
                token,
            )
        })
        .await
        .map(|_| ())
    }
}
