//! The engine against a real authorization server: oidc-provider on loopback, with refresh
//! token rotation and reuse detection on (reusing a rotated refresh token revokes the family).
//! The tests share the binary's default server (`oidc::shared`): each mints grants of its own,
//! so its revocations and reuse detections kill its own token families only, and none counts
//! requests per client.

use crate::support::oidc::{self, OidcServer, post_cmd, post_profile, post_std_cmd, profile};
use crate::support::world::World;
use predicates::prelude::*;
use std::process::Stdio;
use std::time::Duration;

fn rt(world: &World, name: &str) -> String {
    world.stored(name, "refresh_token")
}

fn active(server: &OidcServer, token: &str) -> bool {
    server.introspect(oidc::POST_CLIENT, Some(oidc::POST_SECRET), token)["active"] == true
}

/// A world with one post-auth profile `p` holding a freshly minted token.
fn minted(server: &OidcServer) -> World {
    server.minted_world(&["p"])
}

/// The shared real server, and a world with the one profile `name` of client `client` there
/// ([`profile`] with the `extra` keys).
fn server_with_profile(name: &str, client: &str, extra: &str) -> (&'static OidcServer, World) {
    let server = oidc::shared();
    let w = World::new(&profile(name, &server.issuer, client, extra));
    (server, w)
}

/// Spawns `tokdash login p`, its stdout and stderr piped.
fn spawn_login(w: &World) -> std::process::Child {
    post_std_cmd(w, &["login", "p"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn many_refreshes_in_a_row_each_rotate_and_the_last_token_lives() {
    let server = oidc::shared();
    let w = minted(server);
    let mut previous = rt(&w, "p");
    for i in 0..15 {
        post_cmd(&w, &["refresh", "p"])
            .assert()
            .success()
            .stdout(predicate::str::contains("new refresh token stored"));
        let current = rt(&w, "p");
        assert_ne!(current, previous, "refresh {i} rotated");
        previous = current;
    }
    assert!(
        active(server, &previous),
        "the newest refresh token is alive: no double spend"
    );
    let list: serde_json::Value = serde_json::from_slice(
        &w.cmd(&["list", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(list[0]["status"], "valid");
    assert!(list[0]["last_refresh"].is_string());
}

#[test]
fn several_processes_refreshing_at_once_never_spend_a_token_twice() {
    let server = oidc::shared();
    let w = minted(server);
    let mut children = Vec::new();
    for i in 0..8 {
        let args: &[&str] = if i % 2 == 0 {
            &["refresh", "p"]
        } else {
            &["token", "p"]
        };
        let mut cmd = post_std_cmd(&w, args);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        children.push(cmd.spawn().unwrap());
    }
    crate::support::wait_all_succeeded(children, "a concurrent refresh or token");
    // Had two processes sent the same refresh token, the server would have revoked the family.
    assert!(active(server, &rt(&w, "p")));
    post_cmd(&w, &["refresh", "p"]).assert().success();
}

#[test]
fn basic_and_public_clients_refresh() {
    let server = oidc::shared();
    let config = profile(
        "basic",
        &server.issuer,
        oidc::BASIC_CLIENT,
        "client_secret_env = \"TD_BASIC\"\nauth_method = \"client_secret_basic\"",
    ) + &profile("public", &server.issuer, oidc::PUBLIC_CLIENT, "");
    let w = World::new(&config);
    w.import(
        "basic",
        &server.mint(
            oidc::BASIC_CLIENT,
            Some(oidc::BASIC_SECRET),
            "client_secret_basic",
            oidc::DEFAULT_SCOPE,
        ),
    );
    w.import(
        "public",
        &server.mint(oidc::PUBLIC_CLIENT, None, "none", oidc::DEFAULT_SCOPE),
    );
    let before = (rt(&w, "basic"), rt(&w, "public"));
    w.cmd(&["refresh", "basic", "public"])
        .env("TD_BASIC", oidc::BASIC_SECRET)
        .assert()
        .success();
    assert_ne!(rt(&w, "basic"), before.0);
    assert_ne!(rt(&w, "public"), before.1);
}

#[test]
fn client_credentials_fetches_a_token_and_token_prints_only_it() {
    let (server, w) = server_with_profile(
        "robot",
        oidc::CC_CLIENT,
        "client_secret_env = \"TD_CC\"\ngrant = \"client_credentials\"\nscopes = [\"api\"]",
    );
    let run_token = || {
        let out = w
            .cmd_with_secret(&["token", "robot"], "TD_CC", oidc::CC_SECRET)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let token = run_token();
    assert_eq!(token.lines().count(), 1);
    assert_eq!(
        token.trim(),
        w.record("robot").unwrap()["access_token"].as_str().unwrap()
    );
    assert_eq!(
        server.introspect(oidc::CC_CLIENT, Some(oidc::CC_SECRET), token.trim())["active"],
        true
    );
    // A second `token` uses the stored one: no new token.
    assert_eq!(run_token(), token);
}

#[test]
fn revoke_kills_the_grant_and_the_next_refresh_says_so() {
    let server = oidc::shared();
    let w = minted(server);
    let (refresh, access) = (
        rt(&w, "p"),
        w.record("p").unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    post_cmd(&w, &["revoke", "p", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "p: revoked (refresh_token, access_token)",
        ));
    assert!(!active(server, &refresh) && !active(server, &access));
    let list: serde_json::Value =
        serde_json::from_slice(&w.cmd(&["list", "--json"]).assert().get_output().stdout).unwrap();
    assert_eq!(list[0]["status"], "revoked");
    post_cmd(&w, &["refresh", "p"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "p: cannot refresh: the tokens were revoked; run: tokdash login p",
        ));
}

#[test]
fn invalid_grant_marks_needs_login_and_keeps_the_refresh_token() {
    let server = oidc::shared();
    let w = minted(server);
    let stale = rt(&w, "p");
    // Another client of the same grant rotates it behind tokdash's back, then tokdash presents
    // the old token: oidc-provider answers invalid_grant (and revokes the family).
    post_cmd(&w, &["refresh", "p"]).assert().success();
    let mut record = w.record("p").unwrap();
    record["refresh_token"] = serde_json::Value::String(stale.clone());
    record["expires_at"] = serde_json::json!(0);
    std::fs::write(w.store().join("p.json"), record.to_string()).unwrap();
    post_cmd(&w, &["token", "p"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::is_match(r"^tokdash: p: refresh refused \(HTTP 400, invalid_grant: grant request is invalid\); run: tokdash login p\n$").unwrap());
    assert_eq!(
        rt(&w, "p"),
        stale,
        "a failed refresh never touches the stored refresh token"
    );
    let list: serde_json::Value =
        serde_json::from_slice(&w.cmd(&["list", "--json"]).assert().get_output().stdout).unwrap();
    assert_eq!(list[0]["status"], "needs_login");
    let last_error = list[0]["last_error"].as_str().unwrap();
    assert!(last_error.contains("invalid_grant"));
}

#[test]
fn check_refreshes_once_on_401_and_retries() {
    let server = oidc::shared();
    let w = minted(server);
    post_cmd(&w, &["check", "p"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"^p: ok, HTTP 200 in \d+ ms, sub \S+\n$").unwrap());
    // An access token the server no longer knows, but which looks valid to us.
    let mut record = w.record("p").unwrap();
    record["access_token"] = serde_json::Value::String("not-a-live-token".into());
    std::fs::write(w.store().join("p.json"), record.to_string()).unwrap();
    let before = rt(&w, "p");
    post_cmd(&w, &["check", "p"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(refreshed after a 401)"));
    assert_ne!(rt(&w, "p"), before);
}

#[test]
fn config_check_resolves_discovery() {
    let server = oidc::shared();
    let w = World::new(&post_profile("p", &server.issuer));
    w.cmd(&["config", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "token:          {}/token",
            server.issuer
        )))
        .stdout(predicate::str::contains(format!(
            "revocation:     {}/token/revocation",
            server.issuer
        )))
        .stdout(predicate::str::contains(format!(
            "device:         {}/device/auth",
            server.issuer
        )));
}

#[test]
fn login_with_the_device_flow_approved_through_the_servers_pages() {
    let server = oidc::shared();
    let w = World::new(&oidc::login_profile("p", &server.issuer));
    login_approved(server, spawn_login(&w));
    assert!(active(server, &rt(&w, "p")));
}

/// Approves the running login `child` at the server, as a person would; it must then succeed.
fn login_approved(server: &OidcServer, mut child: std::process::Child) {
    let (code, rest) = read_user_code(&mut child);
    server.approve(&code);
    let out = wait_with_deadline(child, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(rest.join().unwrap().contains("p: logged in"));
}

/// With HTTP Basic client authentication the device request also names `client_id` in its body
/// (servers in use require it): the real server accepts the two together.
#[test]
fn device_login_with_a_basic_client_is_accepted_by_the_real_server() {
    let (server, w) = server_with_profile(
        "p",
        oidc::BASIC_CLIENT,
        "client_secret_env = \"TD_BASIC\"\nauth_method = \"client_secret_basic\"\nscopes = [\"openid\", \"offline_access\"]",
    );
    let child = w
        .std_cmd_with_secret(&["login", "p"], "TD_BASIC", oidc::BASIC_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    login_approved(server, child);
    // A real refresh token of this server: refreshing with it works (and rotates it).
    let stored = rt(&w, "p");
    w.cmd(&["refresh", "p"])
        .env("TD_BASIC", oidc::BASIC_SECRET)
        .assert()
        .success();
    assert_ne!(rt(&w, "p"), stored);
}

#[test]
fn a_denied_login_exits_1_and_says_so() {
    let server = oidc::shared();
    let w = World::new(&post_profile("p", &server.issuer));
    let mut child = spawn_login(&w);
    let (code, _) = read_user_code(&mut child);
    server.deny(&code);
    let out = wait_with_deadline(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("p: login denied (access_denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(w.record("p").is_none(), "nothing stored");
}

#[test]
fn refresh_all_runs_every_profile_over_one_pool() {
    let server = oidc::shared();
    let (w, _) = server.minted_numbered(12);
    let out = post_cmd(&w, &["refresh", "--all", "--force", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let list: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 12);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "valid" && e["last_refresh"].is_string())
    );
    // OIDC discovery was fetched once for the twelve profiles (and cached in the store).
    let cached = w.discovery_documents();
    assert_eq!(cached.len(), 1);
}

/// Reads the login's stdout until the user code line, within a deadline; the handle gives the
/// rest of stdout once the process ends.
fn read_user_code(child: &mut std::process::Child) -> (String, std::thread::JoinHandle<String>) {
    use std::io::{BufRead, BufReader};
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(code) = line.strip_prefix("and enter the code:") {
                let _ = tx.send(code.trim().to_string());
            }
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    });
    let code = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("tokdash login printed a user code");
    (code, rest)
}

fn wait_with_deadline(mut child: std::process::Child, deadline: Duration) -> std::process::Output {
    crate::support::wait_until(deadline, "tokdash login to finish", || {
        child.try_wait().unwrap().is_some()
    });
    child.wait_with_output().unwrap()
}
