//! The engine through the real binary against mock authorization servers (wiremock), for the
//! provider quirks of providers.md that a real server cannot be made to show: Google's refresh
//! without a refresh token and its query-string revocation, Microsoft's scope and AADSTS errors
//! and missing revocation, Auth0's rotation, 403s and JSON revocation, client authentication
//! shapes, client credentials, `token`, `refresh --json` and `check`.
//!
//! Each test has its own server (its own port) and its own `World`. Profiles keep their provider
//! and point its endpoints at the mock; plain http:// is allowed because the mock is loopback.

use crate::support::mocks::{
    SECRET_VAR, WithSecret, any_post, form, get_answers, get_with_bearer_answers, google_profile,
    microsoft_profile, mount, post, post_answers, post_answers_once, requests_to, server,
};
use crate::support::world::World;
use crate::support::{stderr, stdout};
use serde_json::{Value, json};
use std::process::Output;
use wiremock::matchers::{body_string_contains, header, query_param};
use wiremock::{MockBuilder, MockServer, Request, ResponseTemplate};

const SECRET: &str = "cs-7Hq2-mock-secret";
const TOKDASH: WithSecret = WithSecret(SECRET);

/// The one stderr line that reports `name`'s failure; nothing else may be there.
fn failure_line(out: &Output, name: &str) -> String {
    let text = stderr(out);
    assert!(!text.contains("panicked"), "{text}");
    let prefix = format!("tokdash: {name}: ");
    let (ours, others): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with(&prefix));
    assert_eq!(ours.len(), 1, "exactly one line about {name}:\n{text}");
    assert!(
        others.is_empty(),
        "unexpected stderr lines {others:?}:\n{text}"
    );
    ours[0].to_string()
}

fn list(w: &World) -> Vec<Value> {
    let out = w.cmd(&["list", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn summary(w: &World, name: &str) -> Value {
    list(w)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
}

fn stored(w: &World, name: &str, key: &str) -> Value {
    w.record(name)
        .map(|r| r[key].clone())
        .unwrap_or(Value::Null)
}

fn ok_json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("cache-control", "no-store")
        .set_body_json(body)
}

fn error_json(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json; charset=utf-8")
}

/// An RFC 6749 §5.2 error answer: `status` with `error` and `error_description`.
fn refusal(status: u16, error: &str, description: &str) -> ResponseTemplate {
    error_json(
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// A fresh mock server whose `POST at` answers `response`, and must come exactly once: most
/// tests here are about what tokdash does with a single answer.
async fn server_posting(at: &str, response: ResponseTemplate) -> MockServer {
    let server = server().await;
    post_answers(&server, at, response, 1).await;
    server
}

/// [`server_posting`] at `/token`, answering 200 with the JSON `answer`.
async fn token_server(answer: Value) -> MockServer {
    server_posting("/token", ok_json(answer)).await
}

/// [`server_posting`] with a [`world_with`] for Google's profile `g` holding `record`.
async fn google_posting(
    at: &str,
    response: ResponseTemplate,
    record: Value,
) -> (MockServer, World) {
    let server = server_posting(at, response).await;
    let w = world_with(&google_config(&server.uri()), "g", record);
    (server, w)
}

/// Refreshes the client-credentials profile `name`, checks the form posted to `at` asks for
/// that grant as `client_id` with the secret and no refresh token, and returns the form.
async fn client_credentials_form(
    w: &World,
    name: &str,
    server: &MockServer,
    (at, client_id): (&str, &str),
) -> std::collections::HashMap<String, String> {
    TOKDASH.run_ok(w, &["refresh", name]);
    let f = form(&requests_to(server, at).await[0]);
    assert_eq!(f["grant_type"], "client_credentials");
    assert_eq!(f["client_id"], client_id);
    assert_eq!(f["client_secret"], SECRET);
    assert!(!f.contains_key("refresh_token"));
    f
}

/// A `World` for `config` whose profile `name` holds the stored `record`.
fn world_with(config: &str, name: &str, record: Value) -> World {
    let w = World::new(config);
    w.import(name, &record);
    w
}

/// Revokes the live pair of profile `name` (access token valid for an hour) against a mock whose
/// `request` answers an empty 200 exactly once, and checks tokdash reports the refresh token
/// revoked. Returns the server (its expectations are checked when it drops), the world and the
/// requests sent to `at`, for the provider-specific checks.
async fn revoke_live_pair(
    config: fn(&str) -> String,
    request: MockBuilder,
    at: &str,
    (name, access, refresh): (&str, &str, &str),
) -> (MockServer, World, Vec<Request>) {
    let server = server().await;
    mount(&server, request, ResponseTemplate::new(200), 1).await;
    let w = world_with(
        &config(&server.uri()),
        name,
        json!({"access_token": access, "refresh_token": refresh, "expires_in": 3600}),
    );
    let out = TOKDASH.run_ok(&w, &["revoke", name, "--yes"]);
    assert_eq!(stdout(&out), format!("{name}: revoked (refresh_token)\n"));
    let reqs = requests_to(&server, at).await;
    (server, w, reqs)
}

/// A `World` whose Google profile `g` holds `access` (valid for an hour) and refresh token `1//RT`.
fn google_live(server: &MockServer, access: &str) -> World {
    world_with(
        &google_config(&server.uri()),
        "g",
        json!({"access_token": access, "refresh_token": "1//RT", "expires_in": 3600}),
    )
}

/// Google's profile `g` holding `ya29.AT-stale` (which the API will refuse), its refresh answered
/// once with `ya29.AT-new`: the `check` tests' retry after a 401.
async fn google_stale_refreshing(server: &MockServer) -> World {
    post_answers(
        server,
        "/token",
        ok_json(json!({"access_token": "ya29.AT-new", "expires_in": 3599})),
        1,
    )
    .await;
    google_live(server, "ya29.AT-stale")
}

/// Microsoft's profile `ms` holding only the refresh token `0.AXoA-RT-ms-1`: due for a refresh.
fn microsoft_due(server: &MockServer) -> World {
    world_with(
        &microsoft_config(&server.uri()),
        "ms",
        json!({"refresh_token": "0.AXoA-RT-ms-1"}),
    )
}

/// Any POST to `server` (a refresh, a revocation) fails the test when the server drops: these
/// tests prove that tokdash asks nothing.
async fn forbid_posts(server: &MockServer) {
    let unwanted = ok_json(json!({"access_token": "AT-unwanted", "expires_in": 3600}));
    mount(server, any_post(), unwanted, 0).await;
}

/// [`run`], which must fail with exit status 1 (a reported failure, not a crash or usage error).
#[track_caller]
fn run_fails(w: &World, args: &[&str]) -> Output {
    let out = TOKDASH.run(w, args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    out
}

/// Google's profile `g` at the mock.
fn google_config(uri: &str) -> String {
    google_profile("g", uri)
}

fn microsoft_config(uri: &str) -> String {
    microsoft_profile(
        "ms",
        &format!("token_url = \"{uri}/contoso.onmicrosoft.com/oauth2/v2.0/token\""),
    )
}

fn auth0_config(uri: &str) -> String {
    format!(
        r#"
[profiles.a0]
provider = "auth0"
domain = "example.eu.auth0.com"
client_id = "a0-client-id"
client_secret_env = "{SECRET_VAR}"
audience = "https://api.example.com"
token_url = "{uri}/oauth/token"
revocation_url = "{uri}/oauth/revoke"

[profiles.a0cc]
provider = "auth0"
domain = "example.eu.auth0.com"
client_id = "a0-machine"
client_secret_env = "{SECRET_VAR}"
audience = "https://api.example.com"
grant = "client_credentials"
token_url = "{uri}/oauth/token"
"#
    )
}

// ---------------------------------------------------------------------------------------------
// Google

#[tokio::test]
async fn google_refresh_without_refresh_token_keeps_the_stored_one_and_posts_the_secret() {
    let server = server_posting(
        "/token",
        ok_json(json!({
            "access_token": "ya29.AT-new",
            "expires_in": 3599,
            "scope": "openid https://www.googleapis.com/auth/userinfo.email",
            "token_type": "Bearer"
        })),
    )
    .await;
    let w = world_with(
        &google_config(&server.uri()),
        "g",
        json!({"access_token": "ya29.AT-old", "refresh_token": "1//RT-google", "expires_in": 0}),
    );

    let out = TOKDASH.run_ok(&w, &["refresh", "g"]);
    assert!(
        stdout(&out).starts_with("g: refreshed; expires in "),
        "{}",
        stdout(&out)
    );
    assert_eq!(stderr(&out), "");

    assert_eq!(stored(&w, "g", "refresh_token"), "1//RT-google");
    assert_eq!(stored(&w, "g", "access_token"), "ya29.AT-new");
    let reqs = requests_to(&server, "/token").await;
    assert_eq!(reqs.len(), 1);
    assert!(
        reqs[0].headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-www-form-urlencoded")
    );
    assert!(
        reqs[0].headers.get("authorization").is_none(),
        "client_secret_post: no Basic header"
    );
    let f = form(&reqs[0]);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], "1//RT-google");
    assert_eq!(f["client_id"], "1234.apps.googleusercontent.com");
    assert_eq!(f["client_secret"], SECRET);
    assert!(
        !f.contains_key("scope"),
        "Google refresh sends no scope: {f:?}"
    );

    let s = summary(&w, "g");
    assert_eq!(s["status"], "valid");
    assert_eq!(s["has_refresh_token"], true);
    assert!(s["last_refresh"].is_string());
    assert!(
        (3500..=3599).contains(&s["expires_in"].as_i64().unwrap()),
        "{s}"
    );
}

#[tokio::test]
async fn google_invalid_grant_marks_needs_login_and_keeps_the_refresh_token() {
    let refused = refusal(400, "invalid_grant", "Token has been expired or revoked.");
    let record =
        json!({"access_token": "ya29.AT-old", "refresh_token": "1//RT-dead", "expires_in": 0});
    let (_server, w) = google_posting("/token", refused, record).await;

    let out = run_fails(&w, &["refresh", "g"]);
    assert_eq!(
        failure_line(&out, "g"),
        "tokdash: g: refresh refused (HTTP 400, invalid_grant: Token has been expired or revoked.); run: tokdash login g"
    );
    assert_eq!(stored(&w, "g", "refresh_token"), "1//RT-dead");
    let s = summary(&w, "g");
    assert_eq!(s["status"], "needs_login");
    assert_eq!(s["has_refresh_token"], true);
    assert!(
        s["last_error"].as_str().unwrap().contains("invalid_grant"),
        "{s}"
    );

    // The dead refresh token is not spent again: `token` fails without a request (expect(1)).
    let out = run_fails(&w, &["token", "g"]);
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(failure_line(&out, "g").ends_with("run: tokdash login g"));
    assert_eq!(stored(&w, "g", "refresh_token"), "1//RT-dead");
}

#[tokio::test]
async fn google_revoke_sends_the_token_in_the_query_string() {
    let request = post("/revoke").and(query_param("token", "1//RT-google"));
    let pair = ("g", "ya29.AT", "1//RT-google");
    let (_server, w, reqs) = revoke_live_pair(google_config, request, "/revoke", pair).await;
    assert_eq!(
        reqs.len(),
        1,
        "revoking Google's refresh token revokes the pair"
    );
    assert!(
        reqs[0].body.is_empty(),
        "the token goes in the query string, not the body"
    );
    assert!(reqs[0].headers.get("authorization").is_none());
    assert!(!reqs[0].url.as_str().contains(SECRET));

    let record = w.record("g").unwrap();
    assert_eq!(record["standing"], "revoked");
    for key in ["access_token", "refresh_token", "id_token"] {
        assert!(
            record.get(key).is_none(),
            "{key} kept after revocation: {record}"
        );
    }
    assert_eq!(summary(&w, "g")["status"], "revoked");
}

#[tokio::test]
async fn google_revoke_of_an_already_dead_token_counts_as_revoked() {
    let refused = refusal(400, "invalid_token", "Token expired or revoked");
    let (_server, w) =
        google_posting("/revoke", refused, json!({"refresh_token": "1//RT-google"})).await;

    let out = TOKDASH.run_ok(&w, &["revoke", "g", "--yes"]);
    assert!(stdout(&out).contains("already dead"), "{}", stdout(&out));
    assert_eq!(summary(&w, "g")["status"], "revoked");
    assert_eq!(stored(&w, "g", "refresh_token"), Value::Null);
}

#[tokio::test]
async fn google_revoke_refused_for_another_reason_keeps_the_tokens() {
    let record =
        json!({"access_token": "ya29.AT", "refresh_token": "1//RT-google", "expires_in": 3600});
    let refused = refusal(400, "invalid_request", "Bad Request");
    let (_server, w) = google_posting("/revoke", refused, record).await;
    let before = w.record("g").unwrap();

    let out = run_fails(&w, &["revoke", "g", "--yes"]);
    assert!(failure_line(&out, "g").contains("(HTTP 400, invalid_request: Bad Request)"));
    assert_eq!(
        w.record("g").unwrap(),
        before,
        "RFC 7009: assume the token still exists"
    );
}

// ---------------------------------------------------------------------------------------------
// Microsoft

#[tokio::test]
async fn microsoft_refresh_asks_for_offline_access_and_stores_the_rotated_token() {
    let server = server_posting(
        "/contoso.onmicrosoft.com/oauth2/v2.0/token",
        ok_json(json!({
            "token_type": "Bearer",
            "scope": "https://graph.microsoft.com/User.Read",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": "eyJ0eXAi.AT-ms-2",
            "refresh_token": "0.AXoA-RT-ms-2"
        })),
    )
    .await;
    let w = microsoft_due(&server);

    let out = w.cmd(&["refresh", "ms"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("ms: refreshed; new refresh token stored"),
        "{}",
        stdout(&out)
    );
    assert_eq!(stored(&w, "ms", "refresh_token"), "0.AXoA-RT-ms-2");
    assert_eq!(stored(&w, "ms", "access_token"), "eyJ0eXAi.AT-ms-2");

    let reqs = requests_to(&server, "/contoso.onmicrosoft.com/oauth2/v2.0/token").await;
    let f = form(&reqs[0]);
    assert_eq!(f["grant_type"], "refresh_token");
    assert_eq!(f["refresh_token"], "0.AXoA-RT-ms-1");
    assert_eq!(f["client_id"], "11111111-2222-3333-4444-555555555555");
    assert!(
        !f.contains_key("client_secret"),
        "a public client sends no secret (AADSTS700025)"
    );
    let scopes: Vec<&str> = f["scope"].split(' ').collect();
    assert!(scopes.contains(&"offline_access"), "{scopes:?}");
    assert!(
        scopes.contains(&"https://graph.microsoft.com/User.Read"),
        "{scopes:?}"
    );
    assert_eq!(summary(&w, "ms")["status"], "valid");
}

#[tokio::test]
async fn microsoft_aadsts_error_reaches_stderr_on_one_line() {
    let server = server().await;
    let description = "AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2020-02-26T21:52:54.2810613Z and was inactive for 90.00:00:00.\r\nTrace ID: 6e94ade5-10de-4d67-909a-14d845813500\r\nCorrelation ID: 0e87b495-1e24-4882-be85-d012c216f4f6\r\nTimestamp: 2020-07-06 22:31:52Z";
    post_answers(
        &server,
        "/contoso.onmicrosoft.com/oauth2/v2.0/token",
        error_json(
            400,
            json!({
                "error": "invalid_grant",
                "error_description": description,
                "error_codes": [700082],
                "timestamp": "2020-07-06 22:31:52Z",
                "trace_id": "6e94ade5-10de-4d67-909a-14d845813500",
                "correlation_id": "0e87b495-1e24-4882-be85-d012c216f4f6",
                "error_uri": "https://login.microsoftonline.com/error?code=700082"
            }),
        ),
        1,
    )
    .await;
    let w = microsoft_due(&server);

    let out = w.cmd(&["refresh", "ms"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).contains('\r'), "{:?}", stderr(&out));
    let line = failure_line(&out, "ms");
    assert!(line.starts_with("tokdash: ms: refresh refused (HTTP 400, invalid_grant: AADSTS700082: The refresh token has expired due to inactivity."), "{line}");
    assert!(
        line.contains(
            "90.00:00:00. Trace ID: 6e94ade5-10de-4d67-909a-14d845813500 Correlation ID:"
        ),
        "{line}"
    );
    assert!(line.ends_with("; run: tokdash login ms"), "{line}");
    assert_eq!(summary(&w, "ms")["status"], "needs_login");
    assert_eq!(stored(&w, "ms", "refresh_token"), "0.AXoA-RT-ms-1");
}

#[tokio::test]
async fn microsoft_revoke_says_there_is_no_endpoint_and_touches_nothing() {
    let server = server().await;
    let w = world_with(
        &microsoft_config(&server.uri()),
        "ms",
        json!({"access_token": "AT-ms", "refresh_token": "0.AXoA-RT-ms-1", "expires_in": 3600}),
    );
    let before = w.record("ms").unwrap();

    let out = w.cmd(&["revoke", "ms", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    let line = failure_line(&out, "ms");
    assert!(line.contains("has no token revocation endpoint"), "{line}");
    assert!(line.contains("revokeSignInSessions"), "{line}");
    assert_eq!(stdout(&out), "");
    assert_eq!(w.record("ms").unwrap(), before);
    assert!(server.received_requests().await.unwrap().is_empty());
    assert_eq!(summary(&w, "ms")["status"], "valid");
}

// ---------------------------------------------------------------------------------------------
// Auth0

#[tokio::test]
async fn auth0_rotation_stores_each_new_refresh_token_and_spends_it_next() {
    let server = server().await;
    for (spent, next) in [("v1.RT-a0-1", "v1.RT-a0-2"), ("v1.RT-a0-2", "v1.RT-a0-3")] {
        mount(
            &server,
            post("/oauth/token").and(body_string_contains(format!("refresh_token={spent}"))),
            ok_json(json!({
                "access_token": format!("eyJ.AT-for-{next}"),
                "refresh_token": next,
                "scope": "openid profile email offline_access",
                "expires_in": 86400,
                "token_type": "Bearer"
            })),
            1,
        )
        .await;
    }
    let w = world_with(
        &auth0_config(&server.uri()),
        "a0",
        json!({"refresh_token": "v1.RT-a0-1"}),
    );

    for expected in ["v1.RT-a0-2", "v1.RT-a0-3"] {
        let out = TOKDASH.run_ok(&w, &["refresh", "a0"]);
        assert!(
            stdout(&out).contains("new refresh token stored"),
            "{}",
            stdout(&out)
        );
        assert_eq!(stored(&w, "a0", "refresh_token"), expected);
    }
    let reqs = requests_to(&server, "/oauth/token").await;
    assert_eq!(reqs.len(), 2);
    let f = form(&reqs[0]);
    assert_eq!(f["client_id"], "a0-client-id");
    assert_eq!(f["client_secret"], SECRET);
    assert!(!f.contains_key("scope"));
}

#[tokio::test]
async fn auth0_dead_refresh_token_needs_login_whether_invalid_grant_or_access_denied() {
    for (error, description) in [
        ("invalid_grant", "Unknown or invalid refresh token."),
        ("access_denied", "Unknown or invalid refresh token"),
    ] {
        let server = server_posting("/oauth/token", refusal(403, error, description)).await;
        let w = world_with(
            &auth0_config(&server.uri()),
            "a0",
            json!({"refresh_token": "v1.RT-a0-dead"}),
        );

        let out = TOKDASH.run(&w, &["refresh", "a0"]);
        assert_eq!(out.status.code(), Some(1), "{error}");
        assert_eq!(
            failure_line(&out, "a0"),
            format!(
                "tokdash: a0: refresh refused (HTTP 403, {error}: {description}); run: tokdash login a0"
            )
        );
        assert_eq!(summary(&w, "a0")["status"], "needs_login", "{error}");
        assert_eq!(stored(&w, "a0", "refresh_token"), "v1.RT-a0-dead");
    }
}

#[tokio::test]
async fn auth0_revoke_sends_a_json_body_and_an_empty_200_means_revoked() {
    let (_server, w, reqs) = revoke_live_pair(
        auth0_config,
        post("/oauth/revoke").and(header("content-type", "application/json")),
        "/oauth/revoke",
        ("a0", "eyJ.AT-a0", "v1.RT-a0-1"),
    )
    .await;
    assert_eq!(reqs.len(), 1, "Auth0 revokes refresh tokens only");
    let body: Value = serde_json::from_slice(&reqs[0].body).expect("a JSON body");
    assert_eq!(
        body,
        json!({"client_id": "a0-client-id", "client_secret": SECRET, "token": "v1.RT-a0-1"})
    );
    assert_eq!(summary(&w, "a0")["status"], "revoked");
    assert_eq!(stored(&w, "a0", "refresh_token"), Value::Null);
}

#[tokio::test]
async fn auth0_client_credentials_sends_the_audience() {
    let server = server_posting(
        "/oauth/token",
        ok_json(
            json!({"access_token": "eyJ.AT-machine", "expires_in": 86400, "token_type": "Bearer"}),
        ),
    )
    .await;
    let w = World::new(&auth0_config(&server.uri()));

    let f = client_credentials_form(&w, "a0cc", &server, ("/oauth/token", "a0-machine")).await;
    assert_eq!(f["audience"], "https://api.example.com");
    assert_eq!(stored(&w, "a0cc", "access_token"), "eyJ.AT-machine");
}

// ---------------------------------------------------------------------------------------------
// Client authentication

fn oauth2_config(uri: &str, extra: &str) -> String {
    format!(
        r#"
[profiles.o]
provider = "oauth2"
client_id = "my:client id"
token_url = "{uri}/token"
{extra}
"#
    )
}

#[tokio::test]
async fn client_secret_basic_form_encodes_id_and_secret_before_base64() {
    use base64::Engine;
    let awkward = "p:ss+w%rd /=ä";
    let server = token_server(json!({"access_token": "AT-basic", "expires_in": 600})).await;
    let w = world_with(
        &oauth2_config(
            &server.uri(),
            &format!("client_secret_env = \"{SECRET_VAR}\"\nauth_method = \"client_secret_basic\""),
        ),
        "o",
        json!({"refresh_token": "RT-basic"}),
    );

    let out = w
        .cmd(&["refresh", "o"])
        .env(SECRET_VAR, awkward)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let req = &requests_to(&server, "/token").await[0];
    let auth = req.headers["authorization"].to_str().unwrap();
    let encoded = auth.strip_prefix("Basic ").expect("a Basic header");
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    // RFC 6749 §2.3.1: each part form-urlencoded, so the only raw ':' is the separator.
    assert_eq!(decoded.matches(':').count(), 1, "{decoded}");
    let (id, secret) = decoded.split_once(':').unwrap();
    let unform = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned()
    };
    assert_eq!(unform(id), "my:client id");
    assert_eq!(unform(secret), awkward);
    assert_eq!(decoded, "my%3Aclient+id:p%3Ass%2Bw%25rd+%2F%3D%C3%A4");
    let f = form(req);
    assert!(!f.contains_key("client_secret"), "{f:?}");
    assert_eq!(f["refresh_token"], "RT-basic");
}

#[tokio::test]
async fn auth_method_none_sends_the_client_id_and_no_secret() {
    let server = token_server(json!({"access_token": "AT-public", "expires_in": 600})).await;
    let config = oauth2_config(&server.uri(), "auth_method = \"none\"");
    let w = world_with(&config, "o", json!({"refresh_token": "RT-public"}));

    let out = w.cmd(&["refresh", "o"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let req = &requests_to(&server, "/token").await[0];
    assert!(req.headers.get("authorization").is_none());
    let f = form(req);
    assert_eq!(f["client_id"], "my:client id");
    assert!(!f.contains_key("client_secret"), "{f:?}");
}

// ---------------------------------------------------------------------------------------------
// Client credentials and `token`

fn cc_config(uri: &str) -> String {
    format!(
        "[profiles.cc]\nprovider = \"oauth2\"\nclient_id = \"svc\"\n\
         client_secret_env = \"{SECRET_VAR}\"\ngrant = \"client_credentials\"\n\
         scopes = [\"read\", \"write\"]\ntoken_url = \"{uri}/token\"\n"
    )
}

#[tokio::test]
async fn client_credentials_refresh_asks_for_the_grant_and_stores_the_token() {
    let server = token_server(
        json!({"access_token": "AT-cc-1", "expires_in": 3600, "token_type": "bearer"}),
    )
    .await;
    let w = World::new(&cc_config(&server.uri()));
    assert_eq!(summary(&w, "cc")["status"], "expired");

    let f = client_credentials_form(&w, "cc", &server, ("/token", "svc")).await;
    assert_eq!(f["scope"], "read write");
    assert_eq!(stored(&w, "cc", "access_token"), "AT-cc-1");
    let s = summary(&w, "cc");
    assert_eq!(s["status"], "valid");
    assert_eq!(s["has_refresh_token"], false);
}

#[tokio::test]
async fn token_of_a_client_credentials_profile_prints_the_token_and_nothing_else() {
    let server = token_server(json!({"access_token": "AT-cc-1", "expires_in": 3600})).await;
    let w = World::new(&cc_config(&server.uri()));

    for _ in 0..2 {
        // The second run finds the stored token valid: still one request in all (expect(1)).
        let out = TOKDASH.run_ok(&w, &["token", "cc"]);
        assert_eq!(stdout(&out), "AT-cc-1\n");
        assert_eq!(stderr(&out), "");
    }
}

#[tokio::test]
async fn token_of_a_valid_stored_token_sends_no_request() {
    let server = server().await;
    forbid_posts(&server).await;
    let w = google_live(&server, "ya29.AT-valid");

    let out = TOKDASH.run_ok(&w, &["token", "g"]);
    assert_eq!(stdout(&out), "ya29.AT-valid\n");
    assert_eq!(stderr(&out), "");
}

#[tokio::test]
async fn token_refreshes_first_when_expired_or_within_refresh_ahead() {
    // 0: expired; 120: an hour-long token valid for 2 more minutes, inside the default
    // refresh_ahead of 5m (a fresh two-minute token would not be due before half of it).
    for expires_in in [0, 120] {
        let server = server().await;
        mount(
            &server,
            post("/token").and(body_string_contains("refresh_token=1%2F%2FRT")),
            ok_json(json!({"access_token": "ya29.AT-fresh", "expires_in": 3599})),
            1,
        )
        .await;
        let w = world_with(
            &google_config(&server.uri()),
            "g",
            json!({"access_token": "ya29.AT-old", "refresh_token": "1//RT", "expires_in": expires_in}),
        );
        w.age_token("g", 3600 - expires_in);

        let out = TOKDASH.run_ok(&w, &["token", "g"]);
        assert_eq!(stdout(&out), "ya29.AT-fresh\n", "expires_in {expires_in}");
        assert_eq!(stored(&w, "g", "access_token"), "ya29.AT-fresh");
        assert_eq!(stored(&w, "g", "refresh_token"), "1//RT");
    }
}

// ---------------------------------------------------------------------------------------------
// refresh --json

const SUMMARY_KEYS: [&str; 9] = [
    "name",
    "provider",
    "status",
    "expires_at",
    "expires_in",
    "has_refresh_token",
    "last_refresh",
    "last_error",
    "refresh_token_expires_at",
];

fn assert_summary_shape(s: &Value) {
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    let mut wanted = SUMMARY_KEYS.to_vec();
    wanted.sort();
    assert_eq!(sorted, wanted, "{s}");
}

/// A world with Google profile `g` and Auth0 profile `a0`, each holding only a refresh token,
/// against one server where Google's refresh succeeds and Auth0's answers `auth0_answer`; each
/// must be asked once. The server is returned to keep it (and its expectations) alive.
async fn google_and_auth0_refreshing(auth0_answer: ResponseTemplate) -> (MockServer, World) {
    let server = token_server(json!({"access_token": "ya29.AT-new", "expires_in": 3599})).await;
    post_answers(&server, "/oauth/token", auth0_answer, 1).await;
    let w = world_with(
        &format!(
            "{}{}",
            google_config(&server.uri()),
            auth0_config(&server.uri())
        ),
        "g",
        json!({"refresh_token": "1//RT"}),
    );
    w.import("a0", &json!({"refresh_token": "v1.RT-1"}));
    (server, w)
}

#[tokio::test]
async fn refresh_json_prints_the_spec_fields_of_the_touched_profiles() {
    let (_server, w) = google_and_auth0_refreshing(ok_json(
        json!({"access_token": "eyJ.AT", "refresh_token": "v1.RT-2", "expires_in": 86400}),
    ))
    .await;

    let out = TOKDASH.run_ok(&w, &["refresh", "g", "a0", "--json"]);
    let touched: Vec<Value> = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON");
    assert_eq!(touched.len(), 2, "a0cc was not touched");
    for s in &touched {
        assert_summary_shape(s);
        assert_eq!(s["status"], "valid");
        assert_eq!(s["has_refresh_token"], true);
        assert!(s["last_error"].is_null());
        assert!(s["expires_at"].as_str().unwrap().ends_with('Z'));
        assert!(s["last_refresh"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(
        (&touched[0]["name"], &touched[0]["provider"]),
        (&json!("g"), &json!("google"))
    );
    assert_eq!(
        (&touched[1]["name"], &touched[1]["provider"]),
        (&json!("a0"), &json!("auth0"))
    );
    assert!((86_300..=86_400).contains(&touched[1]["expires_in"].as_i64().unwrap()));
}

#[tokio::test]
async fn refresh_json_reports_failures_too_and_exits_1() {
    let (_server, w) = google_and_auth0_refreshing(refusal(
        403,
        "invalid_grant",
        "Unknown or invalid refresh token.",
    ))
    .await;

    let out = run_fails(&w, &["refresh", "g", "a0", "--json"]);
    let touched: Vec<Value> = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON");
    assert_eq!(touched.len(), 2);
    touched.iter().for_each(assert_summary_shape);
    assert_eq!(touched[0]["status"], "valid");
    assert_eq!(touched[1]["status"], "needs_login");
    assert!(
        touched[1]["last_error"]
            .as_str()
            .unwrap()
            .contains("invalid_grant")
    );
    assert!(failure_line(&out, "a0").contains("(HTTP 403, invalid_grant"));
    assert!(!stderr(&out).contains("tokdash: g:"));
}

// ---------------------------------------------------------------------------------------------
// check

#[tokio::test]
async fn check_refreshes_once_after_a_401_and_retries() {
    let server = server().await;
    get_with_bearer_answers(
        &server,
        "/userinfo",
        "ya29.AT-stale",
        ResponseTemplate::new(401)
            .insert_header("www-authenticate", "Bearer error=\"invalid_token\""),
        1,
    )
    .await;
    get_with_bearer_answers(
        &server,
        "/userinfo",
        "ya29.AT-new",
        ok_json(json!({"sub": "110169484474386276334", "email": "a@example.com"})),
        1,
    )
    .await;
    let w = google_stale_refreshing(&server).await;

    let out = TOKDASH.run_ok(&w, &["check", "g"]);
    let text = stdout(&out);
    assert!(text.starts_with("g: ok, HTTP 200 in "), "{text}");
    assert!(text.contains("sub 110169484474386276334"), "{text}");
    assert!(
        text.trim_end().ends_with("(refreshed after a 401)"),
        "{text}"
    );
    assert_eq!(stored(&w, "g", "access_token"), "ya29.AT-new");
    assert_eq!(stored(&w, "g", "refresh_token"), "1//RT");
}

#[tokio::test]
async fn check_with_a_working_token_does_not_refresh() {
    let server = server().await;
    get_with_bearer_answers(
        &server,
        "/userinfo",
        "ya29.AT-good",
        ok_json(json!({"sub": "42"})),
        1,
    )
    .await;
    forbid_posts(&server).await;
    let w = google_live(&server, "ya29.AT-good");

    let out = TOKDASH.run_ok(&w, &["check", "g"]);
    let text = stdout(&out);
    assert!(
        text.starts_with("g: ok, HTTP 200 in ") && text.contains("sub 42"),
        "{text}"
    );
    assert!(!text.contains("refreshed"), "{text}");
}

#[tokio::test]
async fn check_that_still_gets_401_after_a_refresh_fails_once() {
    let server = server().await;
    get_answers(&server, "/userinfo", ResponseTemplate::new(401), 2).await;
    let w = google_stale_refreshing(&server).await;

    let out = run_fails(&w, &["check", "g"]);
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    let line = failure_line(&out, "g");
    assert!(
        line.contains("HTTP 401") && line.contains("even after a refresh"),
        "{line}"
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 7009 revocation (oauth2 / oidc)

#[tokio::test]
async fn rfc7009_revoke_sends_refresh_then_access_token_with_hints_and_client_auth() {
    use base64::Engine;
    let server = server().await;
    post_answers(&server, "/revoke", ResponseTemplate::new(200), 2).await;
    let w = world_with(
        &oauth2_config(
            &server.uri(),
            &format!(
                "client_secret_env = \"{SECRET_VAR}\"\nauth_method = \"client_secret_basic\"\nrevocation_url = \"{}/revoke\"",
                server.uri()
            ),
        ),
        "o",
        json!({"access_token": "AT-o", "refresh_token": "RT-o", "expires_in": 3600}),
    );

    let out = TOKDASH.run_ok(&w, &["revoke", "o", "--yes"]);
    assert_eq!(stdout(&out), "o: revoked (refresh_token, access_token)\n");
    let reqs = requests_to(&server, "/revoke").await;
    let sent: Vec<(String, String)> = reqs
        .iter()
        .map(|r| {
            let f = form(r);
            (f["token"].clone(), f["token_type_hint"].clone())
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("RT-o".into(), "refresh_token".into()),
            ("AT-o".into(), "access_token".into())
        ]
    );
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("my%3Aclient+id:{SECRET}"))
    );
    for r in &reqs {
        assert_eq!(r.headers["authorization"].to_str().unwrap(), basic);
        assert!(!form(r).contains_key("client_secret"));
    }
    assert_eq!(summary(&w, "o")["status"], "revoked");
}

// ---------------------------------------------------------------------------------------------
// OIDC discovery

fn oidc_config(uri: &str) -> String {
    format!(
        "[profiles.k]\nprovider = \"oidc\"\nissuer = \"{uri}/realms/ops\"\nclient_id = \"kc-client\"\n"
    )
}

async fn mount_discovery(server: &MockServer, document: Value, times: u64) {
    get_answers(
        server,
        "/realms/ops/.well-known/openid-configuration",
        ok_json(document),
        times,
    )
    .await;
}

#[tokio::test]
async fn oidc_discovery_is_fetched_once_and_kept_on_disk_between_runs() {
    let server = server().await;
    let uri = server.uri();
    mount_discovery(
        &server,
        json!({
            "issuer": format!("{uri}/realms/ops"),
            "token_endpoint": format!("{uri}/realms/ops/protocol/openid-connect/token"),
            "revocation_endpoint": format!("{uri}/realms/ops/protocol/openid-connect/revoke"),
            "userinfo_endpoint": format!("{uri}/realms/ops/protocol/openid-connect/userinfo"),
        }),
        1,
    )
    .await;
    post_answers(
        &server,
        "/realms/ops/protocol/openid-connect/token",
        ok_json(json!({"access_token": "AT-kc", "refresh_token": "RT-kc-2", "expires_in": 300})),
        2,
    )
    .await;
    let w = world_with(&oidc_config(&uri), "k", json!({"refresh_token": "RT-kc-1"}));

    for _ in 0..2 {
        let out = w.cmd(&["refresh", "k"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(stored(&w, "k", "refresh_token"), "RT-kc-2");
}

#[tokio::test]
async fn oidc_discovery_that_cannot_be_trusted_is_refused_before_any_token_is_sent() {
    type Document = fn(&str) -> Value;
    let cases: [(Document, &str); 3] = [
        (
            |_| json!({"issuer": "https://evil.example.com", "token_endpoint": "https://evil.example.com/token"}),
            "names another issuer",
        ),
        (
            |uri| json!({"issuer": format!("{uri}/realms/ops"), "token_endpoint": "http://evil.example.com/token"}),
            "loopback",
        ),
        (
            |uri| json!({"issuer": format!("{uri}/realms/ops")}),
            "has no token_endpoint",
        ),
    ];
    for (document, expected) in cases {
        let server = server().await;
        mount_discovery(&server, document(&server.uri()), 1).await;
        mount(
            &server,
            any_post(),
            ok_json(json!({"access_token": "AT-unwanted"})),
            0,
        )
        .await;
        let w = world_with(
            &oidc_config(&server.uri()),
            "k",
            json!({"refresh_token": "RT-kc-1"}),
        );

        let out = w.cmd(&["token", "k"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(
            failure_line(&out, "k").contains(expected),
            "{}",
            stderr(&out)
        );
        assert_eq!(stored(&w, "k", "refresh_token"), "RT-kc-1");
    }
}

// ---------------------------------------------------------------------------------------------
// Device login (RFC 8628) with Google's quirks: `verification_url`, 428 while pending, 403 denied

fn google_device_config(uri: &str) -> String {
    format!(
        "{}device_authorization_url = \"{uri}/device/code\"\n",
        google_config(uri)
    )
}

async fn mount_device_code(server: &MockServer) {
    post_answers(
        server,
        "/device/code",
        ok_json(json!({
            "device_code": "4/4-GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8",
            "user_code": "GQVQ-JKEC",
            "verification_url": "https://www.google.com/device",
            "expires_in": 1800,
            "interval": 1
        })),
        1,
    )
    .await;
}

#[tokio::test]
async fn google_device_login_waits_through_428_and_stores_the_tokens() {
    let server = server().await;
    mount_device_code(&server).await;
    post_answers_once(
        &server,
        "/token",
        refusal(428, "authorization_pending", "Precondition Required"),
    )
    .await;
    post_answers(
        &server,
        "/token",
        ok_json(json!({
            "access_token": "ya29.AT-device",
            "expires_in": 3599,
            "refresh_token": "1//RT-device",
            "scope": "openid email",
            "token_type": "Bearer"
        })),
        1,
    )
    .await;
    let w = World::new(&google_device_config(&server.uri()));

    let out = TOKDASH.run_ok(&w, &["login", "g"]);
    let text = stdout(&out);
    assert!(text.contains("https://www.google.com/device"), "{text}");
    assert!(text.contains("GQVQ-JKEC"), "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(last.starts_with("g: logged in; expires in 59m 5"), "{text}");
    assert!(last.ends_with("with a refresh token"), "{text}");
    assert_eq!(stored(&w, "g", "refresh_token"), "1//RT-device");
    assert_eq!(summary(&w, "g")["status"], "valid");

    let device = form(&requests_to(&server, "/device/code").await[0]);
    assert_eq!(device["scope"], "openid email");
    assert_eq!(device["client_id"], "1234.apps.googleusercontent.com");
    let polls = requests_to(&server, "/token").await;
    assert_eq!(polls.len(), 2);
    for p in &polls {
        let f = form(p);
        assert_eq!(
            f["grant_type"],
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(
            f["device_code"],
            "4/4-GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8"
        );
        assert_eq!(
            f["client_secret"], SECRET,
            "Google wants the secret when polling"
        );
    }
}

#[tokio::test]
async fn google_device_login_denied_with_403_exits_1_and_keeps_the_old_record() {
    let server = server().await;
    mount_device_code(&server).await;
    let denied = refusal(403, "access_denied", "Forbidden");
    post_answers(&server, "/token", denied, 1).await;
    let config = google_device_config(&server.uri());
    let w = world_with(&config, "g", json!({"refresh_token": "1//RT-old"}));

    let out = run_fails(&w, &["login", "g"]);
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(
        failure_line(&out, "g").contains("login denied (access_denied: Forbidden)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stored(&w, "g", "refresh_token"), "1//RT-old");
}
