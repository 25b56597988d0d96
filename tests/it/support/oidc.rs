//! A real OAuth 2.0 authorization server for integration tests: oidc-provider (tests/oidc/server.js)
//! run by node on 127.0.0.1 with an OS-chosen port, one per `OidcServer`.
//!
//! Needs `npm ci --prefix tests/oidc` once. Each start makes new keys and an empty token store,
//! so tokens are minted per server with `mint`. Dropping the server stops it.
//!
//! Tests share servers: [`shared`] is the one default server of the test binary, [`shared_with`]
//! the one per distinct environment (e.g. a short `OIDC_RT_TTL`). On a shared server each test
//! has names of its own: every `mint` is a grant of its own (revoking it, or a reuse of one of its
//! rotated refresh tokens, kills that grant only), and a test that counts its token requests, or
//! must otherwise be alone with its client, takes a client of its own ([`own_client`],
//! [`lifetime_client`]). Only a test that must own its server (stops it, kills it) calls
//! [`OidcServer::start`] and says why.

use super::world::World;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// `client_secret_post` client for the device flow and refresh.
pub const POST_CLIENT: &str = "tokdash-post";
pub const POST_SECRET: &str = "post-secret";
/// `client_secret_basic` client; its secret needs RFC 6749 §2.3.1 form-encoding in the header.
pub const BASIC_CLIENT: &str = "tokdash-basic";
pub const BASIC_SECRET: &str = "b@sic+sec:ret%/x";
/// Public client (`token_endpoint_auth_method: none`).
pub const PUBLIC_CLIENT: &str = "tokdash-public";
/// Authorization code clients (native, loopback redirect `http://127.0.0.1/callback` on any port).
pub const CODE_PUBLIC_CLIENT: &str = "tokdash-code-public";
pub const CODE_POST_CLIENT: &str = "tokdash-code-post";
pub const CODE_BASIC_CLIENT: &str = "tokdash-code-basic";
/// The dashboard's browser-login test has its own.
pub const CODE_TUI_CLIENT: &str = "tokdash-code-tui";

/// `client_secret_post` client allowed only `client_credentials`, scope `api`.
pub const CC_CLIENT: &str = "tokdash-cc";
pub const CC_SECRET: &str = "cc-secret";

/// The environment variable that [`post_profile`]s read their client secret from.
pub const SECRET_VAR: &str = "TD_SECRET";

/// A number no other call in this test process gets: the tag of a client of one's own.
fn next_tag() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A client of its own on a shared server, new on every call: a copy of the static client
/// `base` (e.g. [`POST_CLIENT`], [`BASIC_CLIENT`], [`CODE_POST_CLIENT`]) with the same secret and
/// authentication method, under a name no other test uses, so its request log
/// ([`OidcServer::token_requests`]) is this test's alone. tests/oidc/server.js makes it on
/// demand (`<base>-own-<tag>`).
pub fn own_client(base: &str) -> String {
    format!("{base}-own-{}", next_tag())
}

/// A `client_secret_post` client (secret [`POST_SECRET`]) whose access tokens live `seconds`,
/// new on every call (server.js makes `tokdash-ttl-<seconds>-<tag>` on demand), so each test's
/// request log is its own on a shared server. `tag` ("", "dash", "idle-ended"…) only tells
/// a reader of the server's log what the client is for.
pub fn lifetime_client(seconds: u32, tag: &str) -> String {
    if tag.is_empty() {
        format!("tokdash-ttl-{seconds}-{}", next_tag())
    } else {
        format!("tokdash-ttl-{seconds}-{tag}-{}", next_tag())
    }
}

/// The default server ([`OidcServer::start`]) of this test binary, started by the first test
/// that asks and shared by every test after it. It lives as long as the test process: it
/// exits when its stdin, the process's pipe to it, closes.
pub fn shared() -> &'static OidcServer {
    shared_with(&[])
}

/// The one server of this test binary started with environment `envs` (see
/// [`OidcServer::start_with`]): one per distinct configuration, shared like [`shared`].
pub fn shared_with(envs: &[(&str, &str)]) -> &'static OidcServer {
    type Config = Vec<(String, String)>;
    static SERVERS: OnceLock<Mutex<HashMap<Config, &'static OnceLock<OidcServer>>>> =
        OnceLock::new();
    let mut config: Config = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    config.sort();
    // The map lock is held only to find the configuration's cell; the start itself runs in the
    // cell, so the tests waiting for one configuration do not hold up the others.
    let cell: &'static OnceLock<OidcServer> = SERVERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(config)
        .or_insert_with(|| Box::leak(Box::new(OnceLock::new())));
    cell.get_or_init(|| OidcServer::start_with(envs))
}

/// The scope `mint` asks for by default: `offline_access` is what yields a refresh token.
pub const DEFAULT_SCOPE: &str = "openid offline_access email";

/// The discovery document's path, relative to the issuer.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

const START_DEADLINE: Duration = Duration::from_secs(30);

/// Profile `name` of the server at `issuer` for `client`, with `extra` config lines.
pub fn profile(name: &str, issuer: &str, client: &str, extra: &str) -> String {
    // The server's access tokens live 60 s: refresh_ahead must be shorter for them to count as valid.
    format!(
        "[profiles.{name}]\nprovider = \"oidc\"\nissuer = \"{issuer}\"\nclient_id = \"{client}\"\nrefresh_ahead = \"10s\"\n{extra}\n"
    )
}

/// Profile `name` for [`POST_CLIENT`], its secret in [`SECRET_VAR`].
pub fn post_profile(name: &str, issuer: &str) -> String {
    post_profile_of(name, issuer, POST_CLIENT)
}

/// [`post_profile`] for `client`, a client_secret_post client with secret [`POST_SECRET`]
/// (e.g. an [`own_client`] of [`POST_CLIENT`]).
pub fn post_profile_of(name: &str, issuer: &str, client: &str) -> String {
    profile(
        name,
        issuer,
        client,
        &format!("client_secret_env = \"{SECRET_VAR}\""),
    )
}

/// [`post_profile`] whose login asks for `openid offline_access` only: the scopes a device
/// login against the server needs for a refresh token.
pub fn login_profile(name: &str, issuer: &str) -> String {
    post_profile(name, issuer).replace(
        &format!("[profiles.{name}]"),
        &format!("[profiles.{name}]\nscopes = [\"openid\", \"offline_access\"]"),
    )
}

/// `tokdash args` in `w` with [`POST_SECRET`] in [`SECRET_VAR`].
pub fn post_cmd(w: &World, args: &[&str]) -> assert_cmd::Command {
    w.cmd_with_secret(args, SECRET_VAR, POST_SECRET)
}

/// [`post_cmd`] as a `std::process::Command`, to spawn.
pub fn post_std_cmd(w: &World, args: &[&str]) -> Command {
    w.std_cmd_with_secret(args, SECRET_VAR, POST_SECRET)
}

pub struct OidcServer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub issuer: String,
    child: Child,
    /// Held, never written: the server exits when this pipe closes, so it dies with the test
    /// process even if `Drop` never runs (a panic with `panic = abort`, a killed test binary).
    _stdin: ChildStdin,
    /// Everything the server wrote to stderr (warnings; error events with OIDC_DEBUG=1).
    stderr: Arc<Mutex<String>>,
}

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("oidc")
}

fn node() -> Command {
    // NODE lets a machine with node outside PATH still run these tests.
    Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()))
}

impl OidcServer {
    /// Default server: access tokens live 60 s, refresh tokens rotate on every use. A server of
    /// the caller's own: most tests take [`shared`] instead.
    pub fn start() -> OidcServer {
        OidcServer::start_with(&[])
    }

    /// Server with extra environment, e.g. `[("OIDC_AT_TTL", "2")]`, `[("OIDC_ROTATE", "0")]`,
    /// `[("OIDC_DEBUG", "1")]` (error events, e.g. the reason for an invalid_grant, then show
    /// in `stderr()`).
    pub fn start_with(envs: &[(&str, &str)]) -> OidcServer {
        let dir = oidc_dir();
        if !dir.join("node_modules").join("oidc-provider").is_dir() {
            panic!(
                "oidc-provider is not installed in {}; run: npm ci --prefix tests/oidc",
                dir.display()
            );
        }
        let started = Instant::now();
        let mut child = node()
            .arg(dir.join("server.js"))
            .envs(envs.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (v20 or later is needed): {e}"));
        let stdin = child.stdin.take().expect("piped stdin");

        // Both pipes are drained for the server's whole life: a full pipe would block it.
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("piped stderr");
        let err_buf = Arc::clone(&stderr);
        let err_thread = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                err_buf
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        let (ready_tx, ready_rx) = mpsc::channel();
        let out_pipe = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out_pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(issuer) = line.strip_prefix("READY ") {
                    let _ = ready_tx.send(issuer.trim().to_string());
                }
            }
        });

        let issuer = match ready_rx.recv_timeout(START_DEADLINE) {
            Ok(issuer) => issuer,
            Err(e) => {
                // Timed out, or stdout closed because the server died: show why.
                let why = match e {
                    mpsc::RecvTimeoutError::Timeout => {
                        format!("no READY within {START_DEADLINE:?}")
                    }
                    mpsc::RecvTimeoutError::Disconnected => "exited before READY".to_string(),
                };
                let _ = child.kill();
                let status = child.wait();
                let _ = err_thread.join();
                panic!(
                    "oidc test server (node tests/oidc/server.js) failed to start: {why} \
                     (exit: {status:?}); its stderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let server = OidcServer {
            issuer,
            child,
            _stdin: stdin,
            stderr,
        };

        // READY means listening; the discovery document answering means serving.
        let addr = server.issuer.trim_start_matches("http://").to_string();
        super::wait_until(
            START_DEADLINE.saturating_sub(started.elapsed()),
            &format!("{}{DISCOVERY_PATH} to answer 200", server.issuer),
            || http_status(&addr, DISCOVERY_PATH) == Some(200),
        );
        server
    }

    /// When `client_id` called the token endpoint (epoch milliseconds, successes and errors
    /// alike), as the server logged it (tests/oidc/server.js, `/_test/token-requests/`).
    pub fn token_requests(&self, client_id: &str) -> Vec<u64> {
        let addr = self.issuer.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("the test server answers");
        write!(
            stream,
            "GET /_test/token-requests/{client_id} HTTP/1.0\r\nHost: {addr}\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("token-requests: {e}: {reply}"))
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Runs the whole device flow (request, approval through the server's pages, redemption)
    /// and returns the token endpoint's JSON: access_token, refresh_token (when `scope` has
    /// offline_access), expires_in, scope, token_type, id_token (with openid).
    /// `auth_method`: "client_secret_post", "client_secret_basic" or "none".
    pub fn mint(
        &self,
        client_id: &str,
        secret: Option<&str>,
        auth_method: &str,
        scope: &str,
    ) -> serde_json::Value {
        let out = self.script(
            "mint.js",
            &[client_id, secret.unwrap_or(""), auth_method, scope],
        );
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("mint.js printed non-JSON ({e}): {out}"))
    }

    /// [`mint`](Self::mint) for [`POST_CLIENT`] (client_secret_post), with [`DEFAULT_SCOPE`].
    pub fn mint_post(&self) -> serde_json::Value {
        self.mint(
            POST_CLIENT,
            Some(POST_SECRET),
            "client_secret_post",
            DEFAULT_SCOPE,
        )
    }

    /// Mints a token for `client` (client_secret_post, [`DEFAULT_SCOPE`]) and imports it as
    /// profile `p` of `w`; returns how many token requests the server had seen from `client`
    /// by then, the baseline a test counts its own requests from. `w`'s config is left to the
    /// caller, since each module's profile differs (lifetimes, idle windows, token files).
    pub fn mint_into(&self, w: &World, client: &str) -> usize {
        let response = self.mint(
            client,
            Some(POST_SECRET),
            "client_secret_post",
            DEFAULT_SCOPE,
        );
        w.import("p", &response);
        self.token_requests(client).len()
    }

    /// A world with a [`post_profile`] per name in `names`, each holding a freshly minted token.
    pub fn minted_world(&self, names: &[impl AsRef<str>]) -> World {
        self.minted_world_of(POST_CLIENT, names)
    }

    /// [`minted_world`](Self::minted_world) for `client`, a client_secret_post client with
    /// secret [`POST_SECRET`] (e.g. an [`own_client`] of [`POST_CLIENT`]).
    pub fn minted_world_of(&self, client: &str, names: &[impl AsRef<str>]) -> World {
        let config: String = names
            .iter()
            .map(|n| post_profile_of(n.as_ref(), &self.issuer, client))
            .collect();
        let w = World::new(&config);
        for n in names {
            let response = self.mint(
                client,
                Some(POST_SECRET),
                "client_secret_post",
                DEFAULT_SCOPE,
            );
            w.import(n.as_ref(), &response);
        }
        w
    }

    /// A world whose one [`post_profile`] `name`, with `extra` lines below it, holds a freshly
    /// minted token: for the keys a test is about (`git_username`, `kube_token`…).
    pub fn minted_world_with(&self, name: &str, extra: &str) -> World {
        let w = self.minted_world(&[name]);
        w.write_config(&format!("{}{extra}\n", post_profile(name, &self.issuer)));
        w
    }

    /// [`minted_world`](Self::minted_world) with `n` profiles `p00`, `p01`…; returns their names.
    pub fn minted_numbered(&self, n: usize) -> (World, Vec<String>) {
        let names: Vec<String> = (0..n).map(|i| format!("p{i:02}")).collect();
        (self.minted_world(&names), names)
    }

    /// Approves a pending device authorization (one that tokdash is polling) as a person would.
    pub fn approve(&self, user_code: &str) {
        self.script("approve.js", &[user_code]);
    }

    /// Signs in and consents at `auth_url` (a browser login's URL) as a person would; returns
    /// the callback address the server sends the browser to, not loaded.
    pub fn authorize(&self, auth_url: &str) -> String {
        self.script("authorize.js", &[auth_url]).trim().to_string()
    }

    /// Signs in at `auth_url` and refuses consent: the callback carries `error=access_denied`.
    pub fn authorize_denied(&self, auth_url: &str) -> String {
        self.script("authorize.js", &[auth_url, "deny"])
            .trim()
            .to_string()
    }

    /// Denies a pending device authorization: its poller then gets `access_denied` once (and
    /// `invalid_grant` on any later poll, as the device code is gone).
    pub fn deny(&self, user_code: &str) {
        self.script("deny.js", &[user_code]);
    }

    /// The introspection response for `token`, e.g. `{"active": false}` after a revocation.
    /// Authenticates with client_secret_post, or as a public client when `secret` is None.
    pub fn introspect(
        &self,
        client_id: &str,
        secret: Option<&str>,
        token: &str,
    ) -> serde_json::Value {
        let out = self.script("introspect.js", &[client_id, secret.unwrap_or(""), token]);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("introspect.js printed non-JSON ({e}): {out}"))
    }

    /// Runs `node tests/oidc/<name> <issuer> <args...>`; returns its stdout, panics on failure.
    fn script(&self, name: &str, args: &[&str]) -> String {
        let out = node()
            .arg(oidc_dir().join(name))
            .arg(&self.issuer)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run node {name}: {e}"));
        if !out.status.success() {
            panic!(
                "{name} {args:?} failed ({}): {}\nserver stderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                self.stderr()
            );
        }
        String::from_utf8(out.stdout).expect("script output is UTF-8")
    }
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status code of a plain HTTP/1.0 GET, or None if the server does not answer (yet).
fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).ok()?;
    // "HTTP/1.1 200 OK"
    status_line.split_whitespace().nth(1)?.parse().ok()
}
