//! `tokdash demo`: the real dashboard and engine against an embedded token server, with a
//! temporary config and store. Needs no network, no config, and writes nothing outside a
//! temporary directory that is removed on exit.

mod server;

pub use server::DemoServer;

use crate::clock;
use crate::config::Config;
use crate::failure::Failure;
use crate::secret::Secret;
use crate::store::{FileStore, Standing, TokenRecord};

/// The sample profiles, for a server at `base`.
pub fn config_text(base: &str) -> String {
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
    )
}

/// Records as if the user had logged in earlier: short-lived tokens that start counting down.
fn seed(server: &DemoServer, store: &FileStore) -> Result<(), Failure> {
    let now = clock::now();
    let record = |client: &str, expires_in: i64, refresh: Option<String>| TokenRecord {
        access_token: Some(Secret::new(format!("{client}-at-seed"))),
        refresh_token: refresh.map(Secret::new),
        token_type: Some("Bearer".into()),
        expires_at: Some(now + expires_in),
        obtained_at: Some(now),
        ..Default::default()
    };
    let mut records = vec![
        (
            "demo-rotating",
            record("rotating", 35, Some(server.seed_refresh_token("rotating"))),
        ),
        (
            "demo-steady",
            record("steady", 60, Some(server.seed_refresh_token("steady"))),
        ),
        (
            "demo-flaky",
            record("flaky", 25, Some(server.seed_refresh_token("flaky"))),
        ),
        // Expired, and nothing to refresh it with: stays `expired` until a login.
        ("demo-expired", record("expired", -95, None)),
    ];
    let revoked = TokenRecord {
        standing: Standing::Revoked,
        ..Default::default()
    };
    records.push(("demo-revoked", revoked));
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
