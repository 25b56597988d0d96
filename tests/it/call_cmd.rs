//! `tokdash call NAME URL …` (SPEC.md "Tokens where they are used"): against the real server's
//! userinfo endpoint (`/me`), and against wiremock for what the real one cannot be made to do (a
//! 401 to a request with a body, a redirect to another origin).

use crate::support::mocks::{json, post_answers};
use crate::support::oidc::{self, post_cmd};
use crate::support::world::World;
use crate::support::{stderr, succeeded};
use crate::token_use::{minted, server, stored_access_token};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The real server's userinfo endpoint, which answers a live access token with JSON.
fn userinfo_url() -> String {
    format!("{}/me", server().issuer)
}

/// `call p` on [`userinfo_url`], which must succeed; the JSON body it printed.
fn call_userinfo(w: &World) -> serde_json::Value {
    let url = userinfo_url();
    let args = ["call", "p", url.as_str()];
    let out = succeeded(&args, post_cmd(w, &args).output().unwrap());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn call_sends_the_token_and_prints_the_body() {
    let (w, _) = minted(&oidc::lifetime_client(300, ""));
    let body = call_userinfo(&w);
    assert!(body["sub"].is_string(), "{body}");

    let me = userinfo_url();
    let out = post_cmd(&w, &["call", "p", &me, "-i"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(body.contains("\"sub\""), "{body}");
}

/// An access token the server does not accept (it looks valid to us): one refresh, the same
/// request again, 200.
#[test]
fn a_401_refreshes_once_and_sends_again() {
    let client = oidc::own_client(oidc::POST_CLIENT);
    let (w, before) = minted(&client);
    let mut record = w.record("p").unwrap();
    record["access_token"] = json!("not-a-live-token");
    std::fs::write(w.store().join("p.json"), record.to_string()).unwrap();
    let body = call_userinfo(&w);
    assert!(body["sub"].is_string(), "{body}");
    assert_ne!(stored_access_token(&w), "not-a-live-token");
    assert_eq!(
        server().token_requests(&client).len() - before,
        1,
        "one refresh"
    );
    assert!(
        w.log_text()
            .contains("the API answered 401; refreshing once")
    );
}

fn oauth2(token_server: &MockServer) -> World {
    let w = World::new(&format!(
        "[profiles.p]\nprovider = \"oauth2\"\ntoken_url = \"{}/token\"\nclient_id = \"c\"\n",
        token_server.uri()
    ));
    w.import(
        "p",
        &json!({"access_token": "AT-1", "refresh_token": "RT", "expires_in": 3600}),
    );
    w
}

/// `-d @-`: stdin is read once and kept; after the 401 the same body goes again, with the new
/// token.
#[tokio::test]
async fn a_body_from_stdin_is_sent_twice_after_a_401() {
    let api = MockServer::start().await;
    post_answers(
        &api,
        "/token",
        json(200, json!({"access_token": "AT-2", "expires_in": 3600})),
        1,
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/things/1"))
        .and(header("authorization", "Bearer AT-1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&api)
        .await;
    Mock::given(method("PUT"))
        .and(path("/things/1"))
        .and(header("authorization", "Bearer AT-2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("stored"))
        .expect(1)
        .mount(&api)
        .await;
    let w = oauth2(&api);
    let url = format!("{}/things/1", api.uri());
    let out = w
        .cmd(&[
            "call",
            "p",
            &url,
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "-d",
            "@-",
        ])
        .write_stdin(r#"{"name": "one"}"#)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "stored");
    let puts: Vec<_> = api
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PUT")
        .collect();
    assert_eq!(puts.len(), 2);
    for put in &puts {
        assert_eq!(put.body, br#"{"name": "one"}"#, "the same body both times");
        assert_eq!(put.headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn a_non_2xx_answer_is_exit_1_with_the_status_on_stderr() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no such thing"))
        .expect(1)
        .mount(&api)
        .await;
    let w = oauth2(&api);
    let out = w
        .cmd(&["call", "p", &format!("{}/missing", api.uri())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "no such thing");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("answered HTTP 404 Not Found"), "{stderr}");
}

#[tokio::test]
async fn plain_http_to_a_host_that_is_not_loopback_is_refused() {
    let api = MockServer::start().await;
    let w = oauth2(&api);
    for url in ["http://api.example.com/v1/me", "http://10.0.0.1/v1/me"] {
        let out = w.cmd(&["call", "p", url]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{url}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("not loopback"), "{stderr}");
    }
    let out = w
        .cmd(&["call", "p", &api.uri(), "-H", "Authorization: Basic eA=="])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        api.received_requests().await.unwrap().is_empty(),
        "nothing sent"
    );
}

/// A redirect to another origin (another port) is the answer: printed, exit 1, and the other
/// origin never sees a request, let alone the token.
#[tokio::test]
async fn a_redirect_to_another_origin_never_carries_the_token() {
    let api = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    let landing = format!("{}/landing", elsewhere.uri());
    Mock::given(method("GET"))
        .and(path("/start"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", landing.as_str()))
        .expect(1)
        .mount(&api)
        .await;
    let w = oauth2(&api);
    let out = w
        .cmd(&["call", "p", &format!("{}/start", api.uri()), "-i"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("HTTP/1.1 302 Found\r\n"), "{stdout}");
    assert!(stdout.contains(&format!("location: {landing}")), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("302 Found") && stderr.contains(&landing),
        "{stderr}"
    );
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the other origin got nothing"
    );
}
