//! The device authorization grant (RFC 8628), with the providers' variations: Google's
//! `verification_url` and 428/403 polling answers, Microsoft's `authorization_declined` and
//! `message`, Auth0's `verification_uri_complete`. Polling branches on the `error` code only.

use super::Engine;
use super::error::{EngineError, FailureKind};
use super::refresh::exchange_error;
use crate::clock;
use crate::config::Grant;
use crate::oauth::error::one_line;
use crate::oauth::exchange::{self, ExchangeError};
use crate::provider;
use crate::store::{Standing, TokenRecord};
use crate::token_response;
use serde_json::Value;
use std::time::Duration;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the default polling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: `slow_down` adds 5 seconds, for this and every later request.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// What the user must see to approve the login (RFC 8628 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPrompt {
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    /// Unix seconds when the code stops working.
    pub expires_at: i64,
    /// Microsoft's ready-made sentence, when the provider sends one.
    pub message: Option<String>,
}

#[derive(Debug)]
pub struct DeviceAuthorization {
    device_code: String,
    prompt: LoginPrompt,
    interval: Duration,
}

impl Engine {
    /// Runs the whole device login; `on_prompt` is called once with what to show the user.
    /// Returns the record as stored.
    pub async fn login(
        &self,
        name: &str,
        on_prompt: impl FnOnce(LoginPrompt),
    ) -> Result<TokenRecord, EngineError> {
        let profile = self.profile(name)?;
        if profile.grant == Grant::ClientCredentials {
            return Err(EngineError::new(
                name,
                FailureKind::Config,
                "a client_credentials profile needs no login; use refresh",
            ));
        }
        // A record the store refuses (not JSON, a link) would stop the login only once the user
        // has approved it, when the tokens are stored: refuse it before asking anything.
        self.load(name).await?;
        let endpoints = self.endpoints(profile).await?;
        let Some(device_url) = endpoints.device_authorization_url.clone() else {
            return Err(EngineError::new(
                name,
                FailureKind::Config,
                "the provider has no device authorization endpoint; set device_authorization_url, or get a token elsewhere and run: tokdash import",
            ));
        };
        let auth = self.client_auth(profile).await?;
        let kind = profile.provider.kind();
        let scopes = if profile.scopes.is_empty() {
            provider::default_login_scopes(kind).join(" ")
        } else {
            profile.scopes.join(" ")
        };
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
            .map_err(|e| exchange_error(profile, "device authorization", e))?
        };
        let device = parse_device_authorization(&reply.body, clock::now()).map_err(|why| {
            EngineError::new(
                name,
                FailureKind::Refused,
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
                    FailureKind::Refused,
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
                                FailureKind::Refused,
                                "the code expired before it was approved",
                            )
                            .with_hint(format!("run: tokdash login {name}")));
                        }
                        "access_denied" | "authorization_declined" => {
                            let mut e = EngineError::new(
                                name,
                                FailureKind::Refused,
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
                    FailureKind::Refused,
                    format!("login failed: the answer is not a token response ({why})"),
                )
            })?;
            return self.store_login(name, response).await;
        }
    }

    /// Stores a login's tokens under the lock, replacing whatever was there.
    async fn store_login(
        &self,
        name: &str,
        response: token_response::TokenResponse,
    ) -> Result<TokenRecord, EngineError> {
        let (_lock, mut record) = self.lock_and_load(name).await?;
        let now = clock::now();
        // A login starts a new grant: an old refresh token is not kept when the new one comes.
        response.apply_to(&mut record, now);
        record.standing = Standing::Active;
        record.last_refresh = Some(now);
        self.save(name, &mut record).await?;
        tracing::info!(profile = name, "logged in");
        Ok(record)
    }
}

/// RFC 8628 §3.2, read leniently: `verification_url` (Google) for `verification_uri`,
/// numbers as numbers or numeric strings, `interval` defaulting to 5 s.
pub fn parse_device_authorization(body: &[u8], now: i64) -> Result<DeviceAuthorization, String> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err("the answer is not a JSON object".into());
    };
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| map.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    };
    let number = |key: &str| match map.get(key) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let device_code = text(&["device_code"]).ok_or("no device_code in the answer")?;
    let user_code = text(&["user_code"]).ok_or("no user_code in the answer")?;
    let verification_uri = text(&["verification_uri", "verification_url"])
        .ok_or("no verification_uri in the answer")?;
    let expires_in = number("expires_in").unwrap_or(600).min(86_400);
    let interval = number("interval")
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_INTERVAL)
        .max(Duration::from_secs(1));
    Ok(DeviceAuthorization {
        device_code,
        prompt: LoginPrompt {
            verification_uri: one_line(&verification_uri),
            verification_uri_complete: text(&[
                "verification_uri_complete",
                "verification_url_complete",
            ])
            .map(|s| one_line(&s)),
            user_code: one_line(&user_code),
            expires_at: now + expires_in as i64,
            message: text(&["message"]).map(|s| one_line(&s)),
        },
        interval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_verification_url_and_default_interval() {
        let body = br#"{"device_code":"4/4-GM","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800}"#;
        let d = parse_device_authorization(body, 100).unwrap();
        assert_eq!(d.prompt.verification_uri, "https://www.google.com/device");
        assert_eq!(d.prompt.expires_at, 1900);
        assert_eq!(d.interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn microsoft_message_and_auth0_complete_uri() {
        let ms = br#"{"user_code":"ABCD1234","device_code":"DAQ","verification_uri":"https://microsoft.com/devicelogin","expires_in":"900","interval":5,"message":"To sign in, use a web browser"}"#;
        let d = parse_device_authorization(ms, 0).unwrap();
        assert_eq!(
            d.prompt.message.as_deref(),
            Some("To sign in, use a web browser")
        );
        assert_eq!(d.prompt.expires_at, 900);
        let a0 = br#"{"device_code":"G","user_code":"WDJB-MJHT","verification_uri":"https://t/device","verification_uri_complete":"https://t/device?user_code=WDJB-MJHT","expires_in":900,"interval":7}"#;
        let d = parse_device_authorization(a0, 0).unwrap();
        assert_eq!(
            d.prompt.verification_uri_complete.as_deref(),
            Some("https://t/device?user_code=WDJB-MJHT")
        );
        assert_eq!(d.interval, Duration::from_secs(7));
    }

    #[test]
    fn missing_fields_are_errors() {
        assert!(parse_device_authorization(br#"{"user_code":"x"}"#, 0).is_err());
        assert!(parse_device_authorization(b"<html>", 0).is_err());
    }
}
