//! The browser login (authorization code with PKCE) against the real oidc-provider, its login and
//! consent pages driven over HTTP by `tests/oidc/authorize.js` (no browser): finished through the
//! loopback listener and by pasting, and every way it must fail without storing anything.

use crate::support::oidc::{self, OidcServer, profile};
use crate::support::world::World;
use crate::support::{stderr, wait_until};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

/// A profile of `client` with a browser login asking for a refresh token.
fn browser_profile(issuer: &str, client: &str, extra: &str) -> String {
    profile(
        "p",
        issuer,
        client,
        &format!("scopes = [\"openid\", \"offline_access\"]\nlogin = \"browser\"\n{extra}"),
    )
}

/// The shared server, and a world whose profile `p` logs in as the public client (PKCE, no
/// secret).
fn public_client_world() -> (&'static OidcServer, World) {
    let server = oidc::shared();
    let w = World::new(&browser_profile(
        &server.issuer,
        oidc::CODE_PUBLIC_CLIENT,
        "",
    ));
    (server, w)
}

/// A running `tokdash login p`: the URL it printed, its stdin to paste into, its stderr lines.
pub(crate) struct Running {
    child: Child,
    pub url: String,
    stdin: ChildStdin,
    err_lines: mpsc::Receiver<String>,
    out: std::thread::JoinHandle<String>,
}

pub(crate) fn start(w: &World, extra_args: &[&str], envs: &[(&str, &str)]) -> Running {
    let mut args = vec!["login", "p", "--no-open"];
    args.extend_from_slice(extra_args);
    start_command(w, &args, envs)
}

/// Any command that logs in by the browser: the authorization URL is taken from whichever of
/// stdout and stderr it is printed on (`kube-credential` prompts on stderr).
pub(crate) fn start_command(w: &World, args: &[&str], envs: &[(&str, &str)]) -> Running {
    let mut child = w
        .std_cmd(args)
        .envs(envs.iter().copied())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let (url_tx, url_rx) = mpsc::channel();
    let is_url = |line: &str| line.starts_with("http") && line.contains("response_type=code");
    let err_url_tx = url_tx.clone();
    let stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if is_url(&line) {
                let _ = url_tx.send(line.clone());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let (err_tx, err_lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if is_url(&line) {
                let _ = err_url_tx.send(line.clone());
            }
            let _ = err_tx.send(line);
        }
    });
    let url = url_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("tokdash printed the authorization URL");
    Running {
        child,
        url,
        stdin,
        err_lines,
        out,
    }
}

impl Running {
    /// Ends a login the test is done with.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn paste(&mut self, text: &str) {
        writeln!(self.stdin, "{text}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next stderr line, within the deadline.
    fn next_error(&self) -> String {
        self.err_lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a line on stderr")
    }

    /// Waits for the end; returns the exit code, stdout and the rest of stderr.
    pub fn finish(mut self) -> (Option<i32>, String, String) {
        wait_until(DEADLINE, "tokdash login to finish", || {
            self.child.try_wait().unwrap().is_some()
        });
        let status = self.child.wait().unwrap();
        let out = self.out.join().unwrap();
        let mut err = String::new();
        while let Ok(line) = self.err_lines.recv_timeout(Duration::from_millis(500)) {
            err.push_str(&line);
            err.push('\n');
        }
        (status.code(), out, err)
    }
}

/// A query parameter of `url`.
pub(crate) fn param(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `url` with `key` set to `value` (`None`: removed).
fn with_param(url: &str, key: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != key)
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &pairs {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(key, v);
        }
    }
    u.to_string()
}

/// GET `url` (the listener) as a browser would: the status and the page.
fn browser_get(url: &str) -> (u16, String) {
    let u = url::Url::parse(url).unwrap();
    let mut stream =
        std::net::TcpStream::connect((u.host_str().unwrap(), u.port().unwrap())).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let target = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    };
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        u.host_str().unwrap()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

fn refresh_rotates(w: &World, envs: &[(&str, &str)]) {
    let before = w.stored("p", "refresh_token");
    let mut cmd = w.cmd(&["refresh", "p"]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.assert().success();
    assert_ne!(
        w.stored("p", "refresh_token"),
        before,
        "rotated by a real refresh"
    );
}

/// Public client, PKCE and no secret, finished by the browser reaching the listener; the stored
/// refresh token then refreshes at the real server.
#[test]
fn public_client_finished_through_the_listener_then_refreshes() {
    let (server, w) = public_client_world();
    let run = start(&w, &[], &[]);
    assert_eq!(
        param(&run.url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(param(&run.url, "prompt").as_deref(), Some("consent"));
    assert!(param(&run.url, "nonce").is_some());
    let callback = server.authorize(&run.url);
    let (status, page) = browser_get(&callback);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Logged in"), "{page}");
    let (code, out, err) = run.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("p: logged in"), "{out}");
    assert!(out.contains("ssh -L "), "{out}");
    refresh_rotates(&w, &[]);
}

/// Confidential clients (HTTP Basic and post) finished by pasting the callback address.
#[test]
fn confidential_clients_finished_by_pasting() {
    let server = oidc::shared();
    for (client, method, secret) in [
        (
            oidc::CODE_BASIC_CLIENT,
            "client_secret_basic",
            oidc::BASIC_SECRET,
        ),
        (
            oidc::CODE_POST_CLIENT,
            "client_secret_post",
            oidc::POST_SECRET,
        ),
    ] {
        let w = World::new(&browser_profile(
            &server.issuer,
            client,
            &format!("client_secret_env = \"TD_CODE\"\nauth_method = \"{method}\""),
        ));
        let envs = [("TD_CODE", secret)];
        let mut run = start(&w, &[], &envs);
        let callback = server.authorize(&run.url);
        run.paste(&callback);
        let (code, out, err) = run.finish();
        assert_eq!(code, Some(0), "{client}: {err}");
        assert!(out.contains("p: logged in"), "{out}");
        refresh_rotates(&w, &envs);
    }
}

/// Through the listener, a callback whose state is not this login's ends it: exit 1, nothing
/// stored, and the browser is told why.
#[test]
fn a_wrong_state_at_the_listener_exits_1_and_stores_nothing() {
    let (server, w) = public_client_world();
    let run = start(&w, &[], &[]);
    let callback = server.authorize(&run.url);
    let (status, page) = browser_get(&with_param(&callback, "state", Some("forged")));
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("another login"), "{page}");
    let (code, _, err) = run.finish();
    assert_eq!(code, Some(1));
    assert!(
        err.contains("tokdash: p: this address is for another login"),
        "{err}"
    );
    assert!(w.record("p").is_none(), "nothing stored");
}

/// Pasted text that is not a callback, or a callback of another login, is one line on stderr
/// and loses nothing: the right address pasted next finishes the login.
#[test]
fn pasted_bad_input_loses_nothing() {
    let (server, w) = public_client_world();
    let mut run = start(&w, &[], &[]);
    let callback = server.authorize(&run.url);
    run.paste("hello there");
    let line = run.next_error();
    assert!(
        line.starts_with("tokdash: p: that address carries no code"),
        "{line}"
    );
    run.paste(&run.url.clone());
    let line = run.next_error();
    assert!(line.contains("not this login's callback"), "{line}");
    run.paste(&with_param(&callback, "state", Some("another-login")));
    let line = run.next_error();
    assert!(line.contains("for another login"), "{line}");
    assert!(w.record("p").is_none());
    run.paste(&callback);
    let (code, out, err) = run.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("p: logged in"));
    assert!(w.record("p").is_some());
}

/// The user refuses consent: the redirect carries `error=access_denied`.
#[test]
fn an_error_redirect_exits_1_and_stores_nothing() {
    let (server, w) = public_client_world();
    let mut run = start(&w, &[], &[]);
    let callback = server.authorize_denied(&run.url);
    assert_eq!(param(&callback, "error").as_deref(), Some("access_denied"));
    run.paste(&callback);
    let (code, _, err) = run.finish();
    assert_eq!(code, Some(1));
    assert!(
        err.contains("tokdash: p: the provider refused the login (access_denied"),
        "{err}"
    );
    assert!(w.record("p").is_none(), "nothing stored");
}

/// A code already redeemed answers `invalid_grant`: exit 1, and the record of the first login is
/// left as it was.
#[test]
fn a_code_used_twice_exits_1() {
    let (server, w) = public_client_world();
    let mut first = start(&w, &[], &[]);
    let callback = server.authorize(&first.url);
    first.paste(&callback);
    assert_eq!(first.finish().0, Some(0));
    let stored = w.record("p").unwrap();

    let mut second = start(&w, &[], &[]);
    let state = param(&second.url, "state").unwrap();
    let replayed = with_param(&callback, "state", Some(&state));
    second.paste(&replayed);
    let (code, _, err) = second.finish();
    assert_eq!(code, Some(1));
    assert!(
        err.contains("code exchange refused (HTTP 400, invalid_grant"),
        "{err}"
    );
    assert!(err.contains("nothing stored"), "{err}");
    assert_eq!(w.record("p").unwrap(), stored, "the record is untouched");
}

/// RFC 9207: an `iss` that is not the issuer is refused; a missing one too, since the server's
/// metadata advertises it, unless the profile says `require_iss = false`.
#[test]
fn a_wrong_or_missing_iss_exits_1_unless_not_required() {
    let (server, w) = public_client_world();
    let mut run = start(&w, &[], &[]);
    let callback = server.authorize(&run.url);
    run.paste(&with_param(&callback, "iss", Some("https://evil.example")));
    let (code, _, err) = run.finish();
    assert_eq!(code, Some(1));
    assert!(err.contains("names issuer https://evil.example"), "{err}");
    assert!(w.record("p").is_none());

    let mut run = start(&w, &[], &[]);
    let callback = server.authorize(&run.url);
    run.paste(&with_param(&callback, "iss", None));
    let (code, _, err) = run.finish();
    assert_eq!(code, Some(1));
    assert!(err.contains("has no iss"), "{err}");
    assert!(w.record("p").is_none());

    w.write_config(&browser_profile(
        &server.issuer,
        oidc::CODE_PUBLIC_CLIENT,
        "require_iss = false",
    ));
    let mut run = start(&w, &[], &[]);
    let callback = server.authorize(&run.url);
    run.paste(&with_param(&callback, "iss", None));
    let (code, _, err) = run.finish();
    assert_eq!(code, Some(0), "{err}");
}

/// A fixed port (for `ssh -L`) that another program holds: one clear line, exit 1.
#[test]
fn a_port_in_use_is_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let w = World::new(
        "[profiles.p]\nprovider = \"oauth2\"\nclient_id = \"c\"\ntoken_url = \"http://127.0.0.1:9/token\"\nauthorization_url = \"http://127.0.0.1:9/auth\"\n",
    );
    let out = w.output_within(&["login", "p", "--no-open", "--port", &port], DEADLINE);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "tokdash: p: cannot start the browser login: port {port} on 127.0.0.1 is in use"
        )),
        "{err}"
    );
}

/// An `oauth2` profile has no authorization endpoint unless it sets one.
#[test]
fn a_provider_without_an_authorization_endpoint_is_one_clear_line() {
    let w = World::new(
        "[profiles.p]\nprovider = \"oauth2\"\ntoken_url = \"https://auth.example.com/token\"\nclient_id = \"c\"\n",
    );
    let out = w.output_within(&["login", "p", "--browser", "--no-open"], DEADLINE);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the provider has no authorization endpoint"),
        "{err}"
    );
    assert!(err.contains("set authorization_url"), "{err}");
}

/// A login not finished in time ends with exit 1 (the limit shortened for the test).
#[test]
fn a_login_not_finished_in_time_exits_1() {
    let (_, w) = public_client_world();
    let run = start(&w, &[], &[("TOKDASH_BROWSER_LOGIN_LIMIT", "2")]);
    let (code, _, err) = run.finish();
    assert_eq!(code, Some(1));
    assert!(err.contains("was not finished within"), "{err}");
}

/// kubectl runs the plugin interactively: a browser profile that needs a login logs in on
/// stderr (stdout is kubectl's), the address pasted on stdin, and kubectl gets its credential.
#[test]
fn kube_credential_logs_a_browser_profile_in_on_stderr_when_interactive() {
    let (server, w) = public_client_world();
    let exec_info = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#;
    let mut run = start_command(
        &w,
        &["kube-credential", "p"],
        &[("KUBERNETES_EXEC_INFO", exec_info)],
    );
    let callback = server.authorize(&run.url);
    run.paste(&callback);
    let (code, out, err) = run.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !out.contains("response_type=code"),
        "the prompt stays off stdout: {out}"
    );
    let credential: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(credential["kind"], "ExecCredential");
    assert_eq!(
        credential["status"]["token"].as_str(),
        Some(w.stored("p", "id_token").as_str())
    );
}
