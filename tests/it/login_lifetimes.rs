//! The end of the login (issue 14) through the real binary against mock authorization servers
//! (wiremock): each source of a refresh-token limit (Keycloak's `refresh_expires_in`, Google's
//! `refresh_token_expires_in`, a JWT refresh token's `exp`, the profile keys
//! `refresh_token_lifetime` and `refresh_token_idle`), which of them wins, what a refresh without
//! a figure keeps, what a malformed figure does (nothing, and the rotated refresh token is still
//! stored), `config check`'s marked provider defaults and `health`.
//!
//! Each test has its own server (its own port) and its own `World`.

use crate::support::mocks::{
    SECRET_VAR, WithSecret, google_profile, json as answer, microsoft_profile, post_answers,
    requests_to, server,
};
use crate::support::world::World;
use crate::support::{stderr, stdout};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

const SECRET: &str = "cs-lifetimes-mock-secret";
const TOKDASH: WithSecret = WithSecret(SECRET);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Profile `p` of a plain OAuth 2.0 provider (Keycloak-like) at the mock, with `extra` lines.
fn oauth2_config(uri: &str, extra: &str) -> String {
    format!(
        "[profiles.p]\nprovider = \"oauth2\"\nclient_id = \"kc-client\"\nclient_secret_env = \"{SECRET_VAR}\"\ntoken_url = \"{uri}/token\"\n{extra}\n"
    )
}

/// Google's profile `p` at the mock.
fn google_config(uri: &str) -> String {
    google_profile("p", uri)
}

/// An unsigned JWT (`header.payload.sig`) with these claims: tokdash only decodes it.
fn jwt(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.sig")
}

/// A token response whose access token is due (a minute left, under the default 5 min
/// `refresh_ahead`) with refresh token `rt`, and `extra` fields.
fn due_pair(rt: &str, extra: Value) -> Value {
    with_fields(
        json!({"access_token": "AT-old", "expires_in": 60, "refresh_token": rt}),
        extra,
    )
}

/// The token endpoint's answer to a refresh: `AT-2` for 5 min, rotated to `rt`, and `extra`
/// fields (which win over those).
fn rotated_to(rt: impl Into<Value>, extra: Value) -> Value {
    let answer = json!({"access_token": "AT-2", "expires_in": 300, "refresh_token": rt.into()});
    with_fields(answer, extra)
}

/// `v` with the fields of `extra` set on it.
fn with_fields(mut v: Value, extra: Value) -> Value {
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// The profile's `list --json` entry.
fn summary(w: &World, name: &str) -> Value {
    let out = TOKDASH.run_ok(w, &["list", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    list.into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
}

/// `refresh_token_expires_at` of `list --json`, as unix seconds (None for null).
fn login_ends(w: &World, name: &str) -> Option<i64> {
    let v = summary(w, name)["refresh_token_expires_at"].clone();
    match v {
        Value::Null => None,
        Value::String(s) => Some(
            humantime::parse_rfc3339(&s)
                .unwrap_or_else(|e| panic!("{s}: {e}"))
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64,
        ),
        other => panic!("refresh_token_expires_at is {other}"),
    }
}

/// A mock whose token endpoint answers `answer` exactly once, and a world with `config(uri)`
/// holding `imported` for profile `p`.
async fn setup(
    config: impl FnOnce(&str) -> String,
    imported: Value,
    reply: Value,
) -> (wiremock::MockServer, World) {
    let server = server().await;
    post_answers(&server, "/token", answer(200, reply), 1).await;
    let w = World::new(&config(&server.uri()));
    w.import("p", &imported);
    (server, w)
}

/// [`setup`] for the Keycloak-like profile `p` with `extra` lines, holding the due pair `RT-1`
/// with nothing known of its end, whose one refresh gets `reply`: the start of most tests here.
async fn refreshing_oauth2(extra: &str, reply: Value) -> (wiremock::MockServer, World) {
    setup(
        |uri| oauth2_config(uri, extra),
        due_pair("RT-1", json!({})),
        reply,
    )
    .await
}

/// [`refreshing_oauth2`] with no extra lines, whose due pair `RT-1` came with the fields of
/// `imported`.
async fn refreshing_from(imported: Value, reply: Value) -> (wiremock::MockServer, World) {
    setup(
        |uri| oauth2_config(uri, ""),
        due_pair("RT-1", imported),
        reply,
    )
    .await
}

/// The token endpoint's plain answer to a refresh: `AT-2` for 5 min, rotated to `RT-2`, with
/// no figure of its own on the refresh token's end (so the profile's limits are what count).
fn rotated_to_rt_2() -> Value {
    json!({"access_token": "AT-2", "expires_in": 300, "refresh_token": "RT-2"})
}

/// When the login family of `name` began (unix seconds), as the store holds it.
fn family_began(w: &World, name: &str) -> i64 {
    w.record(name).unwrap()["family_started_at"]
        .as_i64()
        .unwrap()
}

/// Moves the start of `name`'s login family `secs` into the past, as if the import had been
/// that long ago (no test waits that long); returns the new start.
fn family_began_ago(w: &World, name: &str, secs: i64) -> i64 {
    edit_record(w, name, |r| {
        r["family_started_at"] = json!(r["family_started_at"].as_i64().unwrap() - secs)
    });
    family_began(w, name)
}

/// Refreshes `p`; returns the unix seconds just before and just after, between which tokdash's
/// own clock read happened.
fn refresh(w: &World) -> (i64, i64) {
    let before = now();
    TOKDASH.run_ok(w, &["refresh", "p"]);
    (before, now())
}

#[track_caller]
fn assert_about(at: Option<i64>, (before, after): (i64, i64), secs: i64) {
    let at = at.expect("a known end of the login");
    assert!(
        before + secs <= at && at <= after + secs,
        "the login ends {secs} s after the refresh: {at} not in [{}, {}]",
        before + secs,
        after + secs
    );
}

/// Edits `p`'s stored record as the store keeps it.
fn edit_record(w: &World, name: &str, f: impl FnOnce(&mut Value)) {
    let mut record = w.record(name).expect("a stored record");
    f(&mut record);
    std::fs::write(
        w.store().join(format!("{name}.json")),
        serde_json::to_vec(&record).unwrap(),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// What the token response says

#[tokio::test]
async fn keycloaks_refresh_expires_in_sets_the_end_of_the_login() {
    let reply = rotated_to("RT-2", json!({"refresh_expires_in": 1800}));
    let (server, w) = refreshing_oauth2("", reply).await;
    assert_eq!(login_ends(&w, "p"), None, "nothing known before");
    let when = refresh(&w);
    assert_about(login_ends(&w, "p"), when, 1800);
    assert_eq!(w.record("p").unwrap()["refresh_token"], "RT-2");
    assert_eq!(requests_to(&server, "/token").await.len(), 1);
}

#[tokio::test]
async fn keycloaks_offline_token_zero_sets_no_limit() {
    let reply = rotated_to("RT-offline", json!({"refresh_expires_in": 0}));
    let (_server, w) = refreshing_from(json!({"refresh_expires_in": 1800}), reply).await;
    assert!(login_ends(&w, "p").is_some(), "the import's 1800 s");
    refresh(&w);
    assert_eq!(login_ends(&w, "p"), None, "0: no limit from the figure");
    assert_eq!(summary(&w, "p")["status"], "valid");
}

#[tokio::test]
async fn zero_with_a_jwt_refresh_token_leaves_the_jwts_exp() {
    let exp = now() + 7200;
    let rt = jwt(json!({"exp": exp, "typ": "Offline"}));
    let (_server, w) =
        refreshing_oauth2("", rotated_to(rt, json!({"refresh_expires_in": 0}))).await;
    refresh(&w);
    assert_eq!(login_ends(&w, "p"), Some(exp));
}

#[tokio::test]
async fn a_jwt_refresh_tokens_exp_is_the_end_of_the_login() {
    let exp = now() + 5400;
    let rt = jwt(json!({"exp": exp, "typ": "Refresh", "sub": "u1"}));
    let (_server, w) = refreshing_oauth2("", rotated_to(rt.as_str(), json!({}))).await;
    refresh(&w);
    assert_eq!(login_ends(&w, "p"), Some(exp));
    assert_eq!(w.record("p").unwrap()["refresh_token"], rt.as_str());
}

#[tokio::test]
async fn googles_refresh_token_expires_in_sets_the_end_of_the_login() {
    // Google never rotates: the answer has no refresh token, and the stored one stays.
    let (_server, w) = setup(
        google_config,
        due_pair("1//g-rt", json!({})),
        json!({"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer",
               "refresh_token_expires_in": 3600}),
    )
    .await;
    let when = refresh(&w);
    assert_about(login_ends(&w, "p"), when, 3600);
    assert_eq!(w.record("p").unwrap()["refresh_token"], "1//g-rt");
}

#[tokio::test]
async fn a_refresh_without_a_figure_keeps_the_known_limit() {
    let (_server, w) =
        refreshing_from(json!({"refresh_expires_in": 1800}), rotated_to_rt_2()).await;
    let known = login_ends(&w, "p");
    assert!(known.is_some());
    refresh(&w);
    assert_eq!(login_ends(&w, "p"), known, "kept as it was");
    assert_eq!(w.record("p").unwrap()["refresh_token"], "RT-2");
}

#[tokio::test]
async fn a_refresh_with_a_new_figure_replaces_the_known_limit() {
    // The new figure is later than the old one: replaced, not the earlier of the two.
    let reply = rotated_to("RT-2", json!({"refresh_expires_in": 3600}));
    let (_server, w) = refreshing_from(json!({"refresh_expires_in": 600}), reply).await;
    let when = refresh(&w);
    assert_about(login_ends(&w, "p"), when, 3600);
}

#[tokio::test]
async fn a_malformed_figure_is_ignored_and_the_rotated_refresh_token_is_stored() {
    let reply = rotated_to("RT-rotated", json!({"refresh_expires_in": "soon"}));
    let (_server, w) = refreshing_from(json!({"refresh_expires_in": 1800}), reply).await;
    let known = login_ends(&w, "p");
    let out = TOKDASH.run(&w, &["refresh", "p"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = w.record("p").unwrap();
    assert_eq!(record["refresh_token"], "RT-rotated", "never lost");
    assert_eq!(record["access_token"], "AT-2");
    assert_eq!(
        login_ends(&w, "p"),
        known,
        "the malformed figure changed nothing"
    );
    assert_eq!(summary(&w, "p")["status"], "valid");
}

#[tokio::test]
async fn malformed_figures_of_every_shape_never_lose_the_rotated_token() {
    for (i, figure) in [
        json!("soon"),
        json!(-5),
        json!(1e300),
        json!({"s": 1}),
        json!([1800]),
        json!(true),
    ]
    .into_iter()
    .enumerate()
    {
        let rotated = format!("RT-rotated-{i}");
        let reply = rotated_to(
            rotated.as_str(),
            json!({"refresh_token_expires_in": figure}),
        );
        let (_server, w) = refreshing_oauth2("", reply).await;
        let out = TOKDASH.run(&w, &["refresh", "p"]);
        assert!(out.status.success(), "{figure}: {}", stderr(&out));
        assert_eq!(w.record("p").unwrap()["refresh_token"], rotated.as_str());
        assert_eq!(login_ends(&w, "p"), None, "{figure}: no limit from it");
    }
}

#[tokio::test]
async fn a_jwt_looking_refresh_token_with_garbage_is_stored_and_sets_no_limit() {
    for (i, rt) in [
        "eyJhbGciOiJub25lIn0.!!!not-base64!!!.sig".to_string(),
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(b"{}"),
            URL_SAFE_NO_PAD.encode(b"[1,2]")
        ),
        jwt(json!({"exp": "tomorrow"})),
        "a.b.c.d.e".to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = rotated_to(rt.as_str(), json!({"access_token": format!("AT-{i}")}));
        let (_server, w) = refreshing_oauth2("", reply).await;
        TOKDASH.run_ok(&w, &["refresh", "p"]);
        assert_eq!(w.record("p").unwrap()["refresh_token"], rt.as_str());
        assert_eq!(login_ends(&w, "p"), None, "{rt}");
    }
}

// ---------------------------------------------------------------------------------------------
// What the profile says, and which limit wins

#[tokio::test]
async fn refresh_token_lifetime_counts_from_the_import_and_refreshes_do_not_move_it() {
    let (_server, w) =
        refreshing_oauth2("refresh_token_lifetime = \"2h\"", rotated_to_rt_2()).await;
    // The family began 100 s ago.
    let began = family_began_ago(&w, "p", 100);
    assert_eq!(login_ends(&w, "p"), Some(began + 7200));
    refresh(&w);
    assert_eq!(w.record("p").unwrap()["refresh_token"], "RT-2");
    assert_eq!(login_ends(&w, "p"), Some(began + 7200), "not moved");
}

#[tokio::test]
async fn refresh_token_idle_is_moved_by_each_refresh() {
    let (_server, w) = refreshing_oauth2("refresh_token_idle = \"1h\"", rotated_to_rt_2()).await;
    // The import (the start of the idle window) was 600 s ago.
    let began = family_began_ago(&w, "p", 600);
    assert_eq!(login_ends(&w, "p"), Some(began + 3600));
    let when = refresh(&w);
    assert_about(login_ends(&w, "p"), when, 3600);
}

#[tokio::test]
async fn the_earliest_limit_wins() {
    // lifetime 2h, idle 1h, the response's 30 min, a JWT exp of 45 min: the response's figure.
    let exp = now() + 2700;
    let limits = "refresh_token_lifetime = \"2h\"\nrefresh_token_idle = \"1h\"";
    let reply = rotated_to(
        jwt(json!({"exp": exp})),
        json!({"refresh_expires_in": 1800}),
    );
    let (_server, w) = refreshing_oauth2(limits, reply).await;
    let began = family_began(&w, "p");
    assert_eq!(login_ends(&w, "p"), Some(began + 3600), "idle, before");
    let when = refresh(&w);
    assert_about(login_ends(&w, "p"), when, 1800);
}

#[tokio::test]
async fn a_jwt_exp_earlier_than_the_figure_wins() {
    let exp = now() + 900;
    let reply = rotated_to(
        jwt(json!({"exp": exp})),
        json!({"refresh_expires_in": 1800}),
    );
    let (_server, w) = refreshing_oauth2("refresh_token_idle = \"1h\"", reply).await;
    refresh(&w);
    assert_eq!(login_ends(&w, "p"), Some(exp));
}

// ---------------------------------------------------------------------------------------------
// config check

fn squeezed(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn config_check_marks_the_microsoft_default_and_shows_a_profiles_own_value_unmarked() {
    let w = World::new(&format!(
        "{}{}",
        microsoft_profile("ms", ""),
        microsoft_profile(
            "ms-own",
            "refresh_token_idle = \"30d\"\nrefresh_token_lifetime = \"12h\""
        )
    ));
    let out = TOKDASH.run_ok(&w, &["config", "check"]);
    let text = squeezed(&stdout(&out));
    let sections: Vec<&str> = text.split("ms-own").collect();
    assert_eq!(sections.len(), 2, "{text}");
    assert!(
        sections[0].contains("refresh_token_idle: 90d (microsoft default)"),
        "{text}"
    );
    assert!(sections[1].contains("refresh_token_idle: 30d\n"), "{text}");
    assert!(
        sections[1].contains("refresh_token_lifetime: 12h"),
        "{text}"
    );
    assert!(
        sections[1]
            .lines()
            .filter(|l| l.starts_with("refresh_token_"))
            .all(|l| !l.contains("default")),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------------
// health

fn health(w: &World, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["health"];
    all.extend_from_slice(args);
    let out = TOKDASH.run(w, &all);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    (out.status.code(), stdout(&out))
}

fn fresh_pair() -> Value {
    json!({"access_token": "AT", "expires_in": 3600, "refresh_token": "RT"})
}

/// Profile `p` (`refresh_token_idle = idle`, no server) holding a fresh pair just imported.
fn fresh_with_idle(idle: &str) -> World {
    let extra = format!("refresh_token_idle = \"{idle}\"");
    let w = World::new(&oauth2_config("http://127.0.0.1:9", &extra));
    w.import("p", &fresh_pair());
    w
}

#[test]
fn health_exits_0_and_prints_nothing_when_nothing_needs_a_person() {
    let w = fresh_with_idle("30d");
    assert_eq!(health(&w, &[]), (Some(0), String::new()));
    assert_eq!(health(&w, &["--json"]), (Some(0), "[]\n".to_string()));
}

#[test]
fn health_names_a_login_ending_within_the_window_and_not_outside_it() {
    let w = fresh_with_idle("1h");
    let (code, text) = health(&w, &["--within", "2h"]);
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].starts_with("p: login ends in "), "{text}");
    assert!(lines[0].ends_with("Z)"), "{text}");
    assert_eq!(health(&w, &["--within", "30m"]), (Some(0), String::new()));
    // The default window, login_warning, is 7 days.
    assert_eq!(health(&w, &[]).0, Some(1));
}

#[test]
fn health_json_has_name_status_reason_and_the_end_of_the_login() {
    let w = fresh_with_idle("1h");
    let (code, text) = health(&w, &["--within", "2h", "--json"]);
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(&text).unwrap();
    let items = v.as_array().expect("an array");
    assert_eq!(items.len(), 1, "{text}");
    let item = items[0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["name", "reason", "refresh_token_expires_at", "status"]
    );
    assert_eq!(item["name"], "p");
    assert_eq!(item["status"], "valid");
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .starts_with("login ends in ")
    );
    assert_eq!(
        item["refresh_token_expires_at"],
        summary(&w, "p")["refresh_token_expires_at"]
    );
}

#[test]
fn health_lists_needs_login_revoked_error_and_an_ended_login() {
    let config: String = ["ok", "nl", "rv", "er", "gone", "never"]
        .iter()
        .map(|n| {
            oauth2_config("http://127.0.0.1:9", "refresh_token_lifetime = \"1h\"")
                .replace("[profiles.p]", &format!("[profiles.{n}]"))
        })
        .collect();
    let w = World::new(&config);
    for n in ["ok", "nl", "rv", "er", "gone"] {
        w.import(n, &fresh_pair());
    }
    edit_record(&w, "nl", |r| r["standing"] = json!("needs_login"));
    edit_record(&w, "rv", |r| r["standing"] = json!("revoked"));
    edit_record(&w, "er", |r| {
        r["last_error"] = json!({"message": "the provider answered 503", "transient": true,
                                 "at": now()})
    });
    family_began_ago(&w, "gone", 7200);
    let (code, text) = health(&w, &["--within", "5m"]);
    assert_eq!(code, Some(1), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("a line for {name}:\n{text}"))
            .to_string()
    };
    assert!(!text.lines().any(|l| l.starts_with("ok: ")), "{text}");
    assert!(line("nl").contains("run: tokdash login nl"), "{text}");
    assert!(line("rv").contains("revoked"), "{text}");
    assert!(line("er").contains("the provider answered 503"), "{text}");
    assert!(line("gone").contains("login ended"), "{text}");
    assert!(line("never").contains("run: tokdash login never"), "{text}");
    assert_eq!(text.lines().count(), 5, "{text}");

    let (_, text) = health(&w, &["--within", "5m", "--json"]);
    let v: Vec<Value> = serde_json::from_str(&text).unwrap();
    let status = |name: &str| {
        v.iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {text}"))["status"]
            .clone()
    };
    assert_eq!(status("nl"), "needs_login");
    assert_eq!(status("rv"), "revoked");
    assert_eq!(status("er"), "error");
    assert_eq!(status("gone"), "needs_login");
    assert_eq!(status("never"), "needs_login");
}

#[tokio::test]
async fn health_names_a_profile_whose_refresh_token_the_provider_refused() {
    let server = server().await;
    post_answers(
        &server,
        "/token",
        answer(
            400,
            json!({"error": "invalid_grant", "error_description": "Token is not active"}),
        ),
        1,
    )
    .await;
    let w = World::new(&oauth2_config(&server.uri(), ""));
    w.import("p", &due_pair("RT-1", json!({})));
    assert_eq!(TOKDASH.run(&w, &["refresh", "p"]).status.code(), Some(1));
    let (code, text) = health(&w, &[]);
    assert_eq!(code, Some(1));
    assert!(
        text.starts_with("p: needs a login") && text.contains("run: tokdash login p"),
        "{text}"
    );
}

#[test]
fn health_lists_a_bad_record_with_its_words() {
    let w = World::new(&format!(
        "{}{}",
        oauth2_config("http://127.0.0.1:9", ""),
        oauth2_config("http://127.0.0.1:9", "").replace("[profiles.p]", "[profiles.q]")
    ));
    w.import("p", &fresh_pair());
    w.import("q", &fresh_pair());
    std::fs::write(w.store().join("p.json"), "not JSON at all").unwrap();
    let (code, text) = health(&w, &[]);
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "only p: {text}");
    assert!(lines[0].starts_with("p: "), "{text}");
    assert!(lines[0].len() > "p: ".len() + 10, "with its words: {text}");
    let (_, text) = health(&w, &["--json"]);
    let v: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(v[0]["status"], "error");
}

#[test]
fn health_without_a_config_exits_2() {
    let w = World::new("");
    std::fs::remove_file(w.config_path()).unwrap();
    let out = TOKDASH.run(&w, &["health"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(!stderr(&out).is_empty(), "says why");
}
