//! The demo's token server: a small OAuth 2.0 / OIDC server on a random loopback port, in the
//! same process, spoken to over real HTTP by the same engine as any provider.
//!
//! Its own endpoints (`/token`, `/device`, …, discovered at `/.well-known/openid-configuration`)
//! behave differently by client id, so that every status shows up within a minute:
//!
//! | client id  | behaviour                                                         |
//! |------------|-------------------------------------------------------------------|
//! | `rotating` | rotates the refresh token on every refresh (discovered by OIDC)   |
//! | `steady`   | never rotates                                                     |
//! | `flaky`    | answers 503 `temporarily_unavailable` in runs of three requests   |
//! | `login`    | device flow; approves the code by itself a few seconds after      |
//! | `robot`    | client credentials                                                |
//! | any other  | a browser login at `/authorize` (approved at once, PKCE S256)     |
//!
//! Under provider paths it answers like that provider (`shape.rs`): `/google/...`,
//! `/{tenant}/oauth2/v2.0/...` (Microsoft's own layout, so a `microsoft` profile only needs
//! `authority` pointed here) and `/auth0/...`. Every access and id token is a JWT (`jwt.rs`).
//!
//! It is a demo, not a test double: tests use the real `oidc-provider`.

use super::authorize::{self, Answer, PendingCode};
use super::jwt;
use super::shape::{self, Shape};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// How long after the device code is issued the demo "user" approves it.
pub const AUTO_APPROVE_AFTER: Duration = Duration::from_secs(4);

/// Requests are small forms; anything bigger is refused before it is read.
const MAX_BODY: usize = 64 * 1024;

/// Who a refresh token (or a pending device code) belongs to, and how its answers look.
#[derive(Debug, Clone)]
struct Grant {
    shape: Shape,
    client: String,
    /// Tokens rotated from one login share a family (Auth0's reuse detection ends them all).
    family: u64,
    /// The answers carry an id token.
    openid: bool,
}

#[derive(Default)]
struct ServerState {
    /// Live refresh tokens.
    refresh_tokens: HashMap<String, Grant>,
    /// Rotated-away refresh tokens → their family, for reuse detection.
    spent: HashMap<String, u64>,
    /// Device codes → (grant, unix seconds when approved).
    device_codes: HashMap<String, (Grant, i64)>,
    /// Authorization codes not yet redeemed.
    codes: HashMap<String, PendingCode>,
    /// Requests seen per client, to make `flaky` fail in runs.
    counter: HashMap<String, u64>,
    serial: u64,
}

impl ServerState {
    fn next(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn new_grant(&mut self, shape: Shape, client: &str, openid: bool) -> Grant {
        Grant {
            shape,
            client: client.to_string(),
            family: self.next(),
            openid,
        }
    }

    fn new_refresh_token(&mut self, grant: &Grant) -> String {
        let serial = self.next();
        let rt = grant.shape.refresh_token(&grant.client, serial);
        self.refresh_tokens.insert(rt.clone(), grant.clone());
        rt
    }
}

/// The tokens of a login made before the demo started, as `seed` stores them.
pub struct Seeded {
    pub access_token: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: String,
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

    /// Tokens as if the user had logged in before the demo started: an access token that
    /// expires in `expires_in` seconds (negative: already expired), an id token where the shape
    /// has one, and a live refresh token when `with_refresh`.
    pub fn seed(&self, shape: Shape, client: &str, expires_in: i64, with_refresh: bool) -> Seeded {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let openid = shape != Shape::Plain || client == "rotating";
        let grant = s.new_grant(shape, client, openid);
        let now = crate::clock::now();
        let body = token_body(&self.base_url, &grant, now, expires_in, None);
        let text = |k: &str| body[k].as_str().map(str::to_string);
        Seeded {
            access_token: text("access_token").unwrap_or_default(),
            id_token: text("id_token"),
            refresh_token: with_refresh.then(|| s.new_refresh_token(&grant)),
            scope: shape.scope().to_string(),
        }
    }
}

type Reply = Response<Full<Bytes>>;

fn json_reply(status: StatusCode, body: Value) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn status_reply(status: u16, body: Value) -> Reply {
    json_reply(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn plain(status: StatusCode, content_type: &str, body: String) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

/// What a path is, and which provider it answers like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Discovery,
    Authorize,
    Token,
    Revoke,
    Device,
    Userinfo,
}

fn route(path: &str) -> Option<(Shape, Endpoint)> {
    use Endpoint::*;
    Some(match path {
        "/.well-known/openid-configuration" => (Shape::Plain, Discovery),
        "/authorize" => (Shape::Plain, Authorize),
        "/token" => (Shape::Plain, Token),
        "/revoke" => (Shape::Plain, Revoke),
        "/device" => (Shape::Plain, Device),
        "/userinfo" => (Shape::Plain, Userinfo),
        "/google/auth" => (Shape::Google, Authorize),
        "/google/token" => (Shape::Google, Token),
        "/google/revoke" => (Shape::Google, Revoke),
        "/google/device/code" => (Shape::Google, Device),
        "/google/userinfo" => (Shape::Google, Userinfo),
        "/microsoft/oidc/userinfo" => (Shape::Microsoft, Userinfo),
        "/auth0/authorize" => (Shape::Auth0, Authorize),
        "/auth0/oauth/token" => (Shape::Auth0, Token),
        "/auth0/oauth/revoke" => (Shape::Auth0, Revoke),
        "/auth0/oauth/device/code" => (Shape::Auth0, Device),
        "/auth0/userinfo" => (Shape::Auth0, Userinfo),
        // Microsoft's layout under any tenant: /{tenant}/oauth2/v2.0/{endpoint}.
        _ => {
            let (tenant, rest) = path.strip_prefix('/')?.split_once('/')?;
            let endpoint = match rest {
                "oauth2/v2.0/authorize" => Authorize,
                "oauth2/v2.0/token" => Token,
                "oauth2/v2.0/devicecode" => Device,
                _ => return None,
            };
            if tenant.is_empty() {
                return None;
            }
            (Shape::Microsoft, endpoint)
        }
    })
}

/// The query string and the body (a form, or Auth0's JSON revocation), as one map.
fn params(query: Option<&str>, body: &[u8]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    if body.first() == Some(&b'{') {
        if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) {
            map.extend(
                o.into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string()))),
            );
        }
    } else {
        map.extend(url::form_urlencoded::parse(body).into_owned());
    }
    map
}

async fn handle(
    state: Arc<Mutex<ServerState>>,
    base: String,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let (parts, body) = req.into_parts();
    let Ok(collected) = Limited::new(body, MAX_BODY).collect().await else {
        return Ok(oauth_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the request body is too large",
        ));
    };
    let bytes = collected.to_bytes();
    let Some((shape, endpoint)) = route(parts.uri.path()) else {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found".into(),
        ));
    };
    let params = params(parts.uri.query(), &bytes);
    let now = crate::clock::now();
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    let reply = match (parts.method, endpoint) {
        (Method::GET, Endpoint::Discovery) => json_reply(StatusCode::OK, discovery(&base)),
        (Method::GET, Endpoint::Authorize) => {
            match authorize::authorize(&mut s.codes, shape, &base, &params, now) {
                Answer::Redirect(to) => Response::builder()
                    .status(StatusCode::FOUND)
                    .header("location", to)
                    .header("cache-control", "no-store")
                    .body(Full::new(Bytes::from_static(
                        b"approved by the tokdash demo; follow the redirect",
                    )))
                    .unwrap_or_default(),
                Answer::Refuse(why) => plain(
                    StatusCode::BAD_REQUEST,
                    "text/html; charset=utf-8",
                    format!(
                        "<!doctype html><title>tokdash demo</title><p>The demo server cannot answer this login: {}.</p>",
                        html_escape(&why)
                    ),
                ),
            }
        }
        (Method::POST, Endpoint::Token) => token(&mut s, &base, shape, &params, now),
        (Method::POST, Endpoint::Revoke) => revoke(&mut s, shape, &params),
        (Method::POST, Endpoint::Device) => device(&mut s, &base, shape, &params, now),
        (Method::GET | Method::POST, Endpoint::Userinfo) => userinfo(&parts.headers, now),
        _ => plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed".into(),
        ),
    };
    Ok(reply)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// OpenID Connect discovery of the demo's own issuer, with what a browser login needs:
/// `authorization_endpoint`, PKCE S256 and RFC 9207's `iss` in the redirect.
fn discovery(base: &str) -> Value {
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "revocation_endpoint": format!("{base}/revoke"),
        "device_authorization_endpoint": format!("{base}/device"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            crate::oauth::device::DEVICE_CODE_GRANT,
        ],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["openid", "offline_access", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256"],
    })
}

/// A token response in the grant's shape. `lifetime` is the access token's, in seconds.
fn token_body(base: &str, grant: &Grant, now: i64, lifetime: i64, nonce: Option<&str>) -> Value {
    let shape = grant.shape;
    let exp = now + lifetime;
    let mut access = shape.access_claims(base, &grant.client, now, exp);
    // Two tokens minted in the same second still differ.
    access["jti"] = format!("{:016x}", rand::random::<u64>()).into();
    let mut body = json!({
        "access_token": jwt::sign(&access),
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": shape.scope(),
    });
    if grant.openid {
        body["id_token"] = jwt::sign(&shape.id_claims(base, &grant.client, now, exp, nonce)).into();
    }
    shape.extra_fields(&mut body, lifetime);
    body
}

fn issue(
    base: &str,
    grant: &Grant,
    refresh: Option<String>,
    nonce: Option<&str>,
    now: i64,
) -> Reply {
    let lifetime = grant.shape.lifetime(&grant.client);
    let mut body = token_body(base, grant, now, lifetime, nonce);
    if let Some(rt) = refresh {
        body["refresh_token"] = Value::String(rt);
    }
    json_reply(StatusCode::OK, body)
}

fn token(
    s: &mut ServerState,
    base: &str,
    shape: Shape,
    form: &HashMap<String, String>,
    now: i64,
) -> Reply {
    let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
    let dead = || {
        let (status, body) = shape.dead_refresh_token(base, now);
        status_reply(status, body)
    };
    match grant_type {
        "refresh_token" => {
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(grant) = s
                .refresh_tokens
                .get(&rt)
                .filter(|g| g.shape == shape)
                .cloned()
            else {
                if shape.detects_reuse()
                    && let Some(family) = s.spent.remove(&rt)
                {
                    // Auth0: a spent token came back, so someone holds a copy: end the family.
                    s.refresh_tokens.retain(|_, g| g.family != family);
                }
                return dead();
            };
            let n = s.counter.entry(grant.client.clone()).or_default();
            let seen = *n;
            *n += 1;
            // Three failures in a row outlast the engine's retries, then three successes.
            if shape == Shape::Plain && grant.client == "flaky" && (seen / 3).is_multiple_of(2) {
                return oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the demo server is having a bad moment",
                );
            }
            let new_rt = shape.rotates(&grant.client).then(|| {
                if shape.spends_rotated() {
                    s.refresh_tokens.remove(&rt);
                    s.spent.insert(rt.clone(), grant.family);
                }
                s.new_refresh_token(&grant)
            });
            issue(base, &grant, new_rt, None, now)
        }
        "client_credentials" => {
            let client = form.get("client_id").cloned().unwrap_or_default();
            let grant = s.new_grant(shape, &client, false);
            issue(base, &grant, None, None, now)
        }
        "authorization_code" => match authorize::redeem(&mut s.codes, shape, form, now) {
            Err((status, body)) => status_reply(status, body),
            Ok(code) => {
                let grant = s.new_grant(shape, &code.client, code.openid);
                let rt = s.new_refresh_token(&grant);
                issue(base, &grant, Some(rt), code.nonce.as_deref(), now)
            }
        },
        crate::oauth::device::DEVICE_CODE_GRANT => {
            let code = form.get("device_code").cloned().unwrap_or_default();
            match s.device_codes.get(&code).cloned() {
                Some((grant, _)) if grant.shape != shape => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the device code belongs to another endpoint",
                ),
                None => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "expired_token",
                    "unknown device code",
                ),
                // Google answers 428 while the user has not approved yet (providers.md 1.7).
                Some((_, approved_at)) if now < approved_at => oauth_error(
                    if shape == Shape::Google {
                        StatusCode::PRECONDITION_REQUIRED
                    } else {
                        StatusCode::BAD_REQUEST
                    },
                    "authorization_pending",
                    "waiting for the demo user",
                ),
                Some((grant, _)) => {
                    s.device_codes.remove(&code);
                    let rt = s.new_refresh_token(&grant);
                    issue(base, &grant, Some(rt), None, now)
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

/// RFC 7009 and its variations: Google's token in the query and its 400 `invalid_token` for
/// a token it does not know, Auth0's JSON body and empty answer. Revoking a refresh token
/// ends its family.
fn revoke(s: &mut ServerState, shape: Shape, params: &HashMap<String, String>) -> Reply {
    let token = params.get("token").map(String::as_str).unwrap_or("");
    let known_refresh = s.refresh_tokens.get(token).map(|g| g.family);
    if let Some(family) = known_refresh {
        s.refresh_tokens.retain(|_, g| g.family != family);
    }
    match shape {
        Shape::Google if known_refresh.is_none() && jwt::verify(token).is_none() => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        ),
        Shape::Auth0 => plain(StatusCode::OK, "text/plain", String::new()),
        _ => json_reply(StatusCode::OK, json!({})),
    }
}

/// RFC 8628 §3.2 in each shape: Google's `verification_url`, Microsoft's `message` and no
/// `verification_uri_complete`, Auth0's and the demo's with it.
fn device(
    s: &mut ServerState,
    base: &str,
    shape: Shape,
    params: &HashMap<String, String>,
    now: i64,
) -> Reply {
    let client = params.get("client_id").cloned().unwrap_or_default();
    let openid = shape != Shape::Plain
        || params
            .get("scope")
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
    let grant = s.new_grant(shape, &client, openid);
    let device_code = format!("device-{}-{:08x}", s.next(), rand::random::<u32>());
    let user_code = format!(
        "{:04X}-{:04X}",
        rand::random::<u16>(),
        rand::random::<u16>()
    );
    s.device_codes.insert(
        device_code.clone(),
        (grant, now + AUTO_APPROVE_AFTER.as_secs() as i64),
    );
    let verification = format!("{base}/activate");
    let mut body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "expires_in": 300,
        "interval": 1,
    });
    match shape {
        Shape::Google => body["verification_url"] = verification.into(),
        Shape::Microsoft => {
            body["message"] = format!(
                "To sign in, use a web browser to open the page {verification} and enter the code {user_code} to authenticate."
            )
            .into();
            body["verification_uri"] = verification.into();
        }
        Shape::Plain | Shape::Auth0 => {
            body["verification_uri_complete"] =
                format!("{verification}?user_code={user_code}").into();
            body["verification_uri"] = verification.into();
        }
    }
    json_reply(StatusCode::OK, body)
}

/// The holder of a live access token of this server; 401 for anything else (RFC 6750 §3).
fn userinfo(headers: &HeaderMap, now: i64) -> Reply {
    let claims = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(jwt::verify)
        .filter(|c| {
            c.get("exp")
                .and_then(Value::as_i64)
                .is_some_and(|e| e > now)
        });
    match claims {
        Some(c) => json_reply(
            StatusCode::OK,
            shape::userinfo(c.get("sub").and_then(Value::as_str).unwrap_or("")),
        ),
        None => Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Bearer error=\"invalid_token\"")
            .body(Full::new(Bytes::new()))
            .unwrap_or_default(),
    }
}
