//! The device authorization grant (RFC 8628), with the providers' variations: Google's
//! `verification_url` and 428/403 polling answers, Microsoft's `authorization_declined` and
//! `message`, Auth0's `verification_uri_complete`. Polling branches on the `error` code only.

use super::Engine;
use super::error::exchange_error;
use super::error::{EngineError, ErrorKind};
use crate::clock;
use crate::config::{Grant, Profile};
use crate::oauth::device::{DEVICE_CODE_GRANT, LoginPrompt, SLOW_DOWN_STEP, parse_authorization};
use crate::oauth::exchange::{self, ExchangeError};
use crate::oauth::token_response::{self, TokenResponse};
use crate::provider;
use crate::store::{Standing, TokenRecord};
impl Engine {
    /// The profile a login (device or browser) is for, once nothing stands in its way.
    pub(super) async fn login_profile(&self, name: &str) -> Result<&Profile, EngineError> {
        let profile = self.profile(name)?;
        if profile.grant == Grant::ClientCredentials {
            return Err(EngineError::new(
                name,
                ErrorKind::Config,
                "a client_credentials profile needs no login; use refresh",
            ));
        }
        // A record the store refuses (not JSON, a link) would stop the login only once the user
        // has approved it, when the tokens are stored: refuse it before asking anything.
        self.load(name).await?;
        Ok(profile)
    }

    /// Runs the whole device login; `on_prompt` is called once with what to show the user.
    /// Returns the record as stored.
    pub async fn login(
        &self,
        name: &str,
        on_prompt: impl FnOnce(LoginPrompt),
    ) -> Result<TokenRecord, EngineError> {
        let profile = self.login_profile(name).await?;
        let (endpoints, device_url) = self
            .required_endpoint(profile, |e| &e.device_authorization_url, "the provider has no device authorization endpoint; set device_authorization_url, or get a token elsewhere and run: tokdash import")
            .await?;
        let auth = self.client_auth(profile).await?;
        let scopes = login_scope(profile);
        let http = &self.http;
        let timeout = self.config.settings.timeout;

        let reply = {
            let _permit = self.permits.acquire().await;
            exchange::send_with_retries(http, timeout, true, || {
                let mut form: Vec<(&'static str, String)> = vec![("scope", scopes.clone())];
                form.extend(provider::extra_params(profile));
                let request = auth.apply_naming_client(http.client().post(&device_url), &mut form);
                request.form(&form)
            })
            .await
            .map_err(|e| {
                device_refused(profile, exchange_error(profile, "device authorization", e))
            })?
        };
        let device = parse_authorization(&reply.body, clock::now()).map_err(|why| {
            EngineError::new(
                name,
                ErrorKind::Refused,
                format!("device authorization failed: {why}"),
            )
        })?;
        tracing::info!(profile = name, "device login: waiting for the user");
        on_prompt(device.prompt.clone());

        let mut interval = device.interval;
        loop {
            tokio::time::sleep(interval).await;
            if clock::now() >= device.prompt.expires_at {
                return Err(EngineError::new(
                    name,
                    ErrorKind::Refused,
                    "the code expired before it was approved",
                )
                .with_hint(format!("run: tokdash login {name}")));
            }
            let polled = {
                let _permit = self.permits.acquire().await;
                http.send(
                    {
                        let mut form: Vec<(&'static str, String)> = vec![
                            ("grant_type", DEVICE_CODE_GRANT.into()),
                            ("device_code", device.device_code.clone()),
                        ];
                        let request =
                            auth.apply(http.client().post(&endpoints.token_url), &mut form);
                        request.form(&form)
                    },
                    timeout,
                )
                .await
            };
            let reply = match polled {
                Ok(r) if (200..300).contains(&r.status) => r,
                Ok(r) => match exchange::error_of(r) {
                    ExchangeError::OAuth { error, .. } => match error.error.as_str() {
                        "authorization_pending" => continue,
                        "slow_down" => {
                            interval += SLOW_DOWN_STEP;
                            continue;
                        }
                        "expired_token" => {
                            return Err(EngineError::new(
                                name,
                                ErrorKind::Refused,
                                "the code expired before it was approved",
                            )
                            .with_hint(format!("run: tokdash login {name}")));
                        }
                        "access_denied" | "authorization_declined" => {
                            let mut e = EngineError::new(
                                name,
                                ErrorKind::Refused,
                                format!("login denied ({})", error.summary()),
                            );
                            e.code = Some(error.error.clone());
                            return Err(e);
                        }
                        _ => {
                            return Err(exchange_error(
                                profile,
                                "login",
                                ExchangeError::OAuth {
                                    error,
                                    retry_after: None,
                                },
                            ));
                        }
                    },
                    // A 5xx or an HTML page mid-poll: the server may recover before the code expires.
                    e if e.transient() => continue,
                    e => return Err(exchange_error(profile, "login", e)),
                },
                Err(t) if !matches!(t, crate::oauth::TransportError::TooLarge { .. }) => continue,
                Err(t) => {
                    return Err(exchange_error(
                        profile,
                        "login",
                        ExchangeError::Transport(t),
                    ));
                }
            };
            let response = token_response::parse(&reply.body).map_err(|why| {
                EngineError::new(
                    name,
                    ErrorKind::Refused,
                    format!("login failed: the answer is not a token response ({why})"),
                )
            })?;
            return self.store_response(name, response, Origin::Login).await;
        }
    }

    /// `tokdash import`: a token endpoint response obtained elsewhere becomes the profile's
    /// record, on the same path as a login's.
    pub async fn import(
        &self,
        name: &str,
        response: TokenResponse,
    ) -> Result<TokenRecord, EngineError> {
        self.profile(name)?;
        self.store_response(name, response, Origin::Import).await
    }

    /// Stores a login's (or an import's) tokens under the lock, replacing whatever was there.
    pub(super) async fn store_response(
        &self,
        name: &str,
        response: TokenResponse,
        origin: Origin,
    ) -> Result<TokenRecord, EngineError> {
        let profile = self.profile(name)?;
        let (lock, mut record) = self.lock_and_load(name).await?;
        let now = clock::now();
        // A login starts a new grant: an old refresh token is not kept when the new one comes,
        // and the old family's limits end with it.
        record.refresh_expires_at = None;
        record.family_started_at = Some(now);
        response.apply_to(&mut record, now);
        record.standing = Standing::Active;
        match origin {
            Origin::Login => {
                record.last_refresh = Some(now);
                self.save(name, &mut record).await?;
                tracing::info!(profile = name, "logged in");
            }
            // Not a refresh of ours: when the tokens were obtained is not known.
            Origin::Import => {
                self.save(name, &mut record).await?;
                tracing::info!(profile = name, "imported a token response");
            }
        }
        self.write_token_files(profile, &record).await;
        drop(lock);
        self.run_hook(profile, &record).await;
        Ok(record)
    }
}

/// A provider that refuses the device flow to this kind of client (providers.md 6.5: Google's
/// 401 `invalid_client` "Only clients of type 'TVs and Limited Input devices'…", its
/// `invalid_scope` "Invalid device flow scope", an `unauthorized_client` for the grant) is
/// answered with the way that works: the browser login.
fn device_refused(profile: &crate::config::Profile, mut e: EngineError) -> EngineError {
    let text = e.message.to_ascii_lowercase();
    let refused = match e.code.as_deref() {
        Some("unauthorized_client") => true,
        Some("invalid_client") => text.contains("limited input") || text.contains("limited-input"),
        Some("invalid_scope") => text.contains("device flow scope"),
        _ => false,
    };
    if refused {
        e.hint = Some(format!(
            "the provider refuses the device flow for this client; set login = \"browser\" in profile {0} (or run: tokdash login {0} --browser)",
            profile.name
        ));
    }
    e
}

/// Where a new token response came from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Origin {
    Login,
    Import,
}

/// The scopes a login asks for: the profile's, else the provider's defaults.
pub(super) fn login_scope(profile: &Profile) -> String {
    if profile.scopes.is_empty() {
        provider::default_login_scopes(profile.provider.kind()).join(" ")
    } else {
        profile.scopes.join(" ")
    }
}
