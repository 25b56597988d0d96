//! Token files and the `on_refresh` hook (SPEC.md "Tokens where they are used"), against the
//! real authorization server: the files every process rewrites after it stores a new token
//! (`token`, `import`, the dashboard), read back valid by the server's userinfo endpoint (`/me`);
//! a symbolic link in a file's place, a directory others can write, hooks that hang or fail, and
//! what a hook sees. The binary's shared server (`oidc::shared`).

use crate::support;
use crate::support::oidc::{self, OidcServer, post_cmd};
use crate::support::tmux::Tmux;
use crate::support::world::World;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

fn server() -> &'static OidcServer {
    oidc::shared()
}

/// A private directory for token files inside the world (0700, like the world itself).
pub fn out_dir(w: &World) -> PathBuf {
    let dir = w.dir.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// Profile `p` for `client` with `extra` lines, `settings` above it.
fn config(settings: &str, client: &str, extra: &str) -> String {
    format!(
        "[settings]\n{settings}\n{}",
        oidc::profile(
            "p",
            &server().issuer,
            client,
            &format!("client_secret_env = \"{}\"\n{extra}", oidc::SECRET_VAR)
        )
    )
}

/// A world whose config is written once its out directory exists (`extra` may name it as
/// `{out}`), holding a token just minted for `client`.
fn minted(settings: &str, client: &str, extra: &str) -> World {
    let w = World::new("");
    let out = out_dir(&w);
    w.write_config(&config(
        settings,
        client,
        &extra.replace("{out}", &out.display().to_string()),
    ));
    server().mint_into(&w, client);
    w
}

fn stored(w: &World, key: &str) -> String {
    w.stored("p", key)
}

/// The HTTP status of the server's userinfo endpoint for `token`.
pub fn userinfo_status(issuer: &str, token: &str) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{issuer}/me"))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// [`minted`] for the 60 s client: its tokens are never valid for an hour, so
/// [`refresh_by_token`] always refreshes them.
fn minted_60s(settings: &str, extra: &str) -> World {
    minted(settings, &oidc::lifetime_client(60, ""), extra)
}

/// `token p --min-valid 1h`: refreshes a 60 s token, which rewrites the files and runs the hook.
fn refresh_by_token(w: &World) -> Output {
    post_cmd(w, &["token", "p", "--min-valid", "1h"])
        .output()
        .unwrap()
}

/// [`refresh_by_token`], which must succeed.
#[track_caller]
fn refresh_by_token_ok(w: &World) -> Output {
    let out = refresh_by_token(w);
    assert!(out.status.success(), "{}", support::stderr(&out));
    out
}

/// `token --min-valid 1h` refreshes a 60 s token: both files hold the new tokens alone (no
/// newline), 0600, and the server takes the access token from the file.
#[test]
fn a_refresh_by_token_rewrites_both_files_and_the_server_accepts_them() {
    let w = minted_60s(
        "",
        "access_token_file = \"{out}/p.at\"\nid_token_file = \"{out}/p.id\"",
    );
    let at_file = w.dir.path().join("out/p.at");
    let id_file = w.dir.path().join("out/p.id");
    let imported = std::fs::read_to_string(&at_file).expect("import writes the file");
    assert_eq!(imported, stored(&w, "access_token"), "import wrote it");

    let out = refresh_by_token_ok(&w);
    let printed = String::from_utf8(out.stdout).unwrap();
    let in_file = std::fs::read_to_string(&at_file).unwrap();
    assert_ne!(in_file, imported, "rewritten by the refresh");
    assert_eq!(in_file, stored(&w, "access_token"));
    assert_eq!(
        format!("{in_file}\n"),
        printed,
        "the token alone, no newline"
    );
    assert_eq!(
        std::fs::read_to_string(&id_file).unwrap(),
        stored(&w, "id_token")
    );
    assert_eq!(mode(&at_file), 0o600);
    assert_eq!(mode(&id_file), 0o600);
    assert_eq!(userinfo_status(&server().issuer, &in_file), "200");
}

/// A symbolic link in the file's place is replaced by a plain file, with a warning; its target
/// is never written.
#[test]
fn a_symlinked_token_file_is_replaced_and_its_target_never_written() {
    let client = oidc::lifetime_client(60, "");
    let w = World::new("");
    let out = out_dir(&w);
    let target = w.dir.path().join("precious");
    std::fs::write(&target, "do not overwrite").unwrap();
    std::os::unix::fs::symlink(&target, out.join("p.at")).unwrap();
    w.write_config(&config(
        "",
        &client,
        &format!("access_token_file = \"{}/p.at\"", out.display()),
    ));
    let response = server().mint(
        &client,
        Some(oidc::POST_SECRET),
        "client_secret_post",
        oidc::DEFAULT_SCOPE,
    );
    let import = w
        .cmd(&["import", "p"])
        .write_stdin(response.to_string())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&import.stderr);
    assert!(import.status.success(), "{stderr}");
    assert!(stderr.contains("was a symbolic link"), "{stderr}");
    assert!(stderr.contains("target was not written"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "do not overwrite"
    );
    let file = out.join("p.at");
    assert!(
        !std::fs::symlink_metadata(&file)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        stored(&w, "access_token")
    );
    assert!(w.log_text().contains("was a symbolic link"));
}

/// A token file in a directory others can write (here 0777, and /tmp) is a config error at
/// load, for every command: exit 2, the key, the directory and the way out.
#[test]
fn a_token_file_in_a_directory_others_can_write_is_a_config_error() {
    let w = World::new("");
    let open = w.dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    for (key, dir) in [
        ("access_token_file", open.clone()),
        ("id_token_file", "/tmp".into()),
    ] {
        w.write_config(&config(
            "",
            oidc::POST_CLIENT,
            &format!("{key} = \"{}/p.token\"", dir.display()),
        ));
        let out = w.cmd(&["list"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "profile p: {key}: the directory {}",
                dir.display()
            )),
            "{stderr}"
        );
        assert!(stderr.contains("can be written by other users"), "{stderr}");
        assert!(
            stderr.contains("choose a directory only you can write"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    }
}

/// A hook that hangs is killed after `settings.timeout`; the refreshed token is stored and
/// printed, and the next refresh works.
#[test]
fn a_hook_that_hangs_is_killed_after_the_timeout_and_the_token_is_intact() {
    let w = minted_60s(
        "timeout = \"2s\"",
        "on_refresh = [\"sh\", \"-c\", \"sleep 60\"]",
    );
    for _ in 0..2 {
        let before = stored(&w, "access_token");
        let started = Instant::now();
        let out = post_cmd(&w, &["token", "p", "--min-valid", "1h"])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        assert!(
            stderr.contains("on_refresh sh was killed after 2s"),
            "{stderr}"
        );
        let now = stored(&w, "access_token");
        assert_ne!(now, before, "refreshed");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{now}\n"));
        assert_eq!(userinfo_status(&server().issuer, &now), "200");
    }
    assert!(w.log_text().contains("was killed after 2s"));
}

/// A hook that fails is a warning (its first stderr line quoted) in the log and on stderr; the
/// token stays stored.
#[test]
fn a_hook_that_fails_is_a_warning_and_the_token_is_intact() {
    let w = minted_60s(
        "",
        "on_refresh = [\"sh\", \"-c\", \"echo no route to the app >&2; exit 3\"]",
    );
    let before = stored(&w, "access_token");
    let out = refresh_by_token(&w);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("on_refresh sh failed (exit status: 3): no route to the app"),
        "{stderr}"
    );
    let now = stored(&w, "access_token");
    assert_ne!(now, before);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{now}\n"));
    assert!(w.log_text().contains("no route to the app"));
}

/// The hook runs without a shell (the test picks sh as the program), with the token, the
/// profile and the expiry in its environment and no token in its argv.
#[test]
fn the_hook_has_the_token_in_its_environment_and_not_in_its_argv() {
    let w = minted_60s(
        "",
        r#"on_refresh = ["sh", "-c", "printf %s \"$TOKDASH_ACCESS_TOKEN\" > {out}/env-token; echo \"$0 $@\" > {out}/argv; printf '%s %s' \"$TOKDASH_PROFILE\" \"$TOKDASH_EXPIRES_AT\" > {out}/env-rest", "hook", "arg1"]"#,
    );
    refresh_by_token_ok(&w);
    let dir = w.dir.path().join("out");
    let token = stored(&w, "access_token");
    assert_eq!(
        std::fs::read_to_string(dir.join("env-token")).unwrap(),
        token
    );
    let argv = std::fs::read_to_string(dir.join("argv")).unwrap();
    assert_eq!(argv, "hook arg1\n");
    assert!(!argv.contains(&token));
    let rest = std::fs::read_to_string(dir.join("env-rest")).unwrap();
    let expires = tokdash::clock::rfc3339(w.record("p").unwrap()["expires_at"].as_i64().unwrap());
    assert_eq!(rest, format!("p {expires}"));
}

/// The dashboard's auto-refresh rewrites the file too (10 s tokens), and a failing hook's
/// words become the row's message.
#[test]
fn the_dashboards_auto_refresh_rewrites_the_file_and_shows_a_failing_hook() {
    let client = oidc::lifetime_client(10, "dash");
    let w = minted(
        "",
        &client,
        "access_token_file = \"{out}/p.at\"\non_refresh = [\"sh\", \"-c\", \"echo hook-broke >&2; exit 1\"]",
    );
    let file = w.dir.path().join("out/p.at");
    let imported = std::fs::read_to_string(&file).unwrap();
    let mut envs = w.envs();
    envs.push((oidc::SECRET_VAR, oidc::POST_SECRET.into()));
    let tmux = Tmux::start(&[], &envs, 160, 20);
    crate::support::wait_until(Duration::from_secs(40), "an automatic refresh", || {
        std::fs::read_to_string(&file).is_ok_and(|t| t != imported)
    });
    tmux.wait_for_text("hook-broke", Duration::from_secs(20));
    tmux.keys(&["q"]);
    assert_eq!(tmux.wait_exit(Duration::from_secs(20)), 0);
    let in_file = std::fs::read_to_string(&file).unwrap();
    assert_eq!(in_file, stored(&w, "access_token"));
    assert_eq!(userinfo_status(&server().issuer, &in_file), "200");
}
