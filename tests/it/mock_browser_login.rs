//! The browser login's provider shapes against mock servers (providers.md §6): each provider's
//! authorization URL parameters, Google's code decoded exactly once and its required secret, and
//! the code-exchange errors each provider answers. The device flow refused for the client type
//! says to use the browser login.

use crate::browser_login::{param, start};
use crate::support::mocks::{SECRET_VAR, WithSecret, post, server};
use crate::support::stderr;
use crate::support::world::World;
use serde_json::json;
use wiremock::matchers::body_string_contains;
use wiremock::{MockServer, ResponseTemplate};

const SECRET: &str = "cs-browser-mock-secret";
const ENVS: [(&str, &str); 1] = [(SECRET_VAR, SECRET)];

fn google(uri: &str) -> String {
    format!(
        "[profiles.p]\nprovider = \"google\"\nclient_id = \"1234.apps.googleusercontent.com\"\nclient_secret_env = \"{SECRET_VAR}\"\nscopes = [\"openid\", \"email\"]\ntoken_url = \"{uri}/token\"\ndevice_authorization_url = \"{uri}/device/code\"\n"
    )
}

fn microsoft(uri: &str) -> String {
    format!(
        "[profiles.p]\nprovider = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"11111111-2222-3333-4444-555555555555\"\nscopes = [\"https://graph.microsoft.com/User.Read\"]\ntoken_url = \"{uri}/token\"\n"
    )
}

fn auth0(uri: &str) -> String {
    format!(
        "[profiles.p]\nprovider = \"auth0\"\ndomain = \"example.eu.auth0.com\"\naudience = \"https://api.example.com\"\nclient_id = \"a0client\"\nscopes = [\"openid\", \"offline_access\"]\ntoken_url = \"{uri}/oauth/token\"\nredirect_uri = \"http://127.0.0.1:0/callback\"\n"
    )
}

/// The query of a browser login's URL as pairs.
fn pairs(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[test]
fn each_providers_authorization_url_carries_its_parameters() {
    let uri = "http://127.0.0.1:9";
    // Google: its endpoint, access_type=offline and prompt=consent, the path `/`.
    let w = World::new(&google(uri));
    let run = start(&w, &["--browser"], &ENVS);
    let q = pairs(&run.url);
    assert!(
        run.url
            .starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
        "{}",
        run.url
    );
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["scope"], "openid email");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"));
    assert!(q["redirect_uri"].ends_with('/'));
    assert!(
        !q.contains_key("client_secret"),
        "the secret never goes to the browser"
    );
    run.kill();

    // Microsoft: the tenant's endpoint, offline_access in scope, localhost, no forced consent.
    let w = World::new(&microsoft(uri));
    let run = start(&w, &["--browser"], &[]);
    let q = pairs(&run.url);
    assert!(
        run.url.starts_with(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"
        ),
        "{}",
        run.url
    );
    assert_eq!(
        q["scope"],
        "offline_access https://graph.microsoft.com/User.Read"
    );
    assert!(q["redirect_uri"].starts_with("http://localhost:"), "{q:?}");
    assert!(q["redirect_uri"].ends_with("/callback"));
    assert!(!q.contains_key("prompt"));
    assert!(!q.contains_key("nonce"), "no openid, no nonce");
    run.kill();

    // Auth0: the domain's /authorize, audience, prompt=consent for OIDC offline_access, and a
    // redirect_uri with a port used as it is.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let w = World::new(&auth0(uri).replace(
        "127.0.0.1:0/callback",
        &format!("127.0.0.1:{port}/callback"),
    ));
    let run = start(&w, &["--browser"], &[]);
    let q = pairs(&run.url);
    assert!(
        run.url
            .starts_with("https://example.eu.auth0.com/authorize?"),
        "{}",
        run.url
    );
    assert_eq!(q["audience"], "https://api.example.com");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(
        q["redirect_uri"],
        format!("http://127.0.0.1:{port}/callback")
    );
    assert!(q.contains_key("nonce"));
    run.kill();
}

/// Google's codes hold `/`: the pasted address has it percent-encoded, and the exchange sends it
/// decoded once (form-encoded again on the wire), with the verifier, the same redirect_uri and
/// the Desktop client's required secret. Google's unadvertised `iss` is accepted when right.
#[tokio::test]
async fn google_exchange_sends_the_code_decoded_once_with_verifier_and_secret() {
    let mock = server().await;
    let w = World::new(&google(&mock.uri()));
    let mut run = start(&w, &["--browser"], &ENVS);
    let q = pairs(&run.url);
    let verifier_check = post("/token")
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=4%2F0Aci98E-tgsS7a"))
        .and(body_string_contains("code_verifier="))
        .and(body_string_contains(
            format!("client_secret={SECRET}").as_str(),
        ))
        .and(body_string_contains(
            format!(
                "redirect_uri={}",
                url::form_urlencoded::byte_serialize(q["redirect_uri"].as_bytes())
                    .collect::<String>()
            )
            .as_str(),
        ));
    verifier_check
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ya29.mock", "expires_in": 3599, "token_type": "Bearer",
            "scope": "openid email", "refresh_token": "1//mock-rt"
        })))
        .expect(1)
        .mount(&mock)
        .await;
    run.paste(&format!(
        "{}?iss=https%3A%2F%2Faccounts.google.com&code=4%2F0Aci98E-tgsS7a&scope=email+openid&authuser=1&prompt=consent&state={}",
        q["redirect_uri"], q["state"]
    ));
    let (code, out, err) = run.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("with a refresh token"), "{out}");
    assert_eq!(w.stored("p", "refresh_token"), "1//mock-rt");
}

/// Each provider's code-exchange refusals (providers.md 6.1.4, 6.2.4, 6.3.4): exit 1, the
/// provider's own words on one line, nothing stored.
#[tokio::test]
async fn code_exchange_errors_of_each_provider_exit_1_and_store_nothing() {
    type Case = (
        fn(&str) -> String,
        &'static str,
        u16,
        serde_json::Value,
        &'static str,
    );
    let cases: [Case; 5] = [
        (
            google,
            "/token",
            400,
            json!({"error":"invalid_grant","error_description":"Bad Request"}),
            "invalid_grant: Bad Request",
        ),
        (
            google,
            "/token",
            400,
            json!({"error":"invalid_request","error_description":"client_secret is missing."}),
            "invalid_request: client_secret is missing.",
        ),
        (
            microsoft,
            "/token",
            400,
            json!({"error":"invalid_grant","error_description":"AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.\r\nTrace ID: 1","error_codes":[54005]}),
            "AADSTS54005: OAuth2 Authorization code was already redeemed",
        ),
        (
            microsoft,
            "/token",
            401,
            json!({"error":"invalid_client","error_description":"AADSTS700025: Client is public so neither 'client_assertion' nor 'client_secret' should be presented.","error_codes":[700025]}),
            "invalid_client: AADSTS700025",
        ),
        (
            auth0,
            "/oauth/token",
            403,
            json!({"error":"invalid_grant","error_description":"Invalid authorization code"}),
            "(HTTP 403, invalid_grant: Invalid authorization code)",
        ),
    ];
    for (config, at, status, body, expected) in cases {
        let mock: MockServer = server().await;
        let text = config(&mock.uri()).replace("127.0.0.1:0/callback", "127.0.0.1/callback");
        let w = World::new(&text);
        post(at)
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .expect(1)
            .mount(&mock)
            .await;
        let mut run = start(&w, &["--browser"], &ENVS);
        let redirect = param(&run.url, "redirect_uri").unwrap();
        let state = param(&run.url, "state").unwrap();
        run.paste(&format!("{redirect}?code=some-code&state={state}"));
        let (code, _, err) = run.finish();
        assert_eq!(code, Some(1), "{expected}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("tokdash: p: code exchange refused"),
            "{err}"
        );
        assert!(err.contains(expected), "{expected} not in {err}");
        assert!(w.record("p").is_none(), "nothing stored");
    }
}

/// Google refuses the device flow to a Desktop client (providers.md 6.5): the hint says how to
/// log in instead.
#[tokio::test]
async fn a_device_flow_refused_for_the_client_type_hints_at_the_browser_login() {
    let mock = server().await;
    let w = World::new(&google(&mock.uri()));
    post("/device/code")
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "Only clients of type 'TVs and Limited Input devices' can use the OAuth 2.0 flow for TV and Limited-Input Device Applications. Please create and use an appropriate client."
        })))
        .expect(1)
        .mount(&mock)
        .await;
    let out = WithSecret(SECRET).run(&w, &["login", "p"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("set login = \"browser\" in profile p"),
        "{err}"
    );
}
