//! The first commands as a script sees them: import, list, config check; exit codes; secrets
//! never leaving the store.

use assert_cmd::Command;
use predicates::prelude::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A private world per test: config, store, and XDG dirs (so the log goes there too).
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(config: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("profiles.toml"), config).unwrap();
        World { dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("state/tokdash/tokdash.log")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("tokdash").unwrap();
        cmd.args(args)
            .env("TOKDASH_CONFIG", self.dir.path().join("profiles.toml"))
            .env("TOKDASH_STORE", self.store())
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("TOKDASH_LOG", "trace");
        cmd
    }
}

const CONFIG: &str = r#"
[profiles.alpha]
provider = "oauth2"
token_url = "http://127.0.0.1:9/token"
client_id = "c"

[profiles.beta]
provider = "google"
client_id = "c"
"#;

/// `tokdash import alpha` with the token response `response` on stdin, which must succeed.
fn import_alpha(w: &World, response: impl Into<Vec<u8>>) {
    w.cmd(&["import", "alpha"])
        .write_stdin(response)
        .assert()
        .success();
}

/// Runs tokdash with `args`, which must exit with `code`; returns its output.
fn exits_with(w: &World, args: &[&str], code: i32) -> std::process::Output {
    w.cmd(args).assert().code(code).get_output().clone()
}

fn json_list(world: &World) -> Vec<serde_json::Value> {
    let out = world
        .cmd(&["list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn import_then_list_shows_the_token_with_every_json_field() {
    let w = World::new(CONFIG);
    w.cmd(&["import", "alpha"])
        .write_stdin(r#"{"access_token":"AT-secret-1","refresh_token":"RT-secret-1","expires_in":"3600","token_type":"Bearer"}"#)
        .assert()
        .success()
        .stdout(predicate::str::contains("alpha: imported; valid"));
    let list = json_list(&w);
    assert_eq!(list.len(), 2);
    let alpha = &list[0];
    assert_eq!(alpha["name"], "alpha");
    assert_eq!(alpha["provider"], "oauth2");
    assert_eq!(alpha["status"], "valid");
    assert_eq!(alpha["has_refresh_token"], true);
    let expires_in = alpha["expires_in"].as_i64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    assert!(alpha["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(alpha["last_refresh"].is_null());
    assert!(alpha["last_error"].is_null());
    let beta = &list[1];
    assert_eq!(beta["status"], "needs_login");
    assert!(beta["expires_at"].is_null() && beta["expires_in"].is_null());
    assert_eq!(beta["has_refresh_token"], false);
}

#[test]
fn a_bare_refresh_token_imports_as_expired_with_a_refresh_token() {
    let w = World::new(CONFIG);
    import_alpha(&w, r#"{"refresh_token":"RT-only"}"#);
    let list = json_list(&w);
    assert_eq!(list[0]["status"], "expired");
    assert_eq!(list[0]["has_refresh_token"], true);
}

#[test]
fn expiry_comes_from_the_jwt_when_expires_in_is_missing() {
    use base64::Engine;
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let exp = tokdash::clock::now() + 600;
    let jwt = format!(
        "{}.{}.sig",
        enc(r#"{"alg":"RS256"}"#),
        enc(&format!(r#"{{"exp":{exp}}}"#))
    );
    let w = World::new(CONFIG);
    import_alpha(&w, format!(r#"{{"access_token":"{jwt}"}}"#));
    assert_eq!(json_list(&w)[0]["expires_at"], tokdash::clock::rfc3339(exp));
}

#[test]
fn import_rejects_what_is_not_a_token_response_and_keeps_the_record() {
    let w = World::new(CONFIG);
    import_alpha(&w, r#"{"refresh_token":"RT-keep"}"#);
    for bad in [
        "not json at all RT-LEAK",
        "[1,2]",
        r#"{"access_token": 5}"#,
        "{}",
    ] {
        w.cmd(&["import", "alpha"])
            .write_stdin(bad)
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with(
                "tokdash: alpha: stdin is not a token endpoint response",
            ))
            .stderr(predicate::str::contains("RT-LEAK").not());
    }
    let record = std::fs::read_to_string(w.store().join("alpha.json")).unwrap();
    assert!(record.contains("RT-keep"));
}

#[test]
fn unknown_profile_exits_2_and_lists_the_names() {
    let w = World::new(CONFIG);
    w.cmd(&["import", "gamma"])
        .write_stdin("{}")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("gamma: no such profile")
                .and(predicate::str::contains("alpha, beta")),
        );
}

#[test]
fn a_malformed_config_exits_2_naming_file_line_and_column() {
    let w = World::new("[profiles.a]\nprovider = \"google\"\nclient_id = 7\n");
    let path = w.dir.path().join("profiles.toml");
    w.cmd(&["list"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(format!(
            "tokdash: {}:3:13: invalid type",
            path.display()
        )));
}

#[test]
fn a_missing_config_says_how_to_make_one() {
    let w = World::new("");
    std::fs::remove_file(w.dir.path().join("profiles.toml")).unwrap();
    w.cmd(&["list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("tokdash config init"));
}

#[test]
fn a_store_readable_by_others_is_refused_with_the_chmod_that_fixes_it() {
    let w = World::new(CONFIG);
    std::fs::create_dir(w.store()).unwrap();
    std::fs::set_permissions(w.store(), std::fs::Permissions::from_mode(0o755)).unwrap();
    w.cmd(&["list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "chmod 700 {}",
            w.store().display()
        )));
}

#[test]
fn the_store_is_0700_and_its_files_0600() {
    let w = World::new(CONFIG);
    import_alpha(&w, r#"{"refresh_token":"r"}"#);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&w.store()), 0o700);
    for entry in std::fs::read_dir(w.store()).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[test]
fn no_token_reaches_the_log_stdout_or_stderr() {
    let w = World::new(CONFIG);
    let secrets = ["AT-zq81-secret", "RT-zq81-secret", "ID-zq81-secret"];
    let input = format!(
        r#"{{"access_token":"{}","refresh_token":"{}","id_token":"{}","expires_in":60}}"#,
        secrets[0], secrets[1], secrets[2]
    );
    let mut seen = String::new();
    for args in [
        &["import", "alpha"][..],
        &["list"],
        &["list", "--json"],
        &["config", "check"],
    ] {
        let out = w
            .cmd(args)
            .write_stdin(input.clone())
            .assert()
            .success()
            .get_output()
            .clone();
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let log = std::fs::read_to_string(w.log()).expect("the log file exists");
    assert!(
        log.contains("imported"),
        "the log records what happened: {log}"
    );
    seen.push_str(&log);
    for s in secrets {
        assert!(!seen.contains(s), "{s} leaked");
    }
}

#[test]
fn config_check_prints_each_profile_and_its_endpoints() {
    let w = World::new(CONFIG);
    w.cmd(&["config", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("[alpha]"))
        .stdout(predicate::str::contains(
            "token:          http://127.0.0.1:9/token",
        ))
        .stdout(predicate::str::contains(
            "https://oauth2.googleapis.com/token",
        ));
}

/// What a store may hold at `beta.json` instead of a record, and the words that name it.
#[derive(Clone, Copy, Debug)]
enum Bad {
    NotJson,
    /// A link to a file outside the store that holds a record and is 0644.
    Symlink,
    Directory,
    /// As root (the tests' user) no mode bits make a file unreadable; a named pipe is what root
    /// cannot read a record from either.
    NamedPipe,
}

impl Bad {
    const ALL: [Bad; 4] = [Bad::NotJson, Bad::Symlink, Bad::Directory, Bad::NamedPipe];

    fn words(self) -> &'static str {
        match self {
            Bad::NotJson => "the token record is not valid (not JSON",
            Bad::Symlink => "is a symbolic link, not a token record",
            Bad::Directory => "is a directory, not a token record",
            Bad::NamedPipe => "is a named pipe (FIFO), not a token record",
        }
    }

    fn fix(self, path: &Path) -> String {
        match self {
            Bad::Symlink => format!("remove the link (rm {})", path.display()),
            _ => "move it out of the store".into(),
        }
    }
}

/// alpha holds a good access token; beta.json is `bad`. Returns the world and, for a link, the
/// directory of its target (kept alive with the world).
fn world_with_a_bad_record(bad: Bad) -> (World, tempfile::TempDir) {
    let w = World::new(CONFIG);
    import_alpha(
        &w,
        r#"{"access_token":"AT-good-7f2","refresh_token":"RT-good-7f2","expires_in":3600}"#,
    );
    let path = w.store().join("beta.json");
    let outside = tempfile::tempdir().unwrap();
    match bad {
        Bad::NotJson => {
            std::fs::write(&path, "RT-LEAK-beta, not json").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Bad::Symlink => {
            let target = outside.path().join("passwd");
            std::fs::write(&target, r#"{"refresh_token":"RT-LEAK-beta"}"#).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
            std::os::unix::fs::symlink(&target, &path).unwrap();
        }
        Bad::Directory => std::fs::create_dir(&path).unwrap(),
        Bad::NamedPipe => {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        }
    }
    (w, outside)
}

/// The problem as every command words it: the path, what is wrong, what to do.
fn assert_names_the_problem(text: &str, bad: Bad, path: &Path) {
    assert!(
        text.contains(&format!("{}: {}", path.display(), bad.words())),
        "{bad:?}: {text}"
    );
    assert!(text.contains(&bad.fix(path)), "{bad:?}: {text}");
    assert!(text.contains("run: tokdash login beta"), "{bad:?}: {text}");
    assert!(!text.contains("chmod"), "{bad:?}: {text}");
    assert!(!text.contains("RT-LEAK"), "{bad:?}: {text}");
}

#[test]
fn list_shows_every_profile_and_names_a_bad_record_with_exit_1() {
    for bad in Bad::ALL {
        let (w, _outside) = world_with_a_bad_record(bad);
        let path = w.store().join("beta.json");
        let out = w.cmd(&["list"]).assert().code(1).get_output().clone();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = |name: &str| {
            stdout
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("{bad:?}: no {name} row in\n{stdout}"))
                .to_string()
        };
        assert!(line("alpha").contains("valid"), "{bad:?}: {stdout}");
        let beta = line("beta");
        assert!(beta.contains(" error "), "{bad:?}: {beta}");
        assert_names_the_problem(&beta, bad, &path);
        assert!(
            stderr.starts_with(&format!("tokdash: beta: {}: ", path.display())),
            "{bad:?}: {stderr}"
        );
        assert_names_the_problem(&stderr, bad, &path);
    }
}

#[test]
fn list_json_shows_every_profile_with_a_bad_record_in_last_error() {
    for bad in Bad::ALL {
        let (w, _outside) = world_with_a_bad_record(bad);
        let path = w.store().join("beta.json");
        let out = exits_with(&w, &["list", "--json"], 1);
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(list.len(), 2, "{bad:?}");
        assert_eq!(list[0]["name"], "alpha");
        assert_eq!(list[0]["status"], "valid");
        let beta = &list[1];
        assert_eq!(beta["name"], "beta");
        assert_eq!(beta["provider"], "google");
        assert_eq!(beta["status"], "error", "{bad:?}");
        let fields: Vec<&String> = beta.as_object().unwrap().keys().collect();
        assert_eq!(
            fields,
            [
                "expires_at",
                "expires_in",
                "has_refresh_token",
                "last_error",
                "last_refresh",
                "name",
                "provider",
                "refresh_token_expires_at",
                "status"
            ],
            "the same fields as any other profile"
        );
        assert!(beta["expires_at"].is_null() && beta["expires_in"].is_null());
        assert_names_the_problem(beta["last_error"].as_str().unwrap(), bad, &path);
    }
}

#[test]
fn token_of_another_profile_works_beside_a_bad_record_and_of_the_bad_one_exits_2() {
    for bad in Bad::ALL {
        let (w, outside) = world_with_a_bad_record(bad);
        let path = w.store().join("beta.json");
        w.cmd(&["token", "alpha"])
            .assert()
            .success()
            .stdout("AT-good-7f2\n");
        let out = exits_with(&w, &["token", "beta"], 2);
        assert!(out.stdout.is_empty(), "{bad:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!("tokdash: beta: {}: ", path.display())),
            "{bad:?}: {stderr}"
        );
        assert_names_the_problem(&stderr, bad, &path);
        if let Bad::Symlink = bad {
            let target = outside.path().join("passwd");
            assert_eq!(
                std::fs::read_to_string(&target).unwrap(),
                r#"{"refresh_token":"RT-LEAK-beta"}"#
            );
            assert_eq!(
                std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
                0o644
            );
        }
    }
}
