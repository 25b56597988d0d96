//! The idle window of a login against the real server (oidc-provider, tests/oidc/server.js) whose
//! refresh tokens live 20 s (`OIDC_RT_TTL`). With rotation on, every refresh issues a new refresh
//! token with a fresh 20 s: the server's refresh token dies after 20 s without a refresh, which is
//! what `refresh_token_idle = "20s"` tells tokdash. Access tokens live an hour (the
//! `tokdash-ttl-3600-idle-*` clients), so only the idle window can make tokdash refresh.
//!
//! The binary's one server with that `OIDC_RT_TTL` (`oidc::shared_with`); every test has a client
//! of its own there, so its request log is its own.

use crate::support::oidc::{self, OidcServer};
use crate::support::world::World;
use crate::support::{succeeded, wait_until};
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};

const IDLE_SECS: u64 = 20;

fn server() -> &'static OidcServer {
    oidc::shared_with(&[("OIDC_RT_TTL", "20")])
}

/// A world with profile `p` for `client`, `refresh_token_idle = "20s"`, holding a token just
/// minted for it; and how many token requests the server had seen from `client` by then.
fn minted(client: &str) -> (World, usize) {
    let w = World::new(&format!(
        "[profiles.p]\nprovider = \"oidc\"\nissuer = \"{}\"\nclient_id = \"{client}\"\nclient_secret_env = \"{}\"\nrefresh_token_idle = \"{IDLE_SECS}s\"\n",
        server().issuer,
        oidc::SECRET_VAR
    ));
    let requests = server().mint_into(&w, client);
    (w, requests)
}

fn run(w: &World, args: &[&str]) -> Output {
    oidc::post_cmd(w, args).output().unwrap()
}

#[track_caller]
fn run_ok(w: &World, args: &[&str]) -> String {
    String::from_utf8(succeeded(args, run(w, args)).stdout).unwrap()
}

fn status(w: &World) -> String {
    let list: Value = serde_json::from_str(&run_ok(w, &["list", "--json"])).unwrap();
    list[0]["status"].as_str().unwrap().to_string()
}

fn introspect_refresh_token(w: &World, client: &str) -> Value {
    let rt = w.record("p").unwrap()["refresh_token"]
        .as_str()
        .expect("a stored refresh token")
        .to_string();
    server().introspect(client, Some(oidc::POST_SECRET), &rt)
}

#[test]
fn health_names_a_profile_whose_idle_window_closes_within_the_hour() {
    let client = oidc::lifetime_client(3600, "idle-health");
    let (w, _) = minted(&client);
    let out = run(&w, &["health", "--within", "1h"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("p: login ends in "), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    // And the server agrees the login is alive for now.
    assert_eq!(introspect_refresh_token(&w, &client)["active"], true);
}

/// The login of the `idle-ended` client with access tokens of `seconds`, imported and then
/// left alone until `list` says it ran out; checks that the server's refresh token is dead too,
/// and returns the world, the client and its request count.
fn ran_out(seconds: u32) -> (World, String, usize) {
    let client = oidc::lifetime_client(seconds, "idle-ended");
    let (w, _) = minted(&client);
    assert_ne!(status(&w), "needs_login");
    // Nothing runs: the idle window closes. list --json is read every ~0.5 s.
    let mut last_look = Instant::now() - Duration::from_secs(1);
    wait_until(
        Duration::from_secs(3 * IDLE_SECS),
        "the login to run out",
        || {
            if last_look.elapsed() < Duration::from_millis(500) {
                return false;
            }
            last_look = Instant::now();
            status(&w) == "needs_login"
        },
    );
    // The server's refresh token (issued just before the import) is dead too.
    assert_eq!(introspect_refresh_token(&w, &client)["active"], false);
    let before = server().token_requests(&client).len();
    (w, client, before)
}

/// tokdash asked once, and the server refused the refresh token.
#[track_caller]
fn refused_once(w: &World, client: &str, before: usize) {
    assert_eq!(server().token_requests(client).len(), before + 1);
    let record = w.record("p").unwrap();
    assert_eq!(record["last_error"]["code"], "invalid_grant", "{record}");
    assert_eq!(record["standing"], "needs_login");
    assert_eq!(status(w), "needs_login");
}

/// [`refused_once`], and `token`'s stderr `err` tells the person to log in again.
#[track_caller]
fn refused_once_with_login_hint(w: &World, client: &str, before: usize, err: &str) {
    assert!(err.contains("run: tokdash login p"), "{err}");
    refused_once(w, client, before);
}

/// 10 s access tokens: by the end of the 20 s idle window the access token is gone too, and
/// `token` has nothing to print.
#[test]
fn a_login_whose_idle_window_passed_needs_a_login_and_the_server_refuses_it() {
    let (w, client, before) = ran_out(10);
    let out = run(&w, &["token", "p"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "no token printed");
    assert!(err.contains("invalid_grant"), "{err}");
    refused_once_with_login_hint(&w, &client, before, &err);
}

/// Hour-long access tokens: the login ran out but the access token still works, so `token`
/// prints it with a warning that says the refresh was refused and what to run (the rule of a
/// failed refresh, mock_edges.rs), after the server refused the refresh token.
#[test]
fn a_login_that_ran_out_with_a_live_access_token_prints_it_with_the_login_hint() {
    let (w, client, before) = ran_out(3600);
    let access = w.record("p").unwrap()["access_token"].clone();
    let out = run(&w, &["token", "p"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        access.as_str().unwrap()
    );
    assert!(
        err.starts_with("tokdash: warning: p: refresh refused (HTTP 400, invalid_grant"),
        "{err}"
    );
    refused_once_with_login_hint(&w, &client, before, &err);
}

/// `tokdash token` every ~2 s for 50 s (two and a half idle windows): the access token is never
/// due, but a refresh keeps the login alive once less than a quarter of the window is left, so
/// refreshes come ~15 s apart, not at every call, and the refresh token works at the end.
#[test]
fn token_calls_keep_an_idle_login_alive_with_a_refresh_every_three_quarters_of_the_window() {
    let client = oidc::lifetime_client(3600, "idle-alive");
    let (w, before) = minted(&client);
    let start = Instant::now();
    let run_for = Duration::from_secs(IDLE_SECS * 5 / 2);
    let mut calls = 0u32;
    while start.elapsed() < run_for {
        let printed = run_ok(&w, &["token", "p"]);
        assert_eq!(
            printed.trim_end(),
            w.record("p").unwrap()["access_token"].as_str().unwrap(),
            "the stored token"
        );
        calls += 1;
        let next = start + Duration::from_secs(2) * calls;
        wait_until(Duration::from_secs(5), "the next call's time", || {
            Instant::now() >= next
        });
    }
    let times = server().token_requests(&client)[before..].to_vec();
    assert!(
        (2..=4).contains(&times.len()),
        "about one refresh per 15 s over 50 s with {calls} calls, got {times:?}"
    );
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            (12_000..=20_000).contains(&gap),
            "refreshes ~15 s apart (and within the 20 s window), got {times:?}"
        );
    }
    // The server still takes the refresh token: the login outlived two idle windows.
    assert_eq!(introspect_refresh_token(&w, &client)["active"], true);
    let out = run_ok(&w, &["refresh", "p"]);
    assert!(out.starts_with("p: "), "{out}");
    assert_eq!(status(&w), "valid");
}

/// The dashboard against the server whose refresh tokens die after 20 s idle: its row says when
/// the login ends (the 20 s window is inside the 7-day warning), and with auto-refresh on it
/// keeps the login alive past two idle windows though the hour-long access token is never due:
/// the refreshes come about every 15 s (a quarter of the window to spare), and the last refresh
/// token still works once the dashboard has quit.
#[test]
fn the_dashboard_warns_and_keeps_an_idle_login_alive() {
    use crate::support::tmux::Tmux;
    let client = oidc::lifetime_client(3600, "idle-dash");
    let (w, before) = minted(&client);
    let mut envs = w.envs();
    envs.push((oidc::SECRET_VAR, oidc::POST_SECRET.into()));
    let tmux = Tmux::start(&[], &envs, 100, 20);
    let screen = tmux.wait_for_text("login ends in", Duration::from_secs(20));
    let row = screen.lines().find(|l| l.starts_with("p ")).unwrap_or("");
    assert!(
        row.contains("valid") && row.contains("login ends in"),
        "{screen}"
    );
    // Three refreshes at least 10 s apart, the first 15 s in: past two 20 s idle windows.
    wait_until(
        Duration::from_secs(90),
        "three keep-alive refreshes",
        || server().token_requests(&client).len() - before >= 3,
    );
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(Duration::from_secs(20)), 0);
    let times = server().token_requests(&client)[before..].to_vec();
    for pair in times.windows(2) {
        let gap = pair[1] - pair[0];
        // Due once less than a quarter (5 s) of the 20 s window is left: never at every tick,
        // never so late that the window closed.
        assert!(
            (10_000..20_000).contains(&gap),
            "refreshes about 15 s apart: {times:?}"
        );
    }
    // The login is alive: the refresh token the dashboard stored last still refreshes.
    run_ok(&w, &["refresh", "p"]);
}
