//! Faults on the OIDC discovery endpoint itself (`provider = "oidc"`): a 503 with JSON, a 500
//! with HTML, a server that hangs, a 50 MiB body without `Content-Length`, a 200 that is not
//! JSON and a 200 with truncated JSON. Each time `tokdash token p` runs with an expired access
//! token, so it must discover the token endpoint before it can refresh, and each fault must end
//! the same way: exit code 1, exactly one stderr line naming the profile and the discovery, no
//! panic, no token request, the body never echoed, the record (refresh and access token) as it
//! was and no discovery document cached. Then the server recovers: the next `token` succeeds,
//! and the document is cached on disk so that the run after it sends no new GET.
//!
//! Each test has its own server (its own port) and its own `World`.

use crate::support::faults::assert_one_line_failure;
use crate::support::mocks::{
    get, get_answers, mount, post, post_answers, post_answers_once, server,
};
use crate::support::raw::{BigBody, Framing};
use crate::support::world::World;
use crate::support::{stderr, succeeded};
use serde_json::{Value, json};
use std::process::Output;
use std::time::{Duration, Instant};
use wiremock::{MockServer, Request, ResponseTemplate};

const MAX_ATTEMPTS: usize = tokdash::oauth::exchange::MAX_ATTEMPTS as usize;
/// 50 MiB: fifty times the cap of src/oauth/http.rs.
const BIG_BODY: usize = 50 << 20;
/// Any one tokdash run, end to end; it is killed after that.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

const RT: &str = "RT-disc-keep-me";
const AT_OLD: &str = "AT-disc-old";
/// Put in every faulty body: it must never reach stderr, the log or the store.
const MARKER: &str = "DISC-MARKER-5e2a";
const WELL_KNOWN: &str = "/.well-known/openid-configuration";

fn config(issuer: &str, settings: &str) -> String {
    format!(
        r#"
[settings]
{settings}

[profiles.p]
provider = "oidc"
issuer = "{issuer}"
client_id = "disc-client"
"#
    )
}

/// A world whose oidc profile `p` (at `issuer`) has an expired access token [`AT_OLD`] and the
/// refresh token [`RT`].
fn world(issuer: &str, settings: &str) -> World {
    let w = World::new(&config(issuer, settings));
    w.import(
        "p",
        &json!({"access_token": AT_OLD, "refresh_token": RT, "expires_in": 0}),
    );
    w
}

/// Runs tokdash in `w`, killed after [`RUN_DEADLINE`].
fn run(w: &World, args: &[&str]) -> Output {
    w.output_within(args, RUN_DEADLINE)
}

/// [`run`], which must succeed.
#[track_caller]
fn run_ok(w: &World, args: &[&str]) -> Output {
    succeeded(args, run(w, args))
}

/// A token endpoint's 200 with access token `at` (valid for an hour) and refresh token `rt`.
fn tokens(at: &str, rt: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"access_token": at, "refresh_token": rt, "expires_in": 3600}))
}

fn stored(w: &World, key: &str) -> Value {
    w.record("p").expect("the record is kept")[key].clone()
}

fn status(w: &World) -> Value {
    let out = run(w, &["list", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    list[0]["status"].clone()
}

/// `tokdash token p` failed on discovery as every fault must. Returns the stderr line.
#[track_caller]
fn assert_discovery_failed(w: &World, out: &Output) -> String {
    let line = assert_one_line_failure(out, MARKER, "tokdash token p");
    assert!(line.starts_with("tokdash: p: "), "{line}");
    assert!(line.contains("discovery"), "{line}");
    assert_eq!(stored(w, "refresh_token"), RT, "the refresh token survives");
    assert_eq!(
        stored(w, "access_token"),
        AT_OLD,
        "the access token is kept"
    );
    let record = w.record("p").unwrap().to_string();
    assert!(!record.contains(MARKER), "the body reached the record");
    assert!(!w.log_text().contains(MARKER), "the body reached the log");
    assert!(
        w.discovery_documents().is_empty(),
        "a failed discovery cached something: {:?}",
        w.discovery_documents()
    );
    assert_eq!(status(w), "error", "a failed refresh is recorded");
    line
}

async fn gets(server: &MockServer) -> Vec<Request> {
    crate::support::mocks::requests_to(server, WELL_KNOWN).await
}

/// A server whose discovery endpoint answers `response` (any number of times: the count is
/// asserted by the caller), whose `POST /token` must never be called, and a world (with
/// `settings`) whose profile `p` has that server as its issuer.
async fn faulty_issuer(response: ResponseTemplate, settings: &str) -> (MockServer, World) {
    let server = server().await;
    mount(&server, get(WELL_KNOWN), response, ..).await;
    post_answers(
        &server,
        "/token",
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "AT-unwanted", "expires_in": 3600})),
        0,
    )
    .await;
    let w = world(&server.uri(), settings);
    (server, w)
}

/// Runs `tokdash token p` with a [`faulty_issuer`] (no settings) answering `status` with `body`
/// of `content_type`: it must fail as [`assert_discovery_failed`] says. Returns the server and
/// the stderr line.
async fn token_fails_on(status: u16, body: String, content_type: &str) -> (MockServer, String) {
    let response = ResponseTemplate::new(status).set_body_raw(body, content_type);
    let (server, w) = faulty_issuer(response, "").await;
    let line = assert_discovery_failed(&w, &run(&w, &["token", "p"]));
    (server, line)
}

/// The start of the stderr line of a discovery document at `server` that is not JSON, up to the
/// parse error.
fn not_json_line(server: &MockServer) -> String {
    format!(
        "tokdash: p: the discovery document of {} is not valid JSON (",
        server.uri()
    )
}

/// The stderr line of a discovery at `server` that answered an HTTP error: `answer` is what
/// follows `HTTP `.
fn http_error_line(server: &MockServer, answer: &str) -> String {
    format!(
        "tokdash: p: OIDC discovery at {}{WELL_KNOWN} answered HTTP {answer}",
        server.uri()
    )
}

/// A document the profile can trust: its own issuer, a loopback token endpoint.
fn good_document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
    })
}

/// Until discovery goes through src/oauth/exchange.rs, each fault is one GET; when it does,
/// 5xx and timeouts are sent up to `MAX_ATTEMPTS` times. Never more.
#[track_caller]
fn assert_retried_within_policy(got: usize, what: &str) {
    assert!(
        (1..=MAX_ATTEMPTS).contains(&got),
        "{what}: {got} discovery GETs"
    );
}

#[tokio::test]
async fn discovery_503_with_json_fails_on_one_line_before_any_token_request() {
    // An OAuth error object: its code and description reach the user, as a token endpoint's do;
    // nothing else of the body does.
    let body = format!(
        r#"{{"error":"temporarily_unavailable","error_description":"down for maintenance","trace":"{MARKER}"}}"#
    );
    let (server, line) = token_fails_on(503, body, "application/json").await;
    assert_eq!(
        line,
        http_error_line(
            &server,
            "503, temporarily_unavailable: down for maintenance"
        )
    );
    assert_retried_within_policy(gets(&server).await.len(), "503");
}

#[tokio::test]
async fn discovery_500_with_html_fails_on_one_line_before_any_token_request() {
    let body = format!("<html><head><title>500</title></head><body>Oops {MARKER}</body></html>");
    let (server, line) = token_fails_on(500, body.clone(), "text/html; charset=utf-8").await;
    let answer = format!(
        "500 Internal Server Error with a text/html body ({} bytes), not an OAuth answer",
        body.len()
    );
    assert_eq!(line, http_error_line(&server, &answer));
    assert_retried_within_policy(gets(&server).await.len(), "500");
}

#[tokio::test]
async fn a_hanging_discovery_endpoint_times_out_before_any_token_request() {
    let (server, w) = faulty_issuer(
        ResponseTemplate::new(200)
            .set_body_json(good_document("http://127.0.0.1:9"))
            .set_delay(Duration::from_secs(30)),
        "timeout = \"500ms\"",
    )
    .await;

    let started = Instant::now();
    let out = run(&w, &["token", "p"]);
    let elapsed = started.elapsed();
    let line = assert_discovery_failed(&w, &out);
    assert_eq!(
        line,
        "tokdash: p: OIDC discovery failed: no answer from 127.0.0.1 within 500ms"
    );
    // 3 × 500 ms and two backoffs of at most 1.5 s: far from the 30 s delay.
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    assert_retried_within_policy(gets(&server).await.len(), "hang");
}

#[test]
fn a_fifty_megabyte_discovery_document_without_content_length_is_refused() {
    for framing in [Framing::Chunked, Framing::CloseDelimited] {
        // One connection, any path: a 200 whose JSON body is 50 MiB long.
        let served = BigBody::start(framing, BIG_BODY, MARKER);
        let issuer = served.url.trim_end_matches("/token").to_string();
        let w = world(&issuer, "");

        let line = assert_discovery_failed(&w, &run(&w, &["token", "p"]));
        assert_eq!(
            line,
            "tokdash: p: OIDC discovery failed: the response from 127.0.0.1 is over 1024 KiB; \
             not a token endpoint's",
            "{framing:?}"
        );

        // tokdash has exited: a second GET (or any token request, which could only come
        // from a document) would be waiting in the backlog.
        served.assert_refused_as_too_large(RUN_DEADLINE, &format!("{framing:?}"));
    }
}

#[tokio::test]
async fn a_discovery_document_that_is_not_json_is_refused_before_any_token_request() {
    let body = format!("<html><body>Welcome {MARKER}</body></html>");
    let (server, line) = token_fails_on(200, body, "text/html").await;
    assert!(line.starts_with(&not_json_line(&server)), "{line}");
    assert!(line.ends_with(')'), "{line}");
    assert_eq!(gets(&server).await.len(), 1, "a 200 is not retried");
}

#[tokio::test]
async fn a_truncated_discovery_document_is_refused_before_any_token_request() {
    // A document cut in the middle of a string.
    let whole = json!({
        "issuer": "http://127.0.0.1",
        "token_endpoint": "http://127.0.0.1/token",
        "service_documentation": format!("https://docs.example.com/{MARKER}"),
    })
    .to_string();
    let cut = &whole[..whole.find(MARKER).unwrap() + MARKER.len()];
    let (server, line) = token_fails_on(200, cut.to_string(), "application/json").await;
    let expected = format!("{}EOF while parsing", not_json_line(&server));
    assert!(line.starts_with(&expected), "{line}");
    assert_eq!(gets(&server).await.len(), 1, "a 200 is not retried");
}

#[tokio::test]
async fn after_the_issuer_recovers_token_succeeds_and_the_document_is_cached() {
    let (server, w) = faulty_issuer(
        ResponseTemplate::new(503).set_body_raw(format!("down {MARKER}"), "text/plain"),
        "",
    )
    .await;
    let line = assert_discovery_failed(&w, &run(&w, &["token", "p"]));
    assert!(line.contains("HTTP 503 Service Unavailable"), "{line}");
    assert_retried_within_policy(gets(&server).await.len(), "503");
    // No token request so far (the `expect(0)` above), checked before the mocks go.
    server.verify().await;

    // The issuer is back: one GET of the document for the two runs below.
    let uri = server.uri();
    server.reset().await;
    get_answers(
        &server,
        WELL_KNOWN,
        ResponseTemplate::new(200).set_body_json(good_document(&uri)),
        1,
    )
    .await;
    post_answers_once(&server, "/token", tokens("AT-disc-new", "RT-disc-2")).await;
    let newer =
        json!({"access_token": "AT-disc-newer", "refresh_token": "RT-disc-3", "expires_in": 3600});
    mount(
        &server,
        post("/token"),
        ResponseTemplate::new(200).set_body_json(newer),
        1,
    )
    .await;

    let out = run_ok(&w, &["token", "p"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "AT-disc-new\n");
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert_eq!(stored(&w, "refresh_token"), "RT-disc-2");
    assert_eq!(status(&w), "valid");

    // Cached on disk, readable by the owner only, for this issuer.
    let cached = w.discovery_documents();
    assert_eq!(cached.len(), 1, "{cached:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cached[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{:?}", cached[0]);
    let doc: Value = serde_json::from_slice(&std::fs::read(&cached[0]).unwrap()).unwrap();
    assert_eq!(doc["issuer"], uri.as_str(), "{doc}");
    assert_eq!(doc["document"], good_document(&uri), "{doc}");

    // A fresh, expired token: refreshed again, with the cached document (no new GET).
    w.import(
        "p",
        &json!({"access_token": "AT-disc-expired", "refresh_token": "RT-disc-2", "expires_in": 0}),
    );
    let out = run_ok(&w, &["token", "p"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "AT-disc-newer\n");
    assert_eq!(stored(&w, "refresh_token"), "RT-disc-3");
    assert_eq!(gets(&server).await.len(), 1, "the cached document was used");

    // The refresh tokens sent: the one kept through the fault, then the rotated one.
    let sent: Vec<String> = crate::support::mocks::requests_to(&server, "/token")
        .await
        .iter()
        .map(|r| crate::support::mocks::form(r)["refresh_token"].clone())
        .collect();
    assert_eq!(sent, [RT, "RT-disc-2"]);
}

/// The retry policy written in src/oauth/exchange.rs and RELIABILITY.md: discovery is an
/// idempotent request, so 5xx and timeouts are sent up to `MAX_ATTEMPTS` times.
#[tokio::test]
async fn discovery_is_retried_after_5xx_and_timeouts_like_other_idempotent_requests() {
    let faults = [
        (
            "503 JSON",
            ResponseTemplate::new(503).set_body_raw(
                r#"{"error":"temporarily_unavailable"}"#.to_string(),
                "application/json",
            ),
            "",
        ),
        (
            "500 HTML",
            ResponseTemplate::new(500).set_body_raw("<html>500</html>".to_string(), "text/html"),
            "",
        ),
        (
            "hang",
            ResponseTemplate::new(200)
                .set_body_json(good_document("http://127.0.0.1:9"))
                .set_delay(Duration::from_secs(30)),
            "timeout = \"500ms\"",
        ),
    ];
    for (what, response, settings) in faults {
        let (server, w) = faulty_issuer(response, settings).await;
        assert_discovery_failed(&w, &run(&w, &["token", "p"]));
        assert_eq!(gets(&server).await.len(), MAX_ATTEMPTS, "{what}");
    }
}

/// Profiles that share an issuer that is down learn it from one fetch (with its retries), not
/// each from their own, one after another.
#[tokio::test]
async fn profiles_sharing_an_issuer_that_is_down_share_one_failed_fetch() {
    let (server, w) = faulty_issuer(
        ResponseTemplate::new(503).set_body_raw("<html>down</html>", "text/html"),
        "",
    )
    .await;
    let more: String = (1..5)
        .map(|i| {
            format!(
                "[profiles.q{i}]\nprovider = \"oidc\"\nissuer = \"{}\"\nclient_id = \"disc-client\"\n",
                server.uri()
            )
        })
        .collect();
    w.write_config(&format!("{}{more}", config(&server.uri(), "")));
    for i in 1..5 {
        w.import(
            &format!("q{i}"),
            &json!({"access_token": AT_OLD, "refresh_token": RT, "expires_in": 0}),
        );
    }
    let out = run(&w, &["refresh", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).lines().count(),
        5,
        "one line per profile: {}",
        stderr(&out)
    );
    assert_eq!(
        gets(&server).await.len(),
        MAX_ATTEMPTS,
        "one fetch with its retries for the five profiles"
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 8414 metadata: read when the OpenID document lacks an endpoint, or when there is none.

/// The OpenID document of an issuer with a path, and its RFC 8414 metadata at §3.1's URL (the
/// well-known segment between the host and the path).
const REALM: &str = "/realms/x";
const OPENID_OF_REALM: &str = "/realms/x/.well-known/openid-configuration";
const METADATA_OF_REALM: &str = "/.well-known/oauth-authorization-server/realms/x";
/// The RFC 8414 metadata of an issuer without a path.
const METADATA: &str = "/.well-known/oauth-authorization-server";

/// An RFC 8414 document of `issuer` whose endpoints live under `{base}/meta/`.
fn metadata_document(issuer: &str, base: &str) -> Value {
    json!({
        "issuer": issuer,
        "token_endpoint": format!("{base}/meta/token"),
        "revocation_endpoint": format!("{base}/meta/revoke"),
        "device_authorization_endpoint": format!("{base}/meta/device"),
        "userinfo_endpoint": format!("{base}/meta/not-in-rfc-8414"),
    })
}

/// A server whose realm's OpenID document has token and userinfo endpoints only, with its
/// revocation and device endpoints in the RFC 8414 metadata. Each document must be fetched
/// once: the copy in the store serves the later runs.
async fn realm_with_metadata() -> (MockServer, String) {
    let server = server().await;
    let uri = server.uri();
    let issuer = format!("{uri}{REALM}");
    get_answers(
        &server,
        OPENID_OF_REALM,
        ResponseTemplate::new(200).set_body_json(good_document(&issuer)),
        1,
    )
    .await;
    get_answers(
        &server,
        METADATA_OF_REALM,
        ResponseTemplate::new(200).set_body_json(metadata_document(&issuer, &uri)),
        1,
    )
    .await;
    (server, issuer)
}

/// A server (and its URI, the issuer) whose OpenID document is good and must be fetched
/// `openid_times` times, and whose RFC 8414 metadata gets the answer `metadata` makes from the
/// URI, which must come the number of times it gives.
async fn issuer_with_metadata(
    openid_times: u64,
    metadata: impl FnOnce(&str) -> (ResponseTemplate, u64),
) -> (MockServer, String) {
    let server = server().await;
    let uri = server.uri();
    let good = ResponseTemplate::new(200).set_body_json(good_document(&uri));
    get_answers(&server, WELL_KNOWN, good, openid_times).await;
    let (answer, times) = metadata(&uri);
    get_answers(&server, METADATA, answer, times).await;
    (server, uri)
}

#[tokio::test]
async fn revocation_and_device_endpoints_missing_from_the_openid_document_come_from_rfc_8414() {
    let (server, issuer) = realm_with_metadata().await;
    let uri = server.uri();
    // A second profile of the issuer writes its own revocation URL, which wins.
    let w = World::new(&format!(
        "{}\n[profiles.q]\nprovider = \"oidc\"\nissuer = \"{issuer}\"\nclient_id = \"disc-client\"\nrevocation_url = \"{uri}/own/revoke\"\n",
        config(&issuer, "")
    ));

    let out = run_ok(&w, &["config", "check"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    let (p, q) = printed
        .split_once("[q]")
        .expect("both profiles are printed");
    for expected in [
        format!("  token:          {issuer}/token  (OIDC discovery)\n"),
        format!("  revocation:     {uri}/meta/revoke  (RFC 8414 metadata)\n"),
        format!("  device:         {uri}/meta/device  (RFC 8414 metadata)\n"),
        format!("  userinfo:       {issuer}/userinfo  (OIDC discovery)\n"),
        format!(
            "  (from discovery at {issuer}{WELL_KNOWN} and RFC 8414 metadata at {uri}{METADATA_OF_REALM})\n"
        ),
    ] {
        assert!(p.contains(&expected), "{expected:?} not in {p}");
    }
    assert!(
        q.contains(&format!("  revocation:     {uri}/own/revoke  (config)\n")),
        "{q}"
    );
    assert!(
        q.contains(&format!(
            "  device:         {uri}/meta/device  (RFC 8414 metadata)\n"
        )),
        "{q}"
    );

    // Device login: the device request goes to the metadata's endpoint, the polls to the
    // OpenID document's token endpoint.
    mount(
        &server,
        post("/meta/device"),
        ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "DC-8414", "user_code": "WXYZ-8414",
            "verification_uri": format!("{uri}/device"), "expires_in": 600, "interval": 1,
        })),
        1,
    )
    .await;
    mount(
        &server,
        post(&format!("{REALM}/token")),
        tokens("AT-8414", "RT-8414"),
        1,
    )
    .await;
    let out = run_ok(&w, &["login", "p"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("WXYZ-8414"),
        "the user code is shown"
    );
    let polls = crate::support::mocks::requests_to(&server, &format!("{REALM}/token")).await;
    assert_eq!(
        crate::support::mocks::form(&polls[0])["device_code"],
        "DC-8414"
    );
    assert_eq!(stored(&w, "refresh_token"), "RT-8414");

    // Revocation: at the metadata's endpoint, refresh token first.
    mount(&server, post("/meta/revoke"), ResponseTemplate::new(200), 2).await;
    let out = run_ok(&w, &["revoke", "p", "--yes"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "p: revoked (refresh_token, access_token)\n"
    );
    let revoked: Vec<String> = crate::support::mocks::requests_to(&server, "/meta/revoke")
        .await
        .iter()
        .map(|r| crate::support::mocks::form(r)["token"].clone())
        .collect();
    assert_eq!(revoked, ["RT-8414", "AT-8414"]);

    // Each document once for the three runs, and nothing at the metadata's token endpoint.
    server.verify().await;
    assert!(
        crate::support::mocks::requests_to(&server, "/meta/token")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_issuer_with_only_rfc_8414_metadata_refreshes_with_its_endpoints() {
    let server = server().await;
    let uri = server.uri();
    let metadata = metadata_document(&uri, &uri);
    // No OpenID document: the mock server answers 404 there.
    get_answers(
        &server,
        METADATA,
        ResponseTemplate::new(200).set_body_json(metadata),
        1,
    )
    .await;
    post_answers_once(&server, "/meta/token", tokens("AT-8414-new", "RT-8414-2")).await;
    mount(
        &server,
        post("/meta/token"),
        tokens("AT-8414-newer", "RT-8414-3"),
        1,
    )
    .await;
    let w = world(&uri, "");

    let out = run_ok(&w, &["token", "p"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "AT-8414-new\n");
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert_eq!(stored(&w, "refresh_token"), "RT-8414-2");
    assert_eq!(
        gets(&server).await.len(),
        1,
        "the OpenID document was asked for"
    );

    // The absence of the OpenID document is cached with the metadata: no GET at all now.
    w.import(
        "p",
        &json!({"access_token": "AT-8414-expired", "refresh_token": "RT-8414-2", "expires_in": 0}),
    );
    let out = run_ok(&w, &["token", "p"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "AT-8414-newer\n");
    assert_eq!(gets(&server).await.len(), 1, "the cached copy was used");

    let out = run(&w, &["config", "check"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains(&format!(
            "  token:          {uri}/meta/token  (RFC 8414 metadata)\n"
        )),
        "{printed}"
    );
    assert!(printed.contains("  userinfo:       (none)\n"), "{printed}");
    assert!(
        printed.contains(&format!("  (from RFC 8414 metadata at {uri}{METADATA})\n")),
        "{printed}"
    );
    server.verify().await;
}

#[tokio::test]
async fn rfc_8414_metadata_of_another_issuer_is_refused_before_any_request() {
    let (server, uri) = issuer_with_metadata(1, |uri| {
        (
            ResponseTemplate::new(200)
                .set_body_json(metadata_document("https://evil.example.com", uri)),
            1,
        )
    })
    .await;
    mount(
        &server,
        crate::support::mocks::any_post(),
        ResponseTemplate::new(200),
        0,
    )
    .await;
    let w = world(&uri, "");

    let out = run(&w, &["revoke", "p", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "tokdash: p: the RFC 8414 metadata of {uri} names another issuer, https://evil.example.com\n"
        )
    );
    assert_eq!(stored(&w, "refresh_token"), RT, "nothing was revoked");
    assert!(
        w.discovery_documents().is_empty(),
        "{:?}",
        w.discovery_documents()
    );
    server.verify().await;
}

#[tokio::test]
async fn an_issuer_with_neither_document_fails_naming_both_urls() {
    let (server, w) = faulty_issuer(ResponseTemplate::new(404), "").await;
    let uri = server.uri();
    let line = assert_discovery_failed(&w, &run(&w, &["token", "p"]));
    assert_eq!(
        line,
        format!(
            "tokdash: p: OIDC discovery at {uri}{WELL_KNOWN} and RFC 8414 discovery at {uri}{METADATA} \
             both answered HTTP 404; check the issuer"
        )
    );
    assert_eq!(gets(&server).await.len(), 1, "a 404 is not retried");
    server.verify().await;
}

/// The OpenID document has what a refresh needs; the RFC 8414 metadata that would complete it
/// answers 503 (after the retries). The refresh goes ahead on the OpenID document alone, and
/// nothing is cached, so the metadata is asked for again next time.
#[tokio::test]
async fn rfc_8414_metadata_that_is_down_does_not_stop_a_refresh() {
    let (server, uri) = issuer_with_metadata(2, |_| {
        (
            ResponseTemplate::new(503).set_body_string(MARKER),
            (2 * MAX_ATTEMPTS) as u64,
        )
    })
    .await;
    post_answers(&server, "/token", tokens("AT-alone", "RT-alone"), 1).await;
    let w = world(&uri, "");

    let out = run_ok(&w, &["token", "p"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "AT-alone\n");
    assert_eq!(stored(&w, "refresh_token"), "RT-alone");
    assert!(
        w.discovery_documents().is_empty(),
        "an incomplete lookup is not cached"
    );
    assert!(!w.log_text().contains(MARKER));
    // The revocation endpoint is still unknown, and the metadata is asked for once more.
    let out = run(&w, &["revoke", "p", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("revocation"), "{}", stderr(&out));
    server.verify().await;
}
