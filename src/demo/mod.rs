//! `tokdash demo`: the real dashboard and engine against an embedded token server, with a
//! temporary config and store. Needs no network, no config, and writes nothing outside a
//! temporary directory that is removed on exit.
//!
//! Beside the demo's own clients, three profiles are the real `google`, `microsoft` and `auth0`
//! providers with every endpoint pointed at the embedded server, which answers each in its
//! provider's shape (`shape.rs`): the dashboard, the details pane and the engine's provider
//! quirks (Google's revocation, Microsoft's scope on refresh, Auth0's JSON revocation) see what
//! they would see from the real thing, and nothing leaves the machine.

mod authorize;
mod jwt;
mod server;
mod shape;
#[cfg(test)]
mod tests;

pub use server::DemoServer;
pub use shape::Shape;

use crate::clock;
use crate::config::Config;
use crate::failure::Failure;
use crate::secret::Secret;
use crate::store::{FileStore, Standing, TokenRecord};

/// The sample profiles, for a server at `base`.
pub fn config_text(base: &str) -> String {
    let tenant = shape::MICROSOFT_TENANT;
    let audience = shape::AUTH0_AUDIENCE;
    format!(
        r#"# tokdash demo: sample profiles against the embedded server at {base}
[settings]
refresh_ahead = "20s"
auto_refresh = true
timeout = "5s"

[profiles.demo-rotating]
provider = "oidc"
issuer = "{base}"
client_id = "rotating"

[profiles.demo-steady]
provider = "oauth2"
token_url = "{base}/token"
revocation_url = "{base}/revoke"
userinfo_url = "{base}/userinfo"
client_id = "steady"
refresh_ahead = "30s"

# Google's answers (no rotation, an id token, its revocation), every endpoint on the demo server.
[profiles.demo-google]
provider = "google"
client_id = "123456789012-demo.apps.googleusercontent.com"
scopes = ["openid", "email", "https://www.googleapis.com/auth/cloud-platform"]
token_url = "{base}/google/token"
revocation_url = "{base}/google/revoke"
device_authorization_url = "{base}/google/device/code"
userinfo_url = "{base}/google/userinfo"

# Microsoft's: the authority is the demo server, so the tenant's v2.0 paths are served there.
[profiles.demo-entra]
provider = "microsoft"
authority = "{base}"
tenant = "{tenant}"
client_id = "00000000-0000-0000-0000-00000000de30"
scopes = ["offline_access", "openid", "profile", "https://graph.microsoft.com/User.Read"]
userinfo_url = "{base}/microsoft/oidc/userinfo"

# Auth0's (rotation with reuse detection, a JWT for the audience). The domain is never
# contacted: every endpoint is overridden, and .invalid never resolves.
[profiles.demo-auth0]
provider = "auth0"
domain = "demo.eu.auth0.invalid"
audience = "{audience}"
client_id = "demoAUTH0clientID"
scopes = ["openid", "profile", "email", "offline_access"]
token_url = "{base}/auth0/oauth/token"
revocation_url = "{base}/auth0/oauth/revoke"
device_authorization_url = "{base}/auth0/oauth/device/code"
userinfo_url = "{base}/auth0/userinfo"

[profiles.demo-flaky]
provider = "oauth2"
token_url = "{base}/token"
client_id = "flaky"

[profiles.demo-needs-login]
provider = "oauth2"
token_url = "{base}/token"
device_authorization_url = "{base}/device"
revocation_url = "{base}/revoke"
client_id = "login"

[profiles.demo-robot]
provider = "oauth2"
token_url = "{base}/token"
client_id = "robot"
client_secret_cmd = ["echo", "demo-secret"]
grant = "client_credentials"

[profiles.demo-expired]
provider = "oauth2"
token_url = "{base}/token"
client_id = "expired"

[profiles.demo-revoked]
provider = "oauth2"
token_url = "{base}/token"
client_id = "revoked"
"#
    ) + &BROWSER_PROFILE.replace("{base}", base)
}

/// A profile logged in with the browser (the authorization code grant with PKCE) against the
/// demo server's `/authorize`, which approves at once and redirects to tokdash's listener; it
/// starts as `needs_login`, and `l` (or `tokdash login`) finishes in a local browser, or with
/// `curl -sL 'URL'` from another shell. `{base}` is the server's address.
const BROWSER_PROFILE: &str = r#"
# A browser login: `l` shows the URL; open it here, or `curl -sL 'URL'` from another shell.
[profiles.demo-browser]
provider = "oidc"
issuer = "{base}"
client_id = "browser"
login = "browser"
scopes = ["openid", "offline_access", "email"]
"#;

/// Records as if the user had logged in earlier: short-lived tokens (JWTs, with id tokens where
/// the provider sends them) that start counting down.
fn seed(server: &DemoServer, store: &FileStore) -> Result<(), Failure> {
    let now = clock::now();
    let record = |shape: Shape, client: &str, expires_in: i64, with_refresh: bool| {
        let tokens = server.seed(shape, client, expires_in, with_refresh);
        // Logged in yesterday: the providers' documented idle limits give a login end.
        let family_started_at = with_refresh.then_some(now - 86_400);
        TokenRecord {
            family_started_at,
            access_token: Some(Secret::new(tokens.access_token)),
            refresh_token: tokens.refresh_token.map(Secret::new),
            id_token: tokens.id_token.map(Secret::new),
            scope: Some(tokens.scope),
            token_type: Some("Bearer".into()),
            expires_at: Some(now + expires_in),
            obtained_at: Some(now),
            ..Default::default()
        }
    };
    let records = [
        ("demo-rotating", record(Shape::Plain, "rotating", 35, true)),
        ("demo-steady", record(Shape::Plain, "steady", 60, true)),
        (
            "demo-google",
            record(
                Shape::Google,
                "123456789012-demo.apps.googleusercontent.com",
                50,
                true,
            ),
        ),
        (
            "demo-entra",
            record(
                Shape::Microsoft,
                "00000000-0000-0000-0000-00000000de30",
                70,
                true,
            ),
        ),
        (
            "demo-auth0",
            record(Shape::Auth0, "demoAUTH0clientID", 28, true),
        ),
        ("demo-flaky", record(Shape::Plain, "flaky", 25, true)),
        // Expired, and nothing to refresh it with: stays `expired` until a login.
        ("demo-expired", record(Shape::Plain, "expired", -95, false)),
        (
            "demo-revoked",
            TokenRecord {
                standing: Standing::Revoked,
                ..Default::default()
            },
        ),
    ];
    for (name, mut rec) in records {
        store.save(name, &mut rec)?;
    }
    Ok(())
}

pub fn run() -> Result<(), Failure> {
    let dir = tempfile::Builder::new()
        .prefix("tokdash-demo-")
        .tempdir()
        .map_err(|e| Failure::usage(format!("demo: cannot create a temporary directory: {e}")))?;
    crate::runtime::build(crate::runtime::Purpose::Dashboard)?.block_on(async {
        let server = DemoServer::start()
            .await
            .map_err(|e| Failure::usage(format!("demo: cannot start the token server: {e}")))?;
        let config_path = dir.path().join("profiles.toml");
        std::fs::write(&config_path, config_text(&server.base_url))
            .map_err(|e| Failure::usage(format!("demo: cannot write the config: {e}")))?;
        let config = Config::load(&config_path)?;
        let store = FileStore::open(&dir.path().join("tokens"))?;
        seed(&server, &store)?;
        crate::dashboard::run_async(config, crate::store::Backend::Files(store)).await
    })
}
