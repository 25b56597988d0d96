//! `tokdash git-credential` with the real git: `git credential fill`, and `git ls-remote`
//! against a loopback smart-HTTP server that accepts only the profile's current access token.

use crate::support::integrations::{git_server, isolate_git};
use crate::support::oidc::{self, POST_SECRET, SECRET_VAR, post_cmd, post_profile};
use crate::support::output_with_stdin;
use crate::support::world::World;
use std::process::{Command, Output, Stdio};

/// The gits to try: the one on PATH, and /usr/bin/git when it is another (older) one.
fn gits() -> Vec<String> {
    let mut gits = vec!["git".to_string()];
    let version = |g: &str| {
        Command::new(g)
            .arg("--version")
            .output()
            .ok()
            .map(|o| o.stdout)
    };
    if std::path::Path::new("/usr/bin/git").is_file() && version("/usr/bin/git") != version("git") {
        gits.push("/usr/bin/git".to_string());
    }
    gits
}

/// `git ARGS` with `credential.helper = "!<tokdash> git-credential NAME"`, isolated from the
/// machine's git config, in `w`'s tokdash world; `input` on stdin.
fn git_with_helper(git: &str, w: &World, name: &str, args: &[&str], input: &str) -> Output {
    let helper = format!(
        "!{} git-credential {name}",
        assert_cmd::cargo::cargo_bin("tokdash").display()
    );
    let mut cmd = Command::new(git);
    cmd.arg("-c")
        .arg(format!("credential.helper={helper}"))
        .args(args)
        .env(SECRET_VAR, POST_SECRET)
        .env("TOKDASH_LOG", "trace")
        .stderr(Stdio::piped());
    isolate_git(&mut cmd, w.dir.path());
    for (k, v) in w.envs() {
        cmd.env(k, v);
    }
    output_with_stdin(&mut cmd, input)
}

fn access_token(w: &World, name: &str) -> String {
    w.stored(name, "access_token")
}

fn expire_access_token(w: &World, name: &str) -> String {
    let mut record = w.record(name).unwrap();
    record["expires_at"] = serde_json::json!(0);
    std::fs::write(w.store().join(format!("{name}.json")), record.to_string()).unwrap();
    record["access_token"].as_str().unwrap().to_string()
}

#[test]
fn git_credential_fill_gets_username_token_and_expiry() {
    let server = oidc::shared();
    let w = server.minted_world(&["gh"]);
    for git in gits() {
        let out = git_with_helper(
            &git,
            &w,
            "gh",
            &["credential", "fill"],
            "protocol=https\nhost=git.example.com\n\n",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{git}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = access_token(&w, "gh");
        assert!(stdout.contains("username=oauth2\n"), "{git}: {stdout}");
        assert!(
            stdout.contains(&format!("password={token}\n")),
            "{git}: {stdout}"
        );
    }
    // The helper's own answer: the expiry too, in unix seconds (git 2.41+ keeps it).
    let out = post_cmd(&w, &["git-credential", "gh", "get"])
        .write_stdin("capability[]=authtype\nprotocol=https\nhost=h\nwwwauth[]=Basic realm=\"x\"\nfuture=1\n\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    let expires = w.record("gh").unwrap()["expires_at"].as_i64().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!(
            "username=oauth2\npassword={}\npassword_expiry_utc={expires}\n",
            access_token(&w, "gh")
        )
    );
}

#[test]
fn git_ls_remote_authenticates_with_a_refreshed_token_and_git_username() {
    let server = oidc::shared();
    let w = server.minted_world_with("gh", "git_username = \"robot\"");
    let record = w.store().join("gh.json");
    let srv = git_server(w.dir.path(), &record, "robot");
    let url = format!("http://127.0.0.1:{}/repo.git", srv.port);
    for git in gits() {
        let stale = expire_access_token(&w, "gh");
        let out = git_with_helper(&git, &w, "gh", &["ls-remote", &url], "");
        assert!(
            out.status.success(),
            "{git}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("refs/heads/main"));
        assert_ne!(access_token(&w, "gh"), stale, "{git}: refreshed first");
    }
    let requests = srv.requests();
    assert!(
        requests
            .iter()
            .any(|r| r["ok"] == true && r["user"] == "robot")
    );
}

#[test]
fn store_and_erase_change_nothing() {
    let server = oidc::shared();
    let w = server.minted_world(&["gh"]);
    let before = w.record("gh").unwrap();
    for action in ["store", "erase", "some-future-action"] {
        post_cmd(&w, &["git-credential", "gh", action])
            .write_stdin("protocol=https\nhost=h\nusername=oauth2\npassword=x\n\n")
            .assert()
            .success()
            .stdout("")
            .stderr("");
    }
    assert_eq!(w.record("gh").unwrap(), before);
}

#[test]
fn a_profile_that_needs_a_login_fails_the_fill_with_the_hint() {
    let server = oidc::shared();
    let w = World::new(&post_profile("gh", &server.issuer));
    let out = git_with_helper(
        "git",
        &w,
        "gh",
        &["credential", "fill"],
        "protocol=https\nhost=h\n\n",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "tokdash: gh: cannot refresh: no refresh token is stored; run: tokdash login gh"
        ),
        "{stderr}"
    );
}

#[test]
fn no_token_for_plain_http_to_another_host() {
    let server = oidc::shared();
    let w = server.minted_world(&["gh"]);
    let out = post_cmd(&w, &["git-credential", "gh", "get"])
        .write_stdin("protocol=http\nhost=git.example.com\n\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "tokdash: gh: refusing to give a token for plain http://git.example.com (not loopback); use https\n"
    );
}
