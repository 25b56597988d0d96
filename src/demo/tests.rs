//! The demo server over real HTTP: the browser login's server side (authorize, code, PKCE), the
//! providers' answer shapes, and the demo config that points the real providers at it.

use super::{DemoServer, Shape, config_text};
use crate::config::{Config, ProviderKind};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gXk-urFiw";
const CHALLENGE: &str = "F8MtTZn259QzDx9os9PLnJksXr9Y03VhrRSAgRynrLU";
const REDIRECT: &str = "http://127.0.0.1:43117/callback";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

async fn post(url: String, form: &[(&str, &str)]) -> (u16, Value) {
    let r = client().post(url).form(form).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn claims(token: &Value) -> serde_json::Map<String, Value> {
    crate::jwt::decode(token.as_str().expect("a token"))
        .expect("a JWT")
        .1
}

/// GET the authorization endpoint; the `Location` it redirects to, parsed.
async fn authorize(url: String, pairs: &[(&str, &str)]) -> (u16, HashMap<String, String>) {
    let r = client().get(url).query(pairs).send().await.unwrap();
    let status = r.status().as_u16();
    let query = r
        .headers()
        .get("location")
        .map(|l| {
            let l = url::Url::parse(l.to_str().unwrap()).unwrap();
            assert_eq!(l.path(), "/callback", "back to the redirect_uri");
            l.query_pairs().into_owned().collect()
        })
        .unwrap_or_default();
    (status, query)
}

fn login_request<'a>(state: &'a str, nonce: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", "browser"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid offline_access email"),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

#[tokio::test]
async fn a_browser_login_is_approved_at_once_and_its_code_redeems_once_with_pkce() {
    let server = DemoServer::start().await.unwrap();
    let base = &server.base_url;
    let (status, back) =
        authorize(format!("{base}/authorize"), &login_request("st-1", "n-1")).await;
    assert_eq!(status, 302);
    assert_eq!(back["state"], "st-1");
    assert_eq!(back["iss"], *base, "RFC 9207 iss is the issuer");
    let code = back["code"].clone();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", "browser"),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = post(format!("{base}/token"), &redeem).await;
    assert_eq!(status, 200, "{body}");
    let id = claims(&body["id_token"]);
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["aud"], "browser");
    assert_eq!(id["iss"], *base);
    assert!(claims(&body["access_token"])["exp"].as_i64().is_some());
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    let (status, again) = post(format!("{base}/token"), &redeem).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let (status, refreshed) = post(
        format!("{base}/token"),
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(
        status, 200,
        "the stored refresh token refreshes: {refreshed}"
    );
}

#[tokio::test]
async fn a_code_needs_its_verifier_and_its_redirect_uri() {
    let server = DemoServer::start().await.unwrap();
    let base = &server.base_url;
    for (verifier, redirect, error) in [
        (
            Some("wrong-verifier-wrong-verifier-wrong-verifier-1"),
            REDIRECT,
            "invalid_grant",
        ),
        (None, REDIRECT, "invalid_grant"),
        (
            Some(VERIFIER),
            "http://127.0.0.1:43117/other",
            "invalid_grant",
        ),
    ] {
        let (_, back) = authorize(format!("{base}/authorize"), &login_request("s", "n")).await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", back["code"].as_str()),
            ("redirect_uri", redirect),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let (status, body) = post(format!("{base}/token"), &form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{form:?}"
        );
        assert!(body.get("access_token").is_none());
    }
}

#[tokio::test]
async fn authorize_refuses_what_it_cannot_redirect_and_redirects_other_errors() {
    let server = DemoServer::start().await.unwrap();
    let base = &server.base_url;
    // Never a redirect to a host that is not loopback (RFC 6749 §4.1.2.1).
    let mut request = login_request("s", "n");
    request[2] = ("redirect_uri", "https://attacker.example/callback");
    let (status, back) = authorize(format!("{base}/authorize"), &request).await;
    assert_eq!((status, back.is_empty()), (400, true));
    // PKCE is required: the error goes back to the client, with its state.
    let request: Vec<_> = login_request("s-2", "n")
        .into_iter()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    let (status, back) = authorize(format!("{base}/authorize"), &request).await;
    assert_eq!(status, 302);
    assert_eq!(back["error"], "invalid_request");
    assert_eq!(back["state"], "s-2");
    assert!(!back.contains_key("code"));
}

#[tokio::test]
async fn discovery_advertises_the_browser_login() {
    let server = DemoServer::start().await.unwrap();
    let base = &server.base_url;
    let r = client()
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(doc["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["code_challenge_methods_supported"][0], "S256");
}

#[tokio::test]
async fn google_shape_never_rotates_and_sends_an_id_token() {
    let server = DemoServer::start().await.unwrap();
    let base = &server.base_url;
    let seeded = server.seed(Shape::Google, "g.apps.googleusercontent.com", 50, true);
    let rt = seeded.refresh_token.unwrap();
    let url = format!("{base}/google/token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let (status, body) = post(url.clone(), &form).await;
    assert_eq!(status, 200);
    assert!(
        body.get("refresh_token").is_none(),
        "Google does not rotate"
    );
    assert!(body["scope"].as_str().unwrap().contains("cloud-platform"));
    assert_eq!(claims(&body["id_token"])["email"], "ops@example.com");
    assert_eq!(
        post(url.clone(), &form).await.0,
        200,
        "the same token again"
    );
    // Revocation in Google's shape: token in the query, 400 invalid_token once it is gone.
    let revoke = || {
        client()
            .post(format!("{base}/google/revoke"))
            .query(&[("token", rt.as_str())])
            .send()
    };
    assert_eq!(revoke().await.unwrap().status().as_u16(), 200);
    assert_eq!(revoke().await.unwrap().status().as_u16(), 400);
    let (status, dead) = post(url, &form).await;
    assert_eq!(
        (status, dead["error_description"].as_str()),
        (400, Some("Token has been expired or revoked."))
    );
}

#[tokio::test]
async fn microsoft_shape_rotates_every_time_and_keeps_the_old_token_working() {
    let server = DemoServer::start().await.unwrap();
    let base = &server.base_url;
    let seeded = server.seed(Shape::Microsoft, "ms-client", 70, true);
    let access = claims(&Value::String(seeded.access_token));
    assert_eq!(access["scp"], "User.Read profile openid email");
    assert!(access.contains_key("tid"));
    let rt = seeded.refresh_token.unwrap();
    let url = format!("{base}/contoso.onmicrosoft.com/oauth2/v2.0/token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let (status, body) = post(url.clone(), &form).await;
    assert_eq!(status, 200);
    assert_ne!(body["refresh_token"].as_str().unwrap(), rt);
    assert_eq!(body["ext_expires_in"], body["expires_in"]);
    assert!(!body["scope"].as_str().unwrap().contains("offline_access"));
    assert_eq!(
        post(url.clone(), &form).await.0,
        200,
        "the old one still works"
    );
    let (status, dead) = post(
        url,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "0.AXoA-nope"),
        ],
    )
    .await;
    assert_eq!(
        (status, dead["error_codes"][0].as_i64()),
        (400, Some(70008))
    );
}

#[tokio::test]
async fn auth0_shape_rotates_and_a_reused_token_ends_the_family() {
    let server = DemoServer::start().await.unwrap();
    let base = &server.base_url;
    let seeded = server.seed(Shape::Auth0, "a0-client", 30, true);
    let aud = &claims(&Value::String(seeded.access_token))["aud"];
    assert_eq!(aud[0], super::shape::AUTH0_AUDIENCE);
    let first = seeded.refresh_token.unwrap();
    let url = format!("{base}/auth0/oauth/token");
    let refresh = |rt: String| {
        let url = url.clone();
        async move {
            post(
                url,
                &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
            )
            .await
        }
    };
    let (status, body) = refresh(first.clone()).await;
    assert_eq!(status, 200);
    let second = body["refresh_token"].as_str().unwrap().to_string();
    let (status, reused) = refresh(first).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    assert_eq!(refresh(second).await.0, 403, "the family is gone");
}

#[tokio::test]
async fn userinfo_answers_live_tokens_of_this_server_only() {
    let server = DemoServer::start().await.unwrap();
    let base = &server.base_url;
    let live = server.seed(Shape::Google, "g", 50, false).access_token;
    let expired = server.seed(Shape::Google, "g", -5, false).access_token;
    for (token, want) in [
        (live.as_str(), 200),
        (expired.as_str(), 401),
        ("opaque", 401),
    ] {
        let r = client()
            .get(format!("{base}/google/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
    }
}

#[test]
fn the_demo_config_points_every_provider_at_the_demo_server() {
    let base = "http://127.0.0.1:40000";
    let config = Config::parse(Path::new("demo.toml"), &config_text(base)).unwrap();
    for (name, kind) in [
        ("demo-google", ProviderKind::Google),
        ("demo-entra", ProviderKind::Microsoft),
        ("demo-auth0", ProviderKind::Auth0),
    ] {
        let profile = config.profile(name).unwrap();
        assert_eq!(profile.provider.kind(), kind);
        let e = crate::provider::static_endpoints(profile).unwrap();
        let urls = [
            Some(&e.token_url),
            e.revocation_url.as_ref(),
            e.device_authorization_url.as_ref(),
            e.userinfo_url.as_ref(),
        ];
        for url in urls.into_iter().flatten() {
            assert!(url.starts_with(base), "{name}: {url} stays on loopback");
        }
    }
}

#[test]
fn the_demo_has_a_browser_login_profile_on_its_own_server() {
    let base = "http://127.0.0.1:40000";
    let config = Config::parse(Path::new("demo.toml"), &config_text(base)).unwrap();
    let profile = config.profile("demo-browser").unwrap();
    assert_eq!(profile.login, Some(crate::config::LoginMethod::Browser));
    assert_eq!(profile.client_id, "browser");
}
