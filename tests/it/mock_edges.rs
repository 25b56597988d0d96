//! Edge cases of the engine's choices, against a mock server: what `token` does when a refresh
//! fails while the access token still works, half-done revocations, access-token-only revokes.

use crate::support::mocks::{json, mount, post, post_answers};
use crate::support::world::World;
use serde_json::json;
use wiremock::matchers::{body_string_contains, query_param};
use wiremock::{MockServer, ResponseTemplate, Times};

fn oauth2(server: &MockServer) -> World {
    World::new(&format!(
        "[profiles.p]\nprovider = \"oauth2\"\ntoken_url = \"{0}/token\"\nrevocation_url = \"{0}/revoke\"\nclient_id = \"c\"\n",
        server.uri()
    ))
}

/// A server whose `POST /token` answers `answer` (and must come `times` times), and a world whose
/// profile `p` holds refresh token `RT` and the access token `access` expiring in `expires_in`
/// seconds. The server is returned to keep it (and its expectations) alive.
async fn refresh_answering(
    answer: ResponseTemplate,
    times: impl Into<Times>,
    (access, expires_in): (&str, i64),
) -> (MockServer, World) {
    let server = MockServer::start().await;
    post_answers(&server, "/token", answer, times).await;
    let w = oauth2(&server);
    w.import(
        "p",
        &json!({"access_token": access, "refresh_token": "RT", "expires_in": expires_in}),
    );
    (server, w)
}

#[tokio::test]
async fn token_prints_a_still_valid_access_token_when_the_refresh_fails_and_warns() {
    // Two minutes left: inside refresh_ahead (5 min), so tokdash tries to refresh first.
    let refused = json(503, json!({"error": "temporarily_unavailable"}));
    let (_server, w) = refresh_answering(refused, .., ("AT-still-good", 120)).await;
    // An hour-long token with two minutes left (a fresh two-minute token would not be due yet).
    w.age_token("p", 3480);
    let out = w.cmd(&["token", "p"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "AT-still-good\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("tokdash: warning: p: refresh refused (HTTP 503, temporarily_unavailable)"),
        "{err}"
    );
    assert!(
        err.contains("printing the current access token (expires in 1m"),
        "{err}"
    );
}

#[tokio::test]
async fn token_after_needs_login_prints_the_access_token_until_it_expires() {
    let (_server, w) = refresh_answering(
        json(400, json!({"error": "invalid_grant"})),
        1,
        ("AT-ok", 100),
    )
    .await;
    w.cmd(&["refresh", "p"]).assert().code(1);
    // The refresh token is dead, the access token is not: scripts keep working until expiry,
    // and no further request is sent.
    w.cmd(&["token", "p"]).assert().success().stdout("AT-ok\n");
}

#[tokio::test]
async fn a_half_done_revocation_records_that_the_refresh_token_is_gone() {
    let server = MockServer::start().await;
    mount(
        &server,
        post("/revoke").and(body_string_contains("token_type_hint=refresh_token")),
        ResponseTemplate::new(200),
        ..,
    )
    .await;
    mount(
        &server,
        post("/revoke").and(body_string_contains("token_type_hint=access_token")),
        json(400, json!({"error": "unsupported_token_type"})),
        ..,
    )
    .await;
    let w = oauth2(&server);
    w.import(
        "p",
        &json!({"access_token": "AT", "refresh_token": "RT", "expires_in": 600}),
    );
    let out = w.cmd(&["revoke", "p", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unsupported_token_type") && err.contains("(the refresh token was revoked)"),
        "{err}"
    );
    let record = w.record("p").unwrap();
    assert_eq!(record["standing"], "revoked");
    assert!(record.get("refresh_token").is_none());
}

#[tokio::test]
async fn google_revokes_an_access_token_when_it_is_all_there_is() {
    let server = MockServer::start().await;
    mount(
        &server,
        post("/revoke").and(query_param("token", "AT-alone")),
        ResponseTemplate::new(200),
        1,
    )
    .await;
    let w = World::new(&format!(
        "[profiles.g]\nprovider = \"google\"\nclient_id = \"c\"\nrevocation_url = \"{}/revoke\"\n",
        server.uri()
    ));
    w.import("g", &json!({"access_token": "AT-alone", "expires_in": 600}));
    w.cmd(&["revoke", "g", "--yes"])
        .assert()
        .success()
        .stdout("g: revoked (access_token)\n");
}

#[tokio::test]
async fn auth0_rate_limit_reset_is_honoured_like_retry_after() {
    let server = MockServer::start().await;
    let reset = tokdash::clock::now() + 3600;
    post_answers(
        &server,
        "/token",
        json(429, json!({"error": "too_many_requests"}))
            .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
        1,
    )
    .await;
    let w = World::new(&format!(
        "[profiles.a]\nprovider = \"auth0\"\ndomain = \"t.auth0.com\"\nclient_id = \"c\"\ntoken_url = \"{}/token\"\n",
        server.uri()
    ));
    w.import("a", &json!({"refresh_token": "RT"}));
    let out = w.cmd(&["refresh", "a"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("the server asks to retry in 3"), "{err}");
}

/// "client secret written in the config" is said by `config check` and by the commands that use
/// that profile, once; not by every command for every profile.
#[tokio::test]
async fn a_literal_secret_is_warned_about_where_it_is_used_and_only_there() {
    let server = MockServer::start().await;
    let w = World::new(&format!(
        "[profiles.lit]\nprovider = \"oauth2\"\ntoken_url = \"{0}/token\"\nclient_id = \"c\"\nclient_secret = \"not-for-the-log\"\n\
         [profiles.env]\nprovider = \"oauth2\"\ntoken_url = \"{0}/token\"\nclient_id = \"c\"\n",
        server.uri()
    ));
    for name in ["lit", "env"] {
        w.import(
            name,
            &json!({"access_token": format!("AT-{name}"), "refresh_token": "RT", "expires_in": 3600}),
        );
    }
    let warnings = |args: &[&str]| {
        let out = w.cmd(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!err.contains("not-for-the-log"), "{err}");
        err.matches("writes its client secret in the config")
            .count()
    };
    assert_eq!(warnings(&["config", "check"]), 1);
    assert_eq!(warnings(&["token", "lit"]), 1);
    assert_eq!(warnings(&["token", "env"]), 0);
    assert_eq!(warnings(&["list"]), 0);
    assert_eq!(warnings(&["list", "--json"]), 0);
    assert_eq!(
        warnings(&["refresh", "--all"]),
        1,
        "nothing due, but it uses lit"
    );
    assert_eq!(warnings(&["refresh", "env"]), 0);
}
