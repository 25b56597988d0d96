//! The browser login: the authorization code grant (RFC 6749 §4.1) with PKCE S256 (RFC 7636), a
//! loopback redirect (RFC 8252) and the RFC 9207 `iss` check. It finishes by whichever comes
//! first: the browser reaching the listener (on this machine, or through `ssh -L`), or the
//! address the browser ended on, pasted by the user. Stored like any login (`store_response`).

use super::Engine;
use super::error::exchange_error;
use super::error::{EngineError, ErrorKind};
use super::login::Origin;
use crate::clock;
use crate::config::{LoginMethod, ProviderConfig};
use crate::oauth::authorize::{self, AuthorizationRequest, Callback, Expectations, Rejected};
use crate::oauth::exchange;
use crate::oauth::loopback::{BindError, Listener, Page};
use crate::oauth::token_response;
use crate::provider::{self, Endpoints};
use crate::secret::Secret;
use crate::store::TokenRecord;
use std::time::Duration;
use tokio::sync::mpsc;

/// RFC 6749 §4.1.2 recommends codes that live 10 minutes at most: a login not finished by then
/// cannot be.
pub const BROWSER_LOGIN_LIMIT: Duration = Duration::from_secs(600);

/// What the command line (`--port`) adds to the profile's settings.
#[derive(Debug, Clone, Default)]
pub struct BrowserOptions {
    pub port: Option<u16>,
    /// Overrides [`BROWSER_LOGIN_LIMIT`] (tests).
    pub limit: Option<Duration>,
}

/// What the user needs to finish the login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserPrompt {
    /// The authorization URL, whole.
    pub url: String,
    /// Where the browser will be sent, port included.
    pub redirect_uri: String,
    /// The port to forward with `ssh -L`.
    pub port: u16,
    /// Unix seconds when the login gives up.
    pub expires_at: i64,
}

impl BrowserPrompt {
    /// The line to run on the laptop, over SSH.
    pub fn ssh_forward(&self) -> String {
        format!("ssh -L {0}:127.0.0.1:{0} <this host>", self.port)
    }
}

/// What happens during a browser login, for the user to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserEvent {
    /// Listening: show this.
    Prompt(BrowserPrompt),
    /// Something pasted was not this login's callback; the login goes on.
    Rejected(String),
}

impl Engine {
    /// The method a login of `name` uses: the command line's, else the profile's `login`, else
    /// the device flow when the profile has a device endpoint.
    pub async fn login_method(
        &self,
        name: &str,
        asked: Option<LoginMethod>,
    ) -> Result<LoginMethod, EngineError> {
        let profile = self.profile(name)?;
        if let Some(m) = asked.or(profile.login) {
            return Ok(m);
        }
        Ok(match self.endpoints(profile).await {
            Ok(e) if e.device_authorization_url.is_some() => LoginMethod::Device,
            Ok(_) => LoginMethod::Browser,
            Err(e) => return Err(e),
        })
    }

    /// Where the browser login goes: for `oidc`, the discovery document always (it says whether
    /// `iss` comes), even when every other endpoint is overridden.
    async fn browser_endpoints(
        &self,
        profile: &crate::config::Profile,
    ) -> Result<Endpoints, EngineError> {
        let endpoints = self.endpoints(profile).await?;
        if let ProviderConfig::Oidc { issuer } = &profile.provider
            && endpoints.issuer.is_none()
        {
            return self.discovered_endpoints(profile, issuer).await;
        }
        Ok(endpoints)
    }

    /// Runs the whole browser login. `pasted` brings what the user pastes (a closed channel only
    /// means no more pastes); `on_event` is told what to show. Returns the record as stored.
    pub async fn browser_login(
        &self,
        name: &str,
        options: BrowserOptions,
        mut pasted: mpsc::UnboundedReceiver<String>,
        mut on_event: impl FnMut(BrowserEvent),
    ) -> Result<TokenRecord, EngineError> {
        let profile = self.login_profile(name).await?;
        let endpoints = self.browser_endpoints(profile).await?;
        let Some(authorization_url) = endpoints.authorization_url.clone() else {
            return Err(EngineError::new(
                name,
                ErrorKind::Config,
                "the provider has no authorization endpoint, so there is no browser login",
            )
            .with_hint(
                "set authorization_url in the profile, or log in with --device, or get a token elsewhere and run: tokdash import",
            ));
        };
        let auth = self.client_auth(profile).await?;
        let kind = profile.provider.kind();
        let scope = super::login::login_scope(profile);
        let redirect = profile
            .browser
            .redirect_uri
            .clone()
            .unwrap_or_else(|| provider::default_redirect_uri(kind).to_string());
        let port = options.port.or(profile.browser.redirect_port);
        let (listener, mut hits) = Listener::bind(&redirect, port).await.map_err(|e| {
            let kind = match e {
                BindError::BadUri(_) => ErrorKind::Config,
                _ => ErrorKind::Refused,
            };
            EngineError::new(name, kind, format!("cannot start the browser login: {e}"))
        })?;
        if let Some(asked) = port
            && asked != listener.port()
        {
            return Err(EngineError::new(
                name,
                ErrorKind::Config,
                format!(
                    "redirect_uri {redirect} fixes port {}, but port {asked} was asked for",
                    listener.port()
                ),
            )
            .with_hint("remove the port from redirect_uri, or drop --port / redirect_port"));
        }
        let request = AuthorizationRequest::new(
            &authorization_url,
            &auth.client_id,
            listener.redirect_uri(),
            &scope,
            &provider::authorization_params(profile, &scope),
        )
        .map_err(|e| EngineError::new(name, ErrorKind::Config, e))?;
        let limit = options.limit.unwrap_or(BROWSER_LOGIN_LIMIT);
        let expires_at = clock::now() + limit.as_secs() as i64;
        on_event(BrowserEvent::Prompt(BrowserPrompt {
            url: request.url.clone(),
            redirect_uri: request.redirect_uri.clone(),
            port: listener.port(),
            expires_at,
        }));
        tracing::info!(
            profile = name,
            port = listener.port(),
            "browser login: waiting for the callback"
        );
        let want = Expectations {
            state: &request.state,
            issuer: endpoints.issuer.as_deref(),
            iss_required: endpoints.iss_parameter_supported && profile.browser.require_iss,
        };

        let deadline = tokio::time::Instant::now() + limit;
        let mut pasting = true;
        let outcome = loop {
            tokio::select! {
                hit = hits.recv() => {
                    let Some(hit) = hit else { continue };
                    // Through the listener, every answer is final: a wrong state there is a
                    // browser (or a page) that is not this login's, and SPEC.md says exit 1.
                    let callback = Callback::from_query(&hit.query);
                    let result = self.finish(profile, &auth, &request, &endpoints, &want, &callback).await;
                    let _ = hit.reply.send(page_for(&result));
                    break result.map_err(into_error(name));
                }
                text = pasted.recv(), if pasting => {
                    let Some(text) = text else {
                        pasting = false;
                        continue;
                    };
                    let callback = match authorize::parse_pasted(&text, &request.redirect_uri) {
                        Ok(c) => c,
                        Err(why) => {
                            on_event(BrowserEvent::Rejected(why));
                            continue;
                        }
                    };
                    match self.finish(profile, &auth, &request, &endpoints, &want, &callback).await {
                        // Pasted by mistake from another login: say so, and wait for the right one.
                        Err(Failure::Rejected(Rejected::NotOurs(why))) => {
                            on_event(BrowserEvent::Rejected(format!("{why}; paste this login's address")));
                        }
                        other => break other.map_err(into_error(name)),
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    break Err(EngineError::new(
                        name,
                        ErrorKind::Refused,
                        format!("the browser login was not finished within {}", clock::short_duration(limit.as_secs() as i64)),
                    )
                    .with_hint(format!("run: tokdash login {name}")));
                }
            }
        };
        listener.close().await;
        outcome
    }

    /// Checks a callback, exchanges its code, checks the nonce, stores the tokens.
    async fn finish(
        &self,
        profile: &crate::config::Profile,
        auth: &crate::oauth::ClientAuth,
        request: &AuthorizationRequest,
        endpoints: &Endpoints,
        want: &Expectations<'_>,
        callback: &Callback,
    ) -> Result<TokenRecord, Failure> {
        let code = authorize::check(callback, want).map_err(Failure::Rejected)?;
        let response = self
            .exchange_code(profile, auth, request, &endpoints.token_url, code)
            .await
            .map_err(Failure::Engine)?;
        if let (Some(nonce), Some(id_token)) = (&request.nonce, &response.id_token)
            && !authorize::nonce_matches(id_token.expose(), nonce)
        {
            return Err(Failure::Engine(EngineError::new(
                &profile.name,
                ErrorKind::Refused,
                "the id token does not carry this login's nonce (a replayed or substituted token); nothing stored",
            )));
        }
        self.store_response(&profile.name, response, Origin::Login)
            .await
            .map_err(Failure::Engine)
    }

    /// RFC 6749 §4.1.3 with RFC 7636's `code_verifier`, the same `redirect_uri` byte for byte,
    /// and the profile's client authentication.
    async fn exchange_code(
        &self,
        profile: &crate::config::Profile,
        auth: &crate::oauth::ClientAuth,
        request: &AuthorizationRequest,
        token_url: &str,
        code: Secret,
    ) -> Result<token_response::TokenResponse, EngineError> {
        // A code is good once, so a cut-off exchange cannot be sent again: send it on a new
        // connection, never on a pooled one the server may have closed while the user was in the
        // browser (Node servers close idle ones after 5 s). One handshake per login.
        let settings = &self.config.settings;
        let fresh = crate::oauth::Http::new(settings.timeout, settings.ca_file.as_deref())
            .map_err(|e| EngineError::new(&profile.name, ErrorKind::Config, e))?;
        let http = &fresh;
        let reply = {
            let _permit = self.permits.acquire().await;
            // Not idempotent: a code is good once, so a timed-out exchange is not sent again.
            exchange::send_with_retries(http, self.config.settings.timeout, false, || {
                let mut form: Vec<(&'static str, String)> = vec![
                    ("grant_type", "authorization_code".into()),
                    ("code", code.expose().to_string()),
                    ("redirect_uri", request.redirect_uri.clone()),
                    ("code_verifier", request.pkce.verifier.expose().to_string()),
                ];
                let builder = auth.apply(http.client().post(token_url), &mut form);
                builder.form(&form)
            })
            .await
            .map_err(|e| {
                let mut err = exchange_error(profile, "code exchange", e);
                if err.code.as_deref() == Some("invalid_grant") {
                    // A code is dead when used, expired or meant for another verifier: only a
                    // new login helps, and nothing was stored.
                    err.kind = ErrorKind::Refused;
                    err.message.push_str("; the code was already used, expired or does not match this login; nothing stored");
                }
                err
            })?
        };
        token_response::parse(&reply.body).map_err(|why| {
            EngineError::new(
                &profile.name,
                ErrorKind::Refused,
                format!("login failed: the answer is not a token response ({why})"),
            )
        })
    }
}

/// How one callback went.
enum Failure {
    Rejected(Rejected),
    Engine(EngineError),
}

fn into_error(name: &str) -> impl Fn(Failure) -> EngineError + '_ {
    move |f| match f {
        Failure::Engine(e) => e,
        Failure::Rejected(Rejected::NotOurs(why)) => {
            EngineError::new(name, ErrorKind::Refused, format!("{why}; nothing stored"))
                .with_hint(format!("run: tokdash login {name}"))
        }
        Failure::Rejected(Rejected::Failed { message, code }) => {
            let mut e = EngineError::new(name, ErrorKind::Refused, message);
            e.code = code;
            e
        }
    }
}

fn page_for(result: &Result<TokenRecord, Failure>) -> Page {
    match result {
        Ok(_) => Page {
            ok: true,
            message: "tokdash has the tokens.".into(),
        },
        Err(Failure::Rejected(Rejected::NotOurs(why)))
        | Err(Failure::Rejected(Rejected::Failed { message: why, .. })) => Page {
            ok: false,
            message: why.clone(),
        },
        Err(Failure::Engine(e)) => Page {
            ok: false,
            message: e.message.clone(),
        },
    }
}
