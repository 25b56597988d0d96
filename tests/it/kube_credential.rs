//! `tokdash kube-credential` with the real kubectl (the PyPI wheel, see support::integrations)
//! against a loopback HTTPS API server that accepts only the profile's current token, and the
//! real authorization server behind the profile.

use crate::support::integrations::{KubeApi, kubectl};
use crate::support::oidc::{self, POST_SECRET, SECRET_VAR, post_cmd, post_profile};
use crate::support::world::World;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const V1: &str = "client.authentication.k8s.io/v1";
const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// `kubectl get --raw /version` with `w`'s kubeconfig for `api_version`, stdin not a terminal
/// (so kubectl says `interactive: false`), a fresh discovery cache, tokdash's world in the env.
fn kubectl_version(w: &World, api: &KubeApi, name: &str, api_version: &str) -> Output {
    let kc = w
        .dir
        .path()
        .join(format!("kubeconfig-{}", api_version.replace('/', "_")));
    std::fs::write(&kc, api.kubeconfig(name, api_version)).unwrap();
    let mut cmd = Command::new(kubectl());
    cmd.arg("--kubeconfig")
        .arg(&kc)
        .arg("--cache-dir")
        .arg(w.dir.path().join("kube-cache"))
        .args(["get", "--raw", "/version"])
        .env("HOME", w.dir.path())
        .env(SECRET_VAR, POST_SECRET)
        .env("TOKDASH_LOG", "trace")
        .stdin(Stdio::null());
    for (k, v) in w.envs() {
        cmd.env(k, v);
    }
    cmd.output().expect("kubectl runs")
}

fn stored(w: &World, name: &str, field: &str) -> String {
    w.stored(name, field)
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "kubectl failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("v1.37.1"));
}

#[test]
fn kubectl_is_given_the_id_token_in_v1_and_v1beta1() {
    let server = oidc::shared();
    // It counts its client's token requests: a client of its own.
    let client = oidc::own_client(oidc::POST_CLIENT);
    let w = server.minted_world_of(&client, &["k8s"]);
    let api = KubeApi::start(w.dir.path(), &w.store().join("k8s.json"), "id_token");
    for version in [V1, V1BETA1] {
        let out = kubectl_version(&w, &api, "k8s", version);
        assert_ok(&out);
    }
    let id = stored(&w, "k8s", "id_token");
    let requests = api.served.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for r in requests {
        assert_eq!(r["auth"], format!("Bearer {id}"));
    }
    assert!(
        server.token_requests(&client).len() <= 1,
        "a fresh id token is given as stored (the one request is the mint)"
    );
}

/// The answer itself: the apiVersion asked for, the token, and the id token's own `exp`.
#[test]
fn the_answer_is_one_exec_credential_with_the_expiry_of_the_token_given() {
    let server = oidc::shared();
    let w = server.minted_world(&["k8s"]);
    for version in [V1, V1BETA1] {
        let info = format!(
            r#"{{"kind":"ExecCredential","apiVersion":"{version}","spec":{{"interactive":false}}}}"#
        );
        let out = post_cmd(&w, &["kube-credential", "k8s"])
            .env("KUBERNETES_EXEC_INFO", info)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = stored(&w, "k8s", "id_token");
        let exp = tokdash::jwt::expiry(&id).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({
                "kind": "ExecCredential",
                "apiVersion": version,
                "status": {"token": id, "expirationTimestamp": tokdash::clock::rfc3339(exp)},
            })
        );
    }
}

#[test]
fn an_expired_id_token_is_refreshed_before_kubectl_gets_it() {
    let server = oidc::shared();
    // It counts its client's token requests: a client of its own.
    let client = oidc::own_client(oidc::POST_CLIENT);
    let w = server.minted_world_of(&client, &["k8s"]);
    // The access token is fresh; the id token has expired (its own exp): that alone makes it due.
    let expired = tokdash_test_jwt(1_000_000_000);
    let mut record = w.record("k8s").unwrap();
    record["id_token"] = serde_json::json!(expired);
    std::fs::write(w.store().join("k8s.json"), record.to_string()).unwrap();
    let api = KubeApi::start(w.dir.path(), &w.store().join("k8s.json"), "id_token");
    let before = server.token_requests(&client).len();
    assert_ok(&kubectl_version(&w, &api, "k8s", V1));
    let id = stored(&w, "k8s", "id_token");
    assert_ne!(id, expired);
    assert_eq!(api.served.requests()[0]["auth"], format!("Bearer {id}"));
    assert_eq!(
        server.token_requests(&client).len(),
        before + 1,
        "one refresh"
    );
}

#[test]
fn kube_token_access_token_gives_the_access_token_refreshed_when_expired() {
    let server = oidc::shared();
    let w = server.minted_world_with("k8s", "kube_token = \"access_token\"");
    let mut record = w.record("k8s").unwrap();
    let stale = record["access_token"].as_str().unwrap().to_string();
    record["expires_at"] = serde_json::json!(0);
    std::fs::write(w.store().join("k8s.json"), record.to_string()).unwrap();
    let api = KubeApi::start(w.dir.path(), &w.store().join("k8s.json"), "access_token");
    assert_ok(&kubectl_version(&w, &api, "k8s", V1BETA1));
    let at = stored(&w, "k8s", "access_token");
    assert_ne!(at, stale, "refreshed first");
    assert_eq!(api.served.requests()[0]["auth"], format!("Bearer {at}"));
}

#[test]
fn a_profile_that_needs_a_login_fails_kubectl_with_the_hint() {
    let server = oidc::shared();
    let w = World::new(&post_profile("k8s", &server.issuer));
    let api = KubeApi::start(w.dir.path(), &w.store().join("k8s.json"), "id_token");
    let out = kubectl_version(&w, &api, "k8s", V1);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "tokdash: k8s: cannot refresh: no refresh token is stored; run: tokdash login k8s"
        ),
        "{stderr}"
    );
    assert!(api.served.requests().is_empty(), "kubectl sent nothing");
}

#[test]
fn malformed_exec_info_exits_2_with_one_line() {
    let server = oidc::shared();
    let w = server.minted_world(&["k8s"]);
    for bad in [
        "not json",
        r#"{"kind":"Foo","apiVersion":"client.authentication.k8s.io/v1"}"#,
        r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1","spec":{}}"#,
        r#"{"kind":"ExecCredential","spec":{"interactive":false}}"#,
    ] {
        let out = post_cmd(&w, &["kube-credential", "k8s"])
            .env("KUBERNETES_EXEC_INFO", bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty(), "{bad}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{bad}: {stderr}");
        assert!(
            stderr.starts_with("tokdash: k8s: KUBERNETES_EXEC_INFO "),
            "{stderr}"
        );
    }
}

/// kubectl says `interactive: true` only when its stdin is a terminal; the plugin is then run
/// with that terminal, and the login's prompt goes to stderr. stdout stays the ExecCredential.
#[test]
fn an_interactive_session_logs_in_on_stderr() {
    let server = oidc::shared();
    let w = World::new(&oidc::login_profile("k8s", &server.issuer));
    let mut child = w
        .std_cmd_with_secret(&["kube-credential", "k8s"], SECRET_VAR, POST_SECRET)
        .env(
            "KUBERNETES_EXEC_INFO",
            format!(
                r#"{{"kind":"ExecCredential","apiVersion":"{V1}","spec":{{"interactive":true}}}}"#
            ),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let code = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no code in: {seen}"
        );
        seen.push_str(&line);
        if let Some(code) = line.trim().strip_prefix("and enter the code:") {
            break code.trim().to_string();
        }
    };
    server.approve(&code);
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    crate::support::wait_until(Duration::from_secs(60), "kube-credential to finish", || {
        child.try_wait().unwrap().is_some()
    });
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{seen}{}", rest.join().unwrap());
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"]["token"], stored(&w, "k8s", "id_token"));
    assert_eq!(answer["apiVersion"], V1);
}

/// An unsigned JWT with only `exp`.
fn tokdash_test_jwt(exp: i64) -> String {
    use base64::Engine;
    let enc = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.sig",
        enc(serde_json::json!({"alg": "none"})),
        enc(serde_json::json!({"exp": exp, "sub": "old"}))
    )
}
