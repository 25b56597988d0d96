//! What a real authorization server cannot be made to do on purpose: gateways answering HTML,
//! 5xx, rate limits, a server that hangs, bodies too large, truncated or not UTF-8, wrong JSON
//! types, a plain-text 404, a closed port, and `refresh --all` where some profiles fail. Through
//! the real binary, each failure must be: exit code 1, exactly one stderr line naming the
//! profile, no panic, the body never echoed, and the stored refresh token unchanged. Last,
//! secrets never leave the store. (The 50 MiB body without `Content-Length` is in big_body.rs.)

use crate::support::faults::{
    MARKER, RT, SECRET_VAR, read_request, run, status, stderr, stored_rt, token_fails, world,
};
use crate::support::mocks::{
    get_answers, json, mount, post, post_answers, post_answers_once, requests_to, server,
};
use crate::support::world::World;
use serde_json::{Value, json};
use std::process::Output;
use std::time::Duration;
use wiremock::matchers::{any, body_string_contains, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MAX_ATTEMPTS: usize = tokdash::oauth::exchange::MAX_ATTEMPTS as usize;

async fn token_calls(server: &MockServer) -> usize {
    requests_to(server, "/token").await.len()
}

/// A world (with `settings`) whose profile `f` refreshes at `server`'s `/token`.
fn world_at(server: &MockServer, settings: &str) -> World {
    world(&format!("{}/token", server.uri()), settings)
}

/// A server whose `POST /token` answers `response` and must come `times` times, and a world
/// (with `settings`) whose profile `f` refreshes there.
async fn token_server(
    response: ResponseTemplate,
    times: u64,
    settings: &str,
) -> (MockServer, World) {
    let server = server().await;
    post_answers(&server, "/token", response, times).await;
    let w = world_at(&server, settings);
    (server, w)
}

/// Runs `token f` against a server whose `POST /token` answers `response` and must come `times`
/// times; the refresh must fail as [`token_fails`] requires. Returns the server, the world, the
/// failure line and how long tokdash took.
async fn refresh_fails_against(
    response: ResponseTemplate,
    times: u64,
) -> (MockServer, World, String, Duration) {
    let (server, w) = token_server(response, times, "").await;
    let (line, elapsed) = token_fails(&w);
    (server, w, line, elapsed)
}

#[tokio::test]
async fn html_502_is_retried_then_reported_without_the_page() {
    let (server, w, line, _) = refresh_fails_against(
        ResponseTemplate::new(502).set_body_raw(
            format!(
                "<html><head><title>502 Bad Gateway</title></head><body>{MARKER}</body></html>"
            ),
            "text/html; charset=utf-8",
        ),
        MAX_ATTEMPTS as u64,
    )
    .await;
    assert!(
        line.contains("HTTP 502 Bad Gateway with a text/html body"),
        "{line}"
    );
    assert_eq!(token_calls(&server).await, MAX_ATTEMPTS);
    assert_eq!(status(&w), "error", "a transient failure");
}

#[tokio::test]
async fn json_500_server_error_is_retried_then_reported() {
    let (_server, w, line, _) = refresh_fails_against(
        json(
            500,
            json!({
                "error": "server_error",
                "error_description": "The server hiccuped",
                "debug": MARKER
            }),
        ),
        MAX_ATTEMPTS as u64,
    )
    .await;
    assert!(
        line.contains("(HTTP 500, server_error: The server hiccuped)"),
        "{line}"
    );
    assert!(line.ends_with("a retry may succeed"), "{line}");
    assert_eq!(status(&w), "error");
}

#[tokio::test]
async fn rate_limit_with_a_short_retry_after_is_honoured_and_then_succeeds() {
    let server = server().await;
    post_answers_once(
        &server,
        "/token",
        json(
            429,
            json!({"error": "too_many_requests", "error_description": MARKER}),
        )
        .insert_header("retry-after", "1"),
    )
    .await;
    post_answers(
        &server,
        "/token",
        json(
            200,
            json!({"access_token": "AT-after-429", "expires_in": 3600}),
        ),
        1,
    )
    .await;
    let w = world_at(&server, "");

    let (out, elapsed) = run(&w, &["token", "f"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "AT-after-429\n");
    assert_eq!(stderr(&out), "");
    // Without Retry-After the first backoff would be 250–500 ms (`backoff(1)` in
    // src/oauth/exchange.rs: a ceiling of 250 << 1 ms, jittered down to half of it).
    assert!(
        elapsed >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured ({elapsed:?})"
    );
    assert_eq!(token_calls(&server).await, 2);
    assert_eq!(stored_rt(&w), RT);
    assert_eq!(status(&w), "valid");
}

#[tokio::test]
async fn rate_limit_with_a_long_retry_after_fails_at_once_with_a_hint() {
    let (_server, w, line, elapsed) = refresh_fails_against(
        json(
            429,
            json!({"error": "too_many_requests", "error_description": "Slow down", "x": MARKER}),
        )
        .insert_header("retry-after", "3600"),
        1,
    )
    .await;
    assert!(
        line.contains("(HTTP 429, too_many_requests: Slow down)"),
        "{line}"
    );
    assert!(line.contains("retry in 3600s"), "{line}");
    assert!(
        elapsed < Duration::from_secs(10),
        "it did not wait: {elapsed:?}"
    );
    assert_eq!(status(&w), "error");
}

#[tokio::test]
async fn a_hanging_server_times_out_and_the_refresh_is_not_sent_again() {
    let (server, w) = token_server(
        json(200, json!({"access_token": MARKER, "expires_in": 3600}))
            .set_delay(Duration::from_secs(30)),
        1,
        "timeout = \"500ms\"",
    )
    .await;
    let (line, elapsed) = token_fails(&w);
    assert!(
        line.contains("no answer from 127.0.0.1 within 500ms"),
        "{line}"
    );
    // The server may have rotated the token before hanging: a second spend could trip reuse
    // detection, so exactly one request.
    assert_eq!(token_calls(&server).await, 1);
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(status(&w), "error");
}

#[tokio::test]
async fn a_five_megabyte_body_is_refused_as_too_large() {
    let mut body = format!("{{\"access_token\":\"{MARKER}");
    body.push_str(&"x".repeat(5 * 1024 * 1024));
    body.push_str("\"}");
    let (_server, w, line, _) = refresh_fails_against(
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
        1,
    )
    .await;
    assert!(line.contains("is over 1024 KiB"), "{line}");
    assert!(
        line.ends_with("check the endpoints of f: tokdash config check"),
        "{line}"
    );
    assert!(!w.record("f").unwrap().to_string().contains(MARKER));
}

/// 200 answers that are not token responses: one request, a failure, nothing stored from them.
async fn bad_200(body: Vec<u8>, content_type: &str, expected: &str) {
    let (_server, w, line, _) = refresh_fails_against(
        ResponseTemplate::new(200).set_body_raw(body, content_type),
        1,
    )
    .await;
    assert!(line.contains("is not a token response"), "{line}");
    assert!(line.contains(expected), "{line} lacks {expected}");
    let record = w.record("f").unwrap();
    assert!(!record.to_string().contains(MARKER), "{record}");
    assert_eq!(record["access_token"], "AT-fault-old");
}

/// [`bad_200`] with a well-formed JSON `body` whose fields have the wrong types.
async fn bad_json_200(body: Value, expected: &str) {
    bad_200(body.to_string().into_bytes(), "application/json", expected).await;
}

#[tokio::test]
async fn truncated_json_with_200() {
    bad_200(
        format!(r#"{{"access_token":"{MARKER}","refresh_token":"{MARKER}","expires_in":36"#)
            .into_bytes(),
        "application/json",
        "not JSON",
    )
    .await;
}

#[tokio::test]
async fn invalid_utf8_with_200() {
    let mut body = format!(r#"{{"access_token":"{MARKER}"#).into_bytes();
    body.extend_from_slice(b"\xff\xfe\xfd\",\"expires_in\":3600}");
    bad_200(body, "application/json", "not JSON").await;
}

#[tokio::test]
async fn expires_in_that_is_not_a_number() {
    let body = json!({"access_token": MARKER, "refresh_token": MARKER, "expires_in": "soon"});
    bad_json_200(body, "`expires_in` is not a number of seconds").await;
}

#[tokio::test]
async fn access_token_that_is_not_a_string() {
    let body = json!({"access_token": 5, "refresh_token": MARKER, "expires_in": 3600});
    bad_json_200(body, "`access_token` is not a string").await;
}

#[tokio::test]
async fn plain_text_404_points_at_the_endpoints() {
    let (_server, _w, line, _) = refresh_fails_against(
        ResponseTemplate::new(404)
            .set_body_raw(format!("404 page not found {MARKER}"), "text/plain"),
        1,
    )
    .await;
    assert!(
        line.contains("HTTP 404 Not Found with a text/plain body"),
        "{line}"
    );
    assert!(
        line.ends_with("check the endpoints of f: tokdash config check"),
        "{line}"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let server = server().await;
    post_answers(
        &server,
        "/token",
        ResponseTemplate::new(307)
            .insert_header("location", format!("{}/elsewhere", server.uri()))
            .set_body_raw(MARKER, "text/plain"),
        1,
    )
    .await;
    mount(
        &server,
        Mock::given(any()).and(path("/elsewhere")),
        json(200, json!({"access_token": MARKER})),
        0,
    )
    .await;
    let w = world_at(&server, "");

    let (line, _) = token_fails(&w);
    assert!(line.contains("HTTP 307 Temporary Redirect"), "{line}");
    assert!(
        line.ends_with("check the endpoints of f: tokdash config check"),
        "{line}"
    );
}

/// A server that reads the request, writes `reply` (maybe nothing) and hangs up: what a
/// crashing server or a proxy cutting the connection does. Returns its URL and how many
/// connections it took.
fn cutting_server(
    reply: &'static [u8],
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            read_request(&mut stream);
            let _ = stream.write_all(reply);
            // Dropping the stream hangs up.
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn a_connection_cut_after_the_request_is_not_retried() {
    for reply in [
        &b""[..],
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"access_token\":\"BODY-MARKER-c81f",
    ] {
        let (url, accepted) = cutting_server(reply);
        let w = world(&url, "");

        let (line, _) = token_fails(&w);
        assert!(line.contains("was cut off"), "{line}");
        // The server read the refresh token and may have acted on it: sending it again could
        // trip reuse detection.
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "{line}");
        assert_eq!(status(&w), "error");
    }
}

#[tokio::test]
async fn a_refused_connection_is_reported_once() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let w = world(&format!("http://127.0.0.1:{port}/token"), "");

    let (line, elapsed) = token_fails(&w);
    assert!(line.contains("cannot connect to 127.0.0.1"), "{line}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(status(&w), "error");
}

#[tokio::test]
async fn refresh_command_reports_each_fault_on_one_line_naming_the_profile() {
    let (_server, w) = token_server(
        ResponseTemplate::new(404).set_body_raw(MARKER, "text/plain"),
        1,
        "",
    )
    .await;

    let (out, _) = run(&w, &["refresh", "f"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains(MARKER) && !err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("tokdash: f: "), "{err}");
    assert_eq!(stored_rt(&w), RT);
}

/// `refresh --all` over three profiles on one server: `good` succeeds (and rotates), `gateway`
/// gets an HTML 502 on every attempt, `dead` gets 400 `invalid_grant`. Each failure is one line
/// naming its profile; the success is stored; the failures keep their refresh tokens.
#[tokio::test]
async fn refresh_all_with_some_profiles_failing_reports_each_and_stores_the_others() {
    let server = server().await;
    post_answers(
        &server,
        "/good/token",
        json(
            200,
            json!({
                "access_token": "AT-good-new", "refresh_token": "RT-good-new", "expires_in": 3600
            }),
        ),
        1,
    )
    .await;
    post_answers(
        &server,
        "/gateway/token",
        ResponseTemplate::new(502).set_body_raw(
            format!("<html><title>502 Bad Gateway</title><body>{MARKER}</body></html>"),
            "text/html",
        ),
        MAX_ATTEMPTS as u64,
    )
    .await;
    post_answers(
        &server,
        "/dead/token",
        json(
            400,
            json!({
                "error": "invalid_grant", "error_description": "Refresh token expired", "trace": MARKER
            }),
        ),
        1,
    )
    .await;
    let names = ["good", "gateway", "dead"];
    let w = World::new(
        &names
            .iter()
            .map(|n| {
                format!(
                    "[profiles.{n}]\nprovider = \"oauth2\"\nclient_id = \"c-{n}\"\n\
                     client_secret_env = \"{SECRET_VAR}\"\ntoken_url = \"{}/{n}/token\"\n\n",
                    server.uri()
                )
            })
            .collect::<String>(),
    );
    for n in names {
        w.import(
            n,
            &json!({"access_token": format!("AT-{n}-old"), "refresh_token": format!("RT-{n}-old"), "expires_in": 0}),
        );
    }

    let (out, _) = run(&w, &["refresh", "--all"]);
    let err = stderr(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "one line per failed profile:\n{err}");
    let line_of = |n: &str| {
        let prefix = format!("tokdash: {n}: ");
        let of: Vec<&&str> = lines.iter().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(of.len(), 1, "one line about {n}:\n{err}");
        of[0].to_string()
    };
    let gateway = line_of("gateway");
    assert!(
        gateway.starts_with("tokdash: gateway: refresh failed")
            && gateway.contains("HTTP 502 Bad Gateway with a text/html body"),
        "{gateway}"
    );
    assert_eq!(
        line_of("dead"),
        "tokdash: dead: refresh refused (HTTP 400, invalid_grant: Refresh token expired); run: tokdash login dead"
    );
    assert!(
        !err.contains("good"),
        "no stderr line for the profile that succeeded:\n{err}"
    );
    // stdout reports the success, and only it.
    let reported: Vec<&str> = stdout.lines().collect();
    assert_eq!(reported.len(), 1, "{stdout}");
    assert!(
        reported[0].starts_with("good: refreshed; new refresh token stored"),
        "{stdout}"
    );
    for text in [&*err, &*stdout, &w.log_text()] {
        assert!(!text.contains(MARKER), "a body was echoed:\n{text}");
    }

    let good = w.record("good").unwrap();
    assert_eq!(good["access_token"], "AT-good-new");
    assert_eq!(good["refresh_token"], "RT-good-new");
    for n in ["gateway", "dead"] {
        let record = w.record(n).unwrap();
        assert_eq!(record["refresh_token"], format!("RT-{n}-old"), "{record}");
        assert_eq!(record["access_token"], format!("AT-{n}-old"), "{record}");
    }
    let list = w.cmd(&["list", "--json"]).output().unwrap();
    let list: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
    let summary = |n: &str| list.iter().find(|p| p["name"] == n).unwrap().clone();
    assert_eq!(summary("good")["status"], "valid");
    assert_eq!(summary("good")["last_error"], Value::Null);
    assert_eq!(summary("gateway")["status"], "error");
    assert_eq!(summary("dead")["status"], "needs_login");
    for n in ["gateway", "dead"] {
        assert!(summary(n)["last_error"].is_string(), "{:?}", summary(n));
    }
}

// ---------------------------------------------------------------------------------------------

/// Profile `s` of the secrets tests: an oauth2 client `client_id` of `uri` with
/// `client_secret_basic`, and its other endpoints (`*_url` lines).
fn secrets_config(client_id: &str, uri: &str, endpoints: &str) -> String {
    format!(
        r#"
[profiles.s]
provider = "oauth2"
client_id = "{client_id}"
client_secret_env = "{SECRET_VAR}"
auth_method = "client_secret_basic"
token_url = "{uri}/token"
{endpoints}
"#
    )
}

/// A world with the [`secrets_config`] profile of `client_id` at `server`; `endpoints` gives its
/// `*_url` lines from the server's URI.
fn secrets_world(
    server: &MockServer,
    client_id: &str,
    endpoints: impl FnOnce(&str) -> String,
) -> World {
    let uri = server.uri();
    World::new(&secrets_config(client_id, &uri, &endpoints(&uri)))
}

/// The base64 `client_id:secret` of a Basic header: one more thing that must not leak.
fn basic_credentials(client_id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
}

/// Runs the steps of a secrets test with the client secret set, and gathers what a user could
/// see of them.
struct Seen<'w> {
    w: &'w World,
    client_secret: &'static str,
    text: String,
}

impl<'w> Seen<'w> {
    fn new(w: &'w World, client_secret: &'static str) -> Self {
        Seen {
            w,
            client_secret,
            text: String::new(),
        }
    }

    /// Runs tokdash with `args` (and `stdin`), which must exit with `code`; keeps its stderr, and
    /// its stdout when `keep_stdout` (not a token's).
    fn step(
        &mut self,
        args: &[&str],
        stdin: Option<String>,
        code: i32,
        keep_stdout: bool,
    ) -> Output {
        let mut cmd = self.w.cmd_with_secret(args, SECRET_VAR, self.client_secret);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        if keep_stdout {
            self.text.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        self.text.push_str(&stderr(&out));
        out
    }

    /// Adds `log` to what was seen, where none of `secrets` may be.
    fn assert_none_of<'s>(mut self, log: &str, secrets: impl IntoIterator<Item = &'s str>) {
        self.text.push_str(log);
        for secret in secrets {
            assert!(
                !self.text.contains(secret),
                "{secret} leaked:\n{}",
                self.text
            );
        }
    }
}

/// Known token values and a client secret go through import, refresh (with rotation), list,
/// token, check, refresh and revoke failures, all at TOKDASH_LOG=trace: none of them may appear
/// on stdout (but for `token`'s), on stderr or in the log.
/// A token endpoint's 200 with every secret a token response can carry (access, refresh and
/// ID token), so a leak test sees each of them.
fn full_token_set(at: &str, rt: &str, id: &str) -> ResponseTemplate {
    json(
        200,
        json!({
            "access_token": at, "refresh_token": rt, "id_token": id,
            "expires_in": 3600, "token_type": "Bearer"
        }),
    )
}

#[tokio::test]
async fn secrets_never_reach_stdout_stderr_or_the_log() {
    const CLIENT_SECRET: &str = "CS-q7-client-secret";
    let tokens = [
        "AT-q7-one",
        "RT-q7-one",
        "ID-q7-one",
        "AT-q7-two",
        "RT-q7-two",
        "ID-q7-two",
    ];
    let basic = basic_credentials("q7-client", CLIENT_SECRET);

    let server = server().await;
    mount(
        &server,
        post("/token").and(body_string_contains("refresh_token=RT-q7-one")),
        full_token_set("AT-q7-two", "RT-q7-two", "ID-q7-two"),
        1,
    )
    .await;
    mount(
        &server,
        post("/token").and(body_string_contains("refresh_token=RT-q7-two")),
        json(
            401,
            json!({
                "error": "invalid_client", "error_description": "Client authentication failed"
            }),
        ),
        ..,
    )
    .await;
    get_answers(&server, "/userinfo", ResponseTemplate::new(401), ..).await;
    post_answers(
        &server,
        "/revoke",
        json(503, json!({"error": "temporarily_unavailable"})),
        ..,
    )
    .await;
    let w = secrets_world(&server, "q7-client", |uri| {
        format!("revocation_url = \"{uri}/revoke\"\nuserinfo_url = \"{uri}/userinfo\"")
    });

    let mut seen = Seen::new(&w, CLIENT_SECRET);
    let import = json!({"access_token": "AT-q7-one", "refresh_token": "RT-q7-one", "id_token": "ID-q7-one", "expires_in": 0});
    seen.step(&["import", "s"], Some(import.to_string()), 0, true);
    seen.step(&["list"], None, 0, true);
    seen.step(&["refresh", "s", "--json"], None, 0, true);
    seen.step(&["list", "--json"], None, 0, true);
    let token = seen.step(&["token", "s"], None, 0, false);
    assert_eq!(String::from_utf8_lossy(&token.stdout), "AT-q7-two\n");
    // userinfo 401 → one refresh → invalid_client: check fails.
    seen.step(&["check", "s"], None, 1, true);
    seen.step(&["refresh", "s"], None, 1, true);
    seen.step(&["revoke", "s", "--yes"], None, 1, true);
    seen.step(&["config", "check"], None, 0, true);

    let log = w.log_text();
    assert!(
        log.contains("refresh failed"),
        "the log records the failures: {log}"
    );
    seen.assert_none_of(
        &log,
        tokens
            .iter()
            .copied()
            .chain([CLIENT_SECRET, basic.as_str()]),
    );
    assert_eq!(w.record("s").unwrap()["refresh_token"], "RT-q7-two");
}

/// The sibling of the test above for what succeeds there only in part: a device `login` (one
/// `authorization_pending`, then tokens) and a successful `revoke --yes` of both tokens, with
/// known token values, device code and client secret, at TOKDASH_LOG=trace. None of them may
/// appear on stdout (but for `token`'s), on stderr or in the log.
#[tokio::test]
async fn secrets_never_leak_from_a_successful_login_or_revoke() {
    const CLIENT_SECRET: &str = "CS-q8-client-secret";
    const DEVICE_CODE: &str = "DC-q8-device-code";
    let tokens = ["AT-q8-one", "RT-q8-one", "ID-q8-one"];
    let basic = basic_credentials("q8-client", CLIENT_SECRET);

    let server = server().await;
    post_answers(
        &server,
        "/device",
        json(
            200,
            json!({
                "device_code": DEVICE_CODE, "user_code": "Q8-USER",
                "verification_uri": "https://idp.example/device", "expires_in": 600, "interval": 1
            }),
        ),
        1,
    )
    .await;
    post_answers_once(
        &server,
        "/token",
        json(400, json!({"error": "authorization_pending"})),
    )
    .await;
    post_answers(
        &server,
        "/token",
        full_token_set("AT-q8-one", "RT-q8-one", "ID-q8-one"),
        1,
    )
    .await;
    post_answers(&server, "/revoke", ResponseTemplate::new(200), 2).await;
    let w = secrets_world(&server, "q8-client", |uri| {
        format!("device_authorization_url = \"{uri}/device\"\nrevocation_url = \"{uri}/revoke\"")
    });

    let mut seen = Seen::new(&w, CLIENT_SECRET);
    let login = seen.step(&["login", "s"], None, 0, true);
    assert!(
        String::from_utf8_lossy(&login.stdout).contains("Q8-USER"),
        "the user code is shown"
    );
    seen.step(&["list"], None, 0, true);
    seen.step(&["list", "--json"], None, 0, true);
    let token = seen.step(&["token", "s"], None, 0, false);
    assert_eq!(String::from_utf8_lossy(&token.stdout), "AT-q8-one\n");
    let revoke = seen.step(&["revoke", "s", "--yes"], None, 0, true);
    assert_eq!(
        String::from_utf8_lossy(&revoke.stdout),
        "s: revoked (refresh_token, access_token)\n"
    );
    seen.step(&["list", "--json"], None, 0, true);

    // The values did travel: the polls carried the device code, the revocations both tokens,
    // every request the Basic header.
    let requests = server.received_requests().await.unwrap();
    let form = |r: &wiremock::Request| -> Vec<(String, String)> {
        url::form_urlencoded::parse(&r.body).into_owned().collect()
    };
    let polls: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/token")
        .collect();
    assert_eq!(polls.len(), 2);
    assert!(
        polls
            .iter()
            .all(|r| form(r).contains(&("device_code".into(), DEVICE_CODE.into())))
    );
    let revoked: Vec<String> = requests
        .iter()
        .filter(|r| r.url.path() == "/revoke")
        .flat_map(|r| form(r).into_iter().filter(|(k, _)| k == "token"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(revoked, ["RT-q8-one", "AT-q8-one"]);
    for r in &requests {
        assert_eq!(
            r.headers.get("authorization").map(|v| v.to_str().unwrap()),
            Some(format!("Basic {basic}").as_str()),
            "{}",
            r.url
        );
    }
    let record = w.record("s").unwrap();
    assert_eq!(record["refresh_token"], Value::Null, "{record}");
    assert_eq!(record["access_token"], Value::Null, "{record}");

    let log = w.log_text();
    assert!(
        log.contains("logged in") && log.contains("revoked"),
        "the log records both: {log}"
    );
    seen.assert_none_of(
        &log,
        tokens
            .iter()
            .copied()
            .chain([DEVICE_CODE, CLIENT_SECRET, basic.as_str()]),
    );
}
