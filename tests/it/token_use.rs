//! Tokens where they are used (SPEC.md "Tokens where they are used"), against the real server:
//! `token --min-valid` and `--format`, `exec`, `call`. The binary's shared server (`oidc::shared`); each
//! test that counts token requests has a client of its own there.

use crate::support;
use crate::support::oidc::{self, OidcServer, post_cmd};
use crate::support::world::World;

pub fn server() -> &'static OidcServer {
    oidc::shared()
}

/// A world with profile `p` for `client` (client_secret_post, `refresh_ahead` 10 s) holding a
/// token just minted, and how many token requests the server had seen from `client` by then.
pub fn minted(client: &str) -> (World, usize) {
    let w = World::new(&oidc::profile(
        "p",
        &server().issuer,
        client,
        &format!("client_secret_env = \"{}\"", oidc::SECRET_VAR),
    ));
    let requests = server().mint_into(&w, client);
    (w, requests)
}

pub fn stored_access_token(w: &World) -> String {
    w.stored("p", "access_token")
}

fn run(w: &World, args: &[&str]) -> std::process::Output {
    post_cmd(w, args).output().unwrap()
}

/// A 60 s token with `--min-valid 2m`: less is left, so one refresh; the fresh token still has
/// less than 2 minutes, so it is printed with a warning, and not refreshed a second time.
#[test]
fn min_valid_refreshes_once_when_less_is_left_and_warns_when_fresh_is_still_short() {
    let client = oidc::lifetime_client(60, "");
    let (w, before) = minted(&client);
    let old = stored_access_token(&w);
    let out = run(&w, &["token", "p", "--min-valid", "2m"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_ne!(printed.trim_end(), old, "a refreshed token");
    assert_eq!(printed.trim_end(), stored_access_token(&w));
    assert!(stderr.contains("less than --min-valid 2m"), "{stderr}");
    assert_eq!(
        server().token_requests(&client).len() - before,
        1,
        "one refresh per call"
    );
}

/// A one-hour token with `--min-valid 10m`: enough is left, so nothing is sent, call after call.
#[test]
fn min_valid_sends_nothing_when_enough_is_left() {
    let client = oidc::lifetime_client(3600, "");
    let (w, before) = minted(&client);
    let old = stored_access_token(&w);
    for _ in 0..3 {
        let out = run(&w, &["token", "p", "--min-valid", "10m"]);
        assert!(out.status.success(), "{}", support::stderr(&out));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{old}\n"));
        assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    }
    assert_eq!(server().token_requests(&client).len() - before, 0);
}

#[test]
fn format_header_and_json() {
    let (w, _) = minted(&oidc::lifetime_client(300, ""));
    let token = stored_access_token(&w);

    let out = run(&w, &["token", "p", "--format", "header"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("Authorization: Bearer {token}\n")
    );

    let out = run(&w, &["token", "p", "--format", "json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["access_token"], token.as_str());
    assert_eq!(json["token_type"], "Bearer");
    let expires_in = json["expires_in"].as_i64().unwrap();
    assert!((200..=300).contains(&expires_in), "{json}");
    let at = json["expires_at"].as_str().unwrap();
    assert!(
        humantime::parse_rfc3339(at).is_ok() && at.ends_with('Z'),
        "{at}"
    );
    assert!(json["scope"].as_str().unwrap().contains("openid"), "{json}");
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "{keys:?}");

    let out = run(&w, &["token", "p", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&w, &["token", "p", "--min-valid", "soon"]);
    assert_eq!(out.status.code(), Some(2));
}
