//! `check`: call the userinfo (or probe) URL with the access token; on 401 refresh once and retry.

use super::Engine;
use super::error::exchange_error;
use super::error::{EngineError, ErrorKind};
use super::refresh::RefreshMode;
use crate::oauth::exchange::{self, ExchangeError};
use crate::secret::Secret;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct CheckReport {
    pub status: u16,
    pub elapsed: Duration,
    /// The first call answered 401 and a refresh made the second one pass.
    pub refreshed_after_401: bool,
    /// `sub`, or `email`, from a JSON userinfo answer.
    pub subject: Option<String>,
}

impl Engine {
    pub async fn check(&self, name: &str) -> Result<CheckReport, EngineError> {
        let started = Instant::now();
        let profile = self.profile(name)?;
        let (_, url) = self
            .required_endpoint(
                profile,
                |e| &e.userinfo_url,
                "the provider has no userinfo endpoint; set userinfo_url in the profile",
            )
            .await?;
        let token = self.access_token(name).await?.token;
        let reply = match self.call(&url, &token).await {
            Err(ExchangeError::OAuth { error, .. }) if error.status == 401 => None,
            Err(ExchangeError::NotOAuth { status: 401, .. }) => None,
            Err(e) => return Err(exchange_error(profile, "check", e)),
            Ok(reply) => Some(reply),
        };
        let (reply, refreshed_after_401) = match reply {
            Some(r) => (r, false),
            None => {
                tracing::info!(profile = name, "userinfo answered 401; refreshing once");
                let seen = self.load(name).await?.map(|r| r.generation);
                let refreshed = self
                    .refresh(
                        name,
                        RefreshMode::Force {
                            seen_generation: seen,
                        },
                    )
                    .await?;
                let token = refreshed.record.access_token.ok_or_else(|| {
                    EngineError::new(name, ErrorKind::Refused, "the refresh gave no access token")
                })?;
                let reply = self.call(&url, &token).await.map_err(|e| {
                    let mut err = exchange_error(profile, "check", e);
                    err.message.push_str(" even after a refresh");
                    err
                })?;
                (reply, true)
            }
        };
        let subject = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| {
                v.get("sub")
                    .or_else(|| v.get("email"))
                    .and_then(|s| s.as_str())
                    .map(crate::oauth::error::one_line)
            });
        Ok(CheckReport {
            status: reply.status,
            elapsed: started.elapsed(),
            refreshed_after_401,
            subject,
        })
    }

    async fn call(&self, url: &str, token: &Secret) -> Result<crate::oauth::Reply, ExchangeError> {
        let http = &self.http;
        let _permit = self.permits.acquire().await;
        exchange::send_with_retries(http, self.config.settings.timeout, true, || {
            http.client().get(url).bearer_auth(token.expose())
        })
        .await
    }
}
