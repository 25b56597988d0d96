//! `tokdash config init`: the first run of a new user, who has no config and no example file.

use crate::support::world::World;
use predicates::prelude::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn init_writes_a_starter_per_provider_that_tokdash_reads_and_says_what_to_fill_in() {
    let w = World::new("");
    for (provider, name) in [
        ("google", "google"),
        ("microsoft", "entra"),
        ("auth0", "auth0"),
        ("oidc", "oidc"),
        ("oauth2", "oauth2"),
    ] {
        let path = w.dir.path().join(format!("new/{provider}/profiles.toml"));
        let config = path.to_str().unwrap();
        w.cmd(&["--config", config, "config", "init", "--provider", provider])
            .assert()
            .success()
            .stdout(predicate::str::contains(config))
            .stdout(predicate::str::contains("client_id"))
            .stdout(predicate::str::contains(format!("tokdash login {name}")));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{provider}: owner only");
        // The real binary reads it: the profile is there, waiting for its first login.
        let out = w
            .cmd(&["--config", config, "list", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let list: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(list[0]["name"], name);
        assert_eq!(list[0]["provider"], provider);
        assert_eq!(list[0]["status"], "needs_login");
    }
}

#[test]
fn init_never_writes_over_an_existing_config() {
    let w = World::new("# mine\n");
    w.cmd(&["config", "init", "--provider", "google"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(w.config_path().to_str().unwrap()))
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(w.config_path()).unwrap(),
        "# mine\n"
    );
}

#[test]
fn a_new_user_is_sent_to_init_which_writes_where_tokdash_looks() {
    let w = World::new("");
    let mut list = w.cmd(&["list"]);
    list.env_remove("TOKDASH_CONFIG");
    list.assert()
        .code(2)
        .stderr(predicate::str::contains("tokdash config init"));
    let mut init = w.cmd(&["config", "init"]);
    init.env_remove("TOKDASH_CONFIG");
    init.assert()
        .success()
        .stdout(predicate::str::contains("oidc is the default"));
    let written = w.dir.path().join("config/tokdash/profiles.toml");
    assert!(
        std::fs::read_to_string(written)
            .unwrap()
            .contains("provider = \"oidc\"")
    );
    let mut list = w.cmd(&["list"]);
    list.env_remove("TOKDASH_CONFIG");
    list.assert()
        .success()
        .stdout(predicate::str::contains("oidc"));
}
