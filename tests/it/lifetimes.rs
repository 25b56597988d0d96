//! The due rule against the real server, with access tokens of 10 s, 60 s, 5 min and 1 h under
//! the default `refresh_ahead` (5 min): a fresh token is `valid`, `token` sends nothing while it
//! is fresh, `refresh --all` sends nothing for fresh tokens, and the dashboard refreshes once per
//! half-lifetime, not at every tick. The server counts the token requests of each client
//! (tests/oidc/server.js); every test has a client of its own on the binary's shared server.

use crate::support::oidc::{self, OidcServer};
use crate::support::succeeded;
use crate::support::tmux::Tmux;
use crate::support::world::World;
use std::time::{Duration, Instant};

fn server() -> &'static OidcServer {
    oidc::shared()
}

/// A world with profile `p` for `client`, no `refresh_ahead` of its own (the default 5 min).
fn world(client: &str) -> World {
    World::new(&format!(
        "[profiles.p]\nprovider = \"oidc\"\nissuer = \"{}\"\nclient_id = \"{client}\"\nclient_secret_env = \"{}\"\n",
        server().issuer,
        oidc::SECRET_VAR
    ))
}

/// A [`world`] holding a token just minted for `client`, and how many token requests the
/// server had seen from `client` by then.
fn minted(client: &str) -> (World, usize) {
    let w = world(client);
    let requests = server().mint_into(&w, client);
    (w, requests)
}

fn stdout(w: &World, args: &[&str]) -> String {
    let out = succeeded(args, oidc::post_cmd(w, args).output().unwrap());
    String::from_utf8(out.stdout).unwrap()
}

/// A freshly minted token: `list` says valid, five `token` calls print it without a request,
/// and `refresh --all` sends nothing. Returns false when the run took so long (a loaded machine)
/// that the token was no longer fresh by the end, and nothing could be concluded.
fn fresh_token_sends_nothing(client: &str, lifetime: u64) -> bool {
    let (w, before) = minted(client);
    let imported = Instant::now();

    let list: serde_json::Value = serde_json::from_str(&stdout(&w, &["list", "--json"])).unwrap();
    let status = list[0]["status"].as_str().unwrap().to_string();
    let access = w.record("p").unwrap()["access_token"].clone();
    let printed: Vec<String> = (0..5).map(|_| stdout(&w, &["token", "p"])).collect();
    let all = stdout(&w, &["refresh", "--all"]);
    let sent = server().token_requests(client).len() - before;

    // Half the lifetime, less a second for the rounding of the expiry to whole seconds.
    if imported.elapsed() >= Duration::from_secs(lifetime / 2 - 1) {
        return false;
    }
    assert_eq!(status, "valid", "a token of {lifetime} s just obtained");
    for token in &printed {
        assert_eq!(
            token.trim_end(),
            access.as_str().unwrap(),
            "the stored token"
        );
    }
    assert!(all.contains("p: not due, nothing sent"), "{all}");
    assert_eq!(
        sent, 0,
        "token x5 and refresh --all on a fresh {lifetime} s token"
    );
    true
}

fn check_lifetime(lifetime: u32) {
    let client = oidc::lifetime_client(lifetime, "");
    // A 10 s token is fresh for 5 s: on a machine so loaded that the eight commands take longer,
    // try again with a new token rather than conclude anything.
    let concluded = (0..3).any(|_| fresh_token_sends_nothing(&client, lifetime.into()));
    assert!(
        concluded,
        "the commands never ran within half of a {lifetime} s lifetime"
    );
}

#[test]
fn ten_second_tokens_are_fresh_when_obtained() {
    check_lifetime(10);
}

#[test]
fn one_minute_tokens_are_fresh_when_obtained() {
    check_lifetime(60);
}

#[test]
fn five_minute_tokens_are_fresh_when_obtained() {
    check_lifetime(300);
}

#[test]
fn one_hour_tokens_are_fresh_when_obtained() {
    check_lifetime(3600);
}

/// Once half of a 10 s token's life is gone, `token` refreshes it: once, and then the new token
/// is fresh again.
#[test]
fn token_refreshes_a_ten_second_token_once_half_of_it_is_gone() {
    let client = oidc::lifetime_client(10, "half");
    let (w, before) = minted(&client);
    let first = w.record("p").unwrap()["access_token"].clone();
    crate::support::wait_until(Duration::from_secs(20), "the token to become due", || {
        let list: serde_json::Value =
            serde_json::from_str(&stdout(&w, &["list", "--json"])).unwrap();
        list[0]["status"] == "expiring"
    });
    let second = stdout(&w, &["token", "p"]);
    assert_ne!(second.trim_end(), first.as_str().unwrap(), "a new token");
    assert_eq!(stdout(&w, &["token", "p"]), second, "and it is fresh");
    assert_eq!(server().token_requests(&client).len() - before, 1);
}

/// The dashboard with auto-refresh on and 10 s tokens: every refresh comes at least half a
/// lifetime after the one before (it came at every tick, once a second, before the fix).
#[test]
fn the_dashboard_refreshes_ten_second_tokens_once_per_half_lifetime() {
    let client = oidc::lifetime_client(10, "dash");
    let (w, before) = minted(&client);
    let minted = w.record("p").unwrap()["access_token"].clone();
    let mut envs = w.envs();
    envs.push((oidc::SECRET_VAR, oidc::POST_SECRET.into()));
    let tmux = Tmux::start(&[], &envs, 100, 20);
    tmux.wait_for_text("valid", Duration::from_secs(20));
    crate::support::wait_until(Duration::from_secs(60), "four automatic refreshes", || {
        server().token_requests(&client).len() - before >= 4
    });
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(Duration::from_secs(20)), 0);
    let times = server().token_requests(&client)[before..].to_vec();
    for pair in times.windows(2) {
        // Due once less than 5 s of the 10 s are left, and the expiry counts in whole seconds.
        assert!(
            pair[1] - pair[0] >= 4_000,
            "refreshes at most every ~5 s, got {times:?}"
        );
    }
    assert_ne!(
        w.record("p").unwrap()["access_token"],
        minted,
        "the dashboard stored what it got"
    );
}
