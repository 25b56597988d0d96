//! Providers are data plus a few quirks: each module turns a profile into endpoints and says how
//! its server deviates from the RFCs. The HTTP code itself is shared (`crate::oauth`).

pub mod auth0;
pub mod google;
pub mod microsoft;
pub mod oauth2;
pub mod oidc;

use crate::config::{Profile, ProviderConfig, ProviderKind};
use serde::Serialize;

/// How a provider wants a revocation sent (RFC 7009 and its variations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStyle {
    /// RFC 7009: form body with `token` and `token_type_hint`, client authentication as configured.
    Rfc7009,
    /// Google: `token` in the query string, no client authentication; 400 `invalid_token` means
    /// the token was already dead, which counts as revoked (providers.md 1.6).
    Google,
    /// Auth0: a JSON body with `client_id`, `client_secret`, `token`; refresh tokens only
    /// (providers.md 3.6).
    Auth0Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    pub token_url: String,
    pub revocation_url: Option<String>,
    pub device_authorization_url: Option<String>,
    pub userinfo_url: Option<String>,
    /// Where the browser login sends the user (RFC 6749 §3.1).
    pub authorization_url: Option<String>,
    /// The issuer an RFC 9207 `iss` in the authorization response must equal, where known.
    pub issuer: Option<String>,
    /// The metadata advertises `authorization_response_iss_parameter_supported`: an `iss` must
    /// then come with every authorization response (RFC 9207 §2.4).
    pub iss_parameter_supported: bool,
    pub revocation_style: RevocationStyle,
    /// Where each URL came from, for `config check`.
    pub origins: Origins,
    /// Where the endpoints came from as a whole (the documents read, with their URLs).
    pub source: String,
}

/// Where one endpoint's URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A `*_url` key of the profile.
    Config,
    /// Known to tokdash for the provider.
    ProviderDefault,
    /// The issuer's OpenID Connect discovery document.
    OidcDiscovery,
    /// The issuer's RFC 8414 authorization server metadata.
    Rfc8414,
}

impl Origin {
    pub fn label(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::ProviderDefault => "provider default",
            Origin::OidcDiscovery => "OIDC discovery",
            Origin::Rfc8414 => "RFC 8414 metadata",
        }
    }
}

/// The [`Origin`] of each URL of [`Endpoints`]; meaningless for a URL that is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Origins {
    pub token: Origin,
    pub revocation: Origin,
    pub device_authorization: Origin,
    pub userinfo: Origin,
    pub authorization: Origin,
}

impl Origins {
    pub fn all(origin: Origin) -> Origins {
        Origins {
            token: origin,
            revocation: origin,
            device_authorization: origin,
            userinfo: origin,
            authorization: origin,
        }
    }
}

/// Endpoints known without asking the network. `None` for `oidc`, which needs discovery.
pub fn static_endpoints(profile: &Profile) -> Option<Endpoints> {
    let base = match &profile.provider {
        ProviderConfig::Google => google::endpoints(),
        ProviderConfig::Auth0 { domain, .. } => auth0::endpoints(domain),
        ProviderConfig::Microsoft { tenant, authority } => microsoft::endpoints(authority, tenant),
        ProviderConfig::OAuth2 => oauth2::endpoints(),
        ProviderConfig::Oidc { .. } => {
            // Everything overridden: no discovery needed.
            let o = &profile.endpoints;
            o.token_url.as_ref()?;
            o.revocation_url.as_ref()?;
            o.device_authorization_url.as_ref()?;
            o.userinfo_url.as_ref()?;
            oauth2::endpoints()
        }
    };
    Some(with_overrides(base, profile))
}

/// The profile's own `*_url` keys win over defaults and discovery.
pub fn with_overrides(mut e: Endpoints, profile: &Profile) -> Endpoints {
    let o = &profile.endpoints;
    let mut overridden = false;
    if let Some(u) = &o.token_url {
        e.token_url = u.clone();
        e.origins.token = Origin::Config;
        overridden = true;
    }
    if let Some(u) = &o.revocation_url {
        e.revocation_url = Some(u.clone());
        e.origins.revocation = Origin::Config;
        overridden = true;
    }
    if let Some(u) = &o.device_authorization_url {
        e.device_authorization_url = Some(u.clone());
        e.origins.device_authorization = Origin::Config;
        overridden = true;
    }
    if let Some(u) = &o.userinfo_url {
        e.userinfo_url = Some(u.clone());
        e.origins.userinfo = Origin::Config;
        overridden = true;
    }
    if let Some(u) = &o.authorization_url {
        e.authorization_url = Some(u.clone());
        e.origins.authorization = Origin::Config;
        overridden = true;
    }
    if overridden && e.source != "the profile" {
        e.source.push_str(", with the profile's overrides");
    }
    e
}

/// Extra parameters a provider wants on token and device requests.
pub fn extra_params(profile: &Profile) -> Vec<(&'static str, String)> {
    match &profile.provider {
        ProviderConfig::Auth0 {
            audience: Some(a), ..
        } => vec![("audience", a.clone())],
        _ => Vec::new(),
    }
}

/// Whether a refresh request carries `scope`. RFC 6749 §6: omitting it means the original
/// scope, which is what every provider but Microsoft wants.
pub fn sends_scope_on_refresh(kind: ProviderKind) -> bool {
    kind == ProviderKind::Microsoft
}

/// Scopes for a device login when the profile names none.
pub fn default_login_scopes(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        // Google returns a refresh token to devices without offline_access, and rejects it.
        ProviderKind::Google => &["openid", "email"],
        _ => &["openid", "offline_access"],
    }
}

/// Where the browser login's redirect goes when the profile sets no `redirect_uri`
/// (providers.md 6.7): Google's Desktop clients are documented with the path `/`; Entra's portal
/// refuses `127.0.0.1` and registers `http://localhost/<path>`; elsewhere SPEC.md's default.
pub fn default_redirect_uri(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Google => "http://127.0.0.1/",
        ProviderKind::Microsoft => "http://localhost/callback",
        _ => "http://127.0.0.1/callback",
    }
}

/// A provider's extra parameters on the authorization request (providers.md 6.1–6.3), for the
/// scope `scope`. Without them no refresh token comes back.
pub fn authorization_params(profile: &Profile, scope: &str) -> Vec<(&'static str, String)> {
    let has = |s: &str| scope.split(' ').any(|x| x == s);
    match &profile.provider {
        // Google's own switch for a refresh token, and `prompt=consent` so that a second login
        // gets one too (Google sends it only on the first consent otherwise).
        ProviderConfig::Google => vec![
            ("access_type", "offline".into()),
            ("prompt", "consent".into()),
        ],
        // Entra issues a refresh token for `offline_access` without a consent prompt, and
        // forcing one fails for users who may not consent themselves (AADSTS90094).
        ProviderConfig::Microsoft { .. } => Vec::new(),
        _ => {
            let mut params = extra_params(profile);
            // OIDC Core §11: `offline_access` is ignored without `prompt=consent`.
            if has("openid") && has("offline_access") {
                params.push(("prompt", "consent".into()));
            }
            params
        }
    }
}

/// What the provider's answer means for the stored token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The refresh token is dead: the user must log in again.
    NeedsLogin,
    /// The request or the client is wrong: fix the config; retrying will not help.
    Config,
    /// Worth retrying later.
    Transient,
}

/// Classifies an OAuth error by its `error` code (never by HTTP status, which providers bend:
/// Google answers 428 and 403 while polling, Auth0 403 for a dead refresh token).
pub fn classify(kind: ProviderKind, error: &str) -> ErrorClass {
    match (kind, error) {
        (_, "invalid_grant") => ErrorClass::NeedsLogin,
        // Auth0 documents 403 access_denied "Unknown or invalid refresh token" (providers.md 3.4).
        (ProviderKind::Auth0, "access_denied") => ErrorClass::NeedsLogin,
        // Entra: MFA or Conditional Access wants the user back (providers.md 2.4).
        (ProviderKind::Microsoft, "interaction_required") => ErrorClass::NeedsLogin,
        (_, "temporarily_unavailable" | "server_error" | "too_many_requests" | "slow_down") => {
            ErrorClass::Transient
        }
        _ => ErrorClass::Config,
    }
}

/// What to tell the user to do about an error class.
pub fn hint(class: ErrorClass, profile: &str, error: &str) -> Option<String> {
    match (class, error) {
        (ErrorClass::NeedsLogin, _) => Some(format!("run: tokdash login {profile}")),
        (ErrorClass::Config, "invalid_client" | "unauthorized_client") => Some(format!(
            "check client_id, the client secret and auth_method of profile {profile} (tokdash config check)"
        )),
        (ErrorClass::Config, "invalid_scope") => {
            Some(format!("check the scopes of profile {profile}"))
        }
        (ErrorClass::Transient, _) => Some("a retry may succeed".into()),
        _ => None,
    }
}

/// One revocation request in the provider's shape: Google's token in the query string, Auth0's
/// JSON body with the client's credentials, RFC 7009's form with a `token_type_hint`.
pub fn revocation_request(
    client: &reqwest::Client,
    style: &RevocationStyle,
    url: &str,
    auth: &crate::oauth::ClientAuth,
    hint: &'static str,
    token: &crate::secret::Secret,
) -> reqwest::RequestBuilder {
    match style {
        RevocationStyle::Google => client.post(url).query(&[("token", token.expose())]).header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        ),
        RevocationStyle::Auth0Json => {
            let mut body =
                serde_json::json!({ "client_id": auth.client_id, "token": token.expose() });
            if let Some(secret) = &auth.secret {
                body["client_secret"] = secret.expose().into();
            }
            client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
        }
        RevocationStyle::Rfc7009 => {
            let mut form = vec![
                ("token", token.expose().to_string()),
                ("token_type_hint", hint.to_string()),
            ];
            let request = auth.apply(client.post(url), &mut form);
            request.form(&form)
        }
    }
}

/// The idle limit of a provider's refresh tokens where providers.md documents one that applies to
/// every client of that provider (a profile's own `refresh_token_idle` wins):
/// - Microsoft: `MaxInactiveTime` is 90 days, not configurable since January 2021 (providers.md
///   2.5, from Microsoft's `configurable-token-lifetimes.md`);
/// - Google: a refresh token unused for six months stops working (providers.md 1.5, from the
///   official Node.js client's README); counted as 180 days, so the warning comes early, never
///   late.
///
/// Auth0's limits are per-application settings and Keycloak's come in its responses: no default.
pub fn documented_refresh_token_idle(kind: ProviderKind) -> Option<std::time::Duration> {
    const DAY: u64 = 86_400;
    match kind {
        ProviderKind::Microsoft => Some(std::time::Duration::from_secs(90 * DAY)),
        ProviderKind::Google => Some(std::time::Duration::from_secs(180 * DAY)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_error_code_and_provider_quirks() {
        use ErrorClass::*;
        assert_eq!(classify(ProviderKind::Google, "invalid_grant"), NeedsLogin);
        assert_eq!(classify(ProviderKind::Auth0, "access_denied"), NeedsLogin);
        assert_eq!(classify(ProviderKind::Google, "access_denied"), Config);
        assert_eq!(
            classify(ProviderKind::Microsoft, "interaction_required"),
            NeedsLogin
        );
        assert_eq!(classify(ProviderKind::Oidc, "invalid_client"), Config);
        assert_eq!(
            classify(ProviderKind::Oidc, "temporarily_unavailable"),
            Transient
        );
    }
}
