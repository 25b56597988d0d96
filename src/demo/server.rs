//! The demo's token server: a small OAuth 2.0 / OIDC server on a random loopback port, in the
//! same process, spoken to over real HTTP by the same engine as any provider. Each client id
//! behaves differently so that every status shows up within a minute:
//!
//! | client id  | behaviour                                                         |
//! |------------|-------------------------------------------------------------------|
//! | `rotating` | rotates the refresh token on every refresh (discovered by OIDC)   |
//! | `steady`   | never rotates, like Google                                        |
//! | `flaky`    | answers 503 `temporarily_unavailable` in runs of three requests   |
//! | `login`    | device flow; approves the code by itself a few seconds after      |
//! | `robot`    | client credentials                                                |
//!
//! It is a demo, not a test double: tests use the real `oidc-provider`.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Access token lifetime per client, seconds.
fn lifetime(client: &str) -> i64 {
    match client {
        "rotating" => 40,
        "steady" => 75,
        "flaky" => 50,
        "robot" => 60,
        _ => 90,
    }
}

/// How long after the device code is issued the demo "user" approves it.
pub const AUTO_APPROVE_AFTER: Duration = Duration::from_secs(4);

#[derive(Default)]
struct ServerState {
    /// Live refresh tokens → client id.
    refresh_tokens: HashMap<String, String>,
    /// Device codes → (client id, unix seconds when approved).
    device_codes: HashMap<String, (String, i64)>,
    /// Requests seen per client, to make `flaky` fail every other time.
    counter: HashMap<String, u64>,
    serial: u64,
}

impl ServerState {
    fn token(&mut self, prefix: &str) -> String {
        self.serial += 1;
        format!("{prefix}-{}-{:08x}", self.serial, rand::random::<u32>())
    }
}

pub struct DemoServer {
    pub base_url: String,
    state: Arc<Mutex<ServerState>>,
}

impl DemoServer {
    /// Binds a random loopback port and serves in the background of the current runtime.
    pub async fn start() -> std::io::Result<DemoServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(ServerState::default()));
        let server = DemoServer {
            base_url: base_url.clone(),
            state: state.clone(),
        };
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                let base = base_url.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), base.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(server)
    }

    /// Issues a refresh token as if the user had logged in before the demo started.
    pub fn seed_refresh_token(&self, client: &str) -> String {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let rt = s.token(&format!("{client}-rt"));
        s.refresh_tokens.insert(rt.clone(), client.to_string());
        rt
    }
}

type Reply = Response<Full<Bytes>>;

fn json_reply(status: StatusCode, body: Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        json!({"error": error, "error_description": description}),
    )
}

async fn handle(
    state: Arc<Mutex<ServerState>>,
    base: String,
    req: Request<Incoming>,
) -> Result<Reply, hyper::Error> {
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await?.to_bytes();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let now = crate::clock::now();
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    let reply = match (parts.method, parts.uri.path()) {
        (Method::GET, "/.well-known/openid-configuration") => json_reply(
            StatusCode::OK,
            json!({
                "issuer": base,
                "token_endpoint": format!("{base}/token"),
                "revocation_endpoint": format!("{base}/revoke"),
                "device_authorization_endpoint": format!("{base}/device"),
                "userinfo_endpoint": format!("{base}/userinfo"),
            }),
        ),
        (Method::POST, "/device") => {
            let client = form.get("client_id").cloned().unwrap_or_default();
            let device_code = s.token("device");
            let user_code = format!(
                "{:04X}-{:04X}",
                rand::random::<u16>(),
                rand::random::<u16>()
            );
            s.device_codes.insert(
                device_code.clone(),
                (client, now + AUTO_APPROVE_AFTER.as_secs() as i64),
            );
            json_reply(
                StatusCode::OK,
                json!({
                    "device_code": device_code,
                    "user_code": user_code,
                    "verification_uri": format!("{base}/activate"),
                    "verification_uri_complete": format!("{base}/activate?user_code={user_code}"),
                    "expires_in": 300,
                    "interval": 1,
                }),
            )
        }
        (Method::POST, "/token") => token(&mut s, &form, now),
        (Method::POST, "/revoke") => {
            if let Some(t) = form.get("token") {
                s.refresh_tokens.remove(t);
            }
            json_reply(StatusCode::OK, json!({}))
        }
        (Method::GET, "/userinfo") => json_reply(StatusCode::OK, json!({"sub": "demo-user"})),
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found")))
            .unwrap_or_default(),
    };
    Ok(reply)
}

fn token(s: &mut ServerState, form: &HashMap<String, String>, now: i64) -> Reply {
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    let issue = |s: &mut ServerState, client: &str, refresh: Option<String>| {
        let mut body = json!({
            "access_token": s.token(&format!("{client}-at")),
            "token_type": "Bearer",
            "expires_in": lifetime(client),
            "scope": "openid offline_access",
        });
        if let Some(rt) = refresh {
            body["refresh_token"] = Value::String(rt);
        }
        json_reply(StatusCode::OK, body)
    };
    match grant {
        "refresh_token" => {
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(client) = s.refresh_tokens.get(&rt).cloned() else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown, expired or revoked refresh token",
                );
            };
            let n = s.counter.entry(client.clone()).or_default();
            let seen = *n;
            *n += 1;
            // Three failures in a row outlast the engine's retries, then three successes.
            if client == "flaky" && (seen / 3).is_multiple_of(2) {
                return oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the demo server is having a bad moment",
                );
            }
            let new_rt = (client == "rotating").then(|| {
                s.refresh_tokens.remove(&rt);
                let new = s.token("rotating-rt");
                s.refresh_tokens.insert(new.clone(), client.clone());
                new
            });
            issue(s, &client, new_rt)
        }
        "client_credentials" => {
            let client = form.get("client_id").cloned().unwrap_or_default();
            issue(s, &client, None)
        }
        crate::oauth::device::DEVICE_CODE_GRANT => {
            let code = form.get("device_code").cloned().unwrap_or_default();
            match s.device_codes.get(&code).cloned() {
                None => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "expired_token",
                    "unknown device code",
                ),
                Some((_, approved_at)) if now < approved_at => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "authorization_pending",
                    "waiting for the demo user",
                ),
                Some((client, _)) => {
                    s.device_codes.remove(&code);
                    let rt = s.token(&format!("{client}-rt"));
                    s.refresh_tokens.insert(rt.clone(), client.clone());
                    issue(s, &client, Some(rt))
                }
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "the demo server does not do that",
        ),
    }
}
