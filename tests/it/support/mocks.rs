//! Mounting helpers for the tests against mock authorization servers (wiremock): what a request
//! looks like, what it is answered, and how many times it must come.
//!
//! `times` is anything wiremock's `expect` takes: `1`, `MAX_ATTEMPTS as u64`, or `..` for "any
//! number, none expected" (what a mock without `expect` means).

use crate::support::succeeded;
use crate::support::world::World;
use std::collections::HashMap;
use std::process::Output;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate, Times};

/// The variable the mock modules' profiles name in `client_secret_env`.
pub const SECRET_VAR: &str = "TOKDASH_MOCK_CLIENT_SECRET";

/// Runs tokdash with a client secret in [`SECRET_VAR`]. Each module has a secret of its own,
/// which its tests look for in requests (and must not find where it must not leak).
pub struct WithSecret(pub &'static str);

impl WithSecret {
    /// tokdash `args` in `w`; its output.
    pub fn run(&self, w: &World, args: &[&str]) -> Output {
        w.output_with_secret(args, SECRET_VAR, self.0)
    }

    /// [`run`](Self::run), which must succeed.
    #[track_caller]
    pub fn run_ok(&self, w: &World, args: &[&str]) -> Output {
        succeeded(args, self.run(w, args))
    }
}

/// Profile `name` of Google with every endpoint at the mock `uri`, its secret in [`SECRET_VAR`].
pub fn google_profile(name: &str, uri: &str) -> String {
    format!(
        r#"
[profiles.{name}]
provider = "google"
client_id = "1234.apps.googleusercontent.com"
client_secret_env = "{SECRET_VAR}"
scopes = ["openid", "email"]
token_url = "{uri}/token"
revocation_url = "{uri}/revoke"
userinfo_url = "{uri}/userinfo"
"#
    )
}

/// Profile `name` of Microsoft (the `contoso` tenant, Graph's `User.Read`) with `extra` lines,
/// no client secret: what the Microsoft tests share, whether or not they talk to a mock.
pub fn microsoft_profile(name: &str, extra: &str) -> String {
    format!(
        r#"
[profiles.{name}]
provider = "microsoft"
scopes = ["https://graph.microsoft.com/User.Read"]
tenant = "contoso.onmicrosoft.com"
client_id = "11111111-2222-3333-4444-555555555555"
{extra}
"#
    )
}

/// A server of its own (its own port), not one from wiremock's shared pool.
pub async fn server() -> MockServer {
    MockServer::builder().start().await
}

/// `POST at`; add matchers with `.and(…)`.
pub fn post(at: &str) -> MockBuilder {
    Mock::given(method("POST")).and(path(at))
}

/// `GET at`; add matchers with `.and(…)`.
pub fn get(at: &str) -> MockBuilder {
    Mock::given(method("GET")).and(path(at))
}

/// A POST to any path.
pub fn any_post() -> MockBuilder {
    Mock::given(method("POST"))
}

/// Mounts `request` answered with `response`, which must come `times` times.
pub async fn mount(
    server: &MockServer,
    request: MockBuilder,
    response: ResponseTemplate,
    times: impl Into<Times>,
) {
    request
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

/// `POST at` answers `response`, and must come `times` times.
pub async fn post_answers(
    server: &MockServer,
    at: &str,
    response: ResponseTemplate,
    times: impl Into<Times>,
) {
    mount(server, post(at), response, times).await;
}

/// `POST at` answers `response` the first time only, and must come (at least) that once: later
/// requests go to the mocks mounted after it.
pub async fn post_answers_once(server: &MockServer, at: &str, response: ResponseTemplate) {
    post(at)
        .respond_with(response)
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

/// `GET at` answers `response`, and must come `times` times.
pub async fn get_answers<T>(server: &MockServer, at: &str, response: ResponseTemplate, times: T)
where
    T: Into<Times>,
{
    mount(server, get(at), response, times).await;
}

/// `GET at` with `Authorization: Bearer <token>` answers `response`, and must come `times` times.
pub async fn get_with_bearer_answers(
    server: &MockServer,
    at: &str,
    token: &str,
    response: ResponseTemplate,
    times: impl Into<Times>,
) {
    let request = get(at).and(header("authorization", format!("Bearer {token}").as_str()));
    mount(server, request, response, times).await;
}

/// An answer with `status` and `body` as JSON (`content-type: application/json`).
pub fn json(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// The requests the server received at path `at`, in order.
pub async fn requests_to(server: &MockServer, at: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .into_iter()
        .filter(|r| r.url.path() == at)
        .collect()
}

/// The form parameters of a request body.
pub fn form(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect()
}
