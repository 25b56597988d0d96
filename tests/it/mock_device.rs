//! Device login polling answers per provider (providers.md 1.7, 2.7, 3.7), against a mock
//! server. Google's own shapes are in mock_providers.rs.

use crate::support::mocks::{json, mount, post, post_answers};
use crate::support::world::World;
use serde_json::json;
use std::time::{Duration, Instant};
use wiremock::MockServer;

async fn device_answer(server: &MockServer, body: serde_json::Value) {
    post_answers(server, "/device", json(200, body), 1).await;
}

/// A server for a device login: the device authorization answers `device` once, then the
/// token endpoint answers as [`polls`] says.
async fn device_flow(
    device: serde_json::Value,
    first: (u16, serde_json::Value),
    then: (u16, serde_json::Value),
) -> MockServer {
    let server = MockServer::start().await;
    device_answer(&server, device).await;
    polls(&server, first, then).await;
    server
}

/// The device authorization request, the first request `server` received, has `wanted` in its
/// body.
async fn assert_device_request_has(server: &MockServer, wanted: &str) {
    let device = &server.received_requests().await.unwrap()[0];
    let body = String::from_utf8_lossy(&device.body);
    assert!(body.contains(wanted), "{body}");
}

/// The token endpoint answers `first` once, then `then` for good.
async fn polls(
    server: &MockServer,
    first: (u16, serde_json::Value),
    then: (u16, serde_json::Value),
) {
    post("/token")
        .respond_with(json(first.0, first.1))
        .up_to_n_times(1)
        .mount(server)
        .await;
    mount(server, post("/token"), json(then.0, then.1), ..).await;
}

fn world(server: &MockServer, provider_keys: &str) -> World {
    World::new(&format!(
        "[profiles.d]\n{provider_keys}\nclient_id = \"c\"\ntoken_url = \"{0}/token\"\ndevice_authorization_url = \"{0}/device\"\n",
        server.uri()
    ))
}

fn pending() -> (u16, serde_json::Value) {
    (400, json!({"error": "authorization_pending"}))
}

fn tokens() -> (u16, serde_json::Value) {
    (
        200,
        json!({"access_token": "AT", "refresh_token": "RT", "expires_in": 60}),
    )
}

/// Runs `tokdash login d`, which must fail with exit code 1; returns its stdout and stderr.
fn failed_login(w: &World) -> (String, String) {
    let out = w.cmd(&["login", "d"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// Runs `tokdash login d`, which must succeed; returns how long it took.
fn timed_login(w: &World) -> Duration {
    let started = Instant::now();
    w.cmd(&["login", "d"]).assert().success();
    started.elapsed()
}

#[tokio::test]
async fn microsoft_declined_ends_the_login_with_its_words() {
    let server = device_flow(
        json!({"user_code": "ABCD1234", "device_code": "DAQ", "verification_uri": "https://microsoft.com/devicelogin",
               "expires_in": 900, "interval": 1,
               "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD1234 to authenticate."}),
        pending(),
        (400, json!({"error": "authorization_declined", "error_description": "AADSTS70000: user declined", "error_codes": [70000]})),
    )
    .await;
    let w = world(&server, "provider = \"microsoft\"\ntenant = \"common\"");
    let (stdout, stderr) = failed_login(&w);
    assert!(
        stdout.contains("To sign in, use a web browser"),
        "Microsoft's message is shown: {stdout}"
    );
    assert!(
        stderr.starts_with(
            "tokdash: d: login denied (authorization_declined: AADSTS70000: user declined)"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1);
    // The device request asked for a refresh token.
    assert_device_request_has(&server, "offline_access").await;
}

#[tokio::test]
async fn auth0_complete_uri_is_shown_and_an_expired_code_says_to_log_in_again() {
    let server = device_flow(
        json!({"device_code": "GmRh", "user_code": "WDJB-MJHT", "verification_uri": "https://t.auth0.com/device",
               "verification_uri_complete": "https://t.auth0.com/device?user_code=WDJB-MJHT", "expires_in": 900, "interval": 1}),
        pending(),
        (
            403,
            json!({"error": "expired_token", "error_description": "..."}),
        ),
    )
    .await;
    let w = world(
        &server,
        "provider = \"auth0\"\ndomain = \"t.auth0.com\"\naudience = \"https://api\"",
    );
    let (stdout, stderr) = failed_login(&w);
    assert!(
        stdout.contains("(or open https://t.auth0.com/device?user_code=WDJB-MJHT)"),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "tokdash: d: the code expired before it was approved; run: tokdash login d\n"
    );
    assert_device_request_has(&server, "audience=https%3A%2F%2Fapi").await;
}

#[tokio::test]
async fn slow_down_adds_five_seconds_for_good() {
    let server = device_flow(
        json!({"device_code": "dc", "user_code": "U", "verification_uri": "https://x/device", "expires_in": 600, "interval": 1}),
        (400, json!({"error": "slow_down"})),
        tokens(),
    )
    .await;
    let w = world(&server, "provider = \"oauth2\"");
    let elapsed = timed_login(&w);
    // 1 s before the first poll, then 1 + 5 s before the second.
    assert!(elapsed >= Duration::from_secs(7), "{elapsed:?}");
    assert_eq!(w.record("d").unwrap()["refresh_token"], "RT");
}

#[tokio::test]
async fn no_interval_means_five_seconds_and_a_5xx_while_polling_is_survived() {
    let server = device_flow(
        json!({"device_code": "dc", "user_code": "U", "verification_uri": "https://x/device", "expires_in": 600}),
        (502, json!({"note": "bad gateway"})),
        tokens(),
    )
    .await;
    let w = world(&server, "provider = \"oauth2\"");
    let elapsed = timed_login(&w);
    assert!(
        elapsed >= Duration::from_secs(10),
        "two polls 5 s apart: {elapsed:?}"
    );
}

/// A server that, like many in use, wants `client_id` in the device authorization body even
/// from a client that authenticates with HTTP Basic (RFC 8628 §3.1 asks it only of public
/// clients). Anything else gets its `invalid_request`.
#[tokio::test]
async fn the_device_request_names_the_client_also_with_basic_authentication() {
    use wiremock::matchers::{body_string_contains, header_exists};
    let server = MockServer::start().await;
    mount(
        &server,
        post("/device")
            .and(header_exists("authorization"))
            .and(body_string_contains("client_id=c")),
        json(
            200,
            json!({"device_code": "dc", "user_code": "U", "verification_uri": "https://x/device", "expires_in": 600, "interval": 1}),
        ),
        1,
    )
    .await;
    mount(
        &server,
        post("/device"),
        json(
            400,
            json!({"error": "invalid_request", "error_description": "missing required parameter 'client_id'"}),
        ),
        0,
    )
    .await;
    polls(&server, tokens(), tokens()).await;
    let w = world(
        &server,
        "provider = \"oauth2\"\nclient_secret_env = \"TD_DEVICE_SECRET\"\nauth_method = \"client_secret_basic\"",
    );
    let out = w.output_with_secret(&["login", "d"], "TD_DEVICE_SECRET", "s3cret");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.record("d").unwrap()["refresh_token"], "RT");
    // The secret itself travels only in the header, never in the body.
    let device = &server.received_requests().await.unwrap()[0];
    let body = String::from_utf8_lossy(&device.body);
    assert!(!body.contains("client_secret"), "{body}");
}
