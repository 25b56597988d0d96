//! `token` and the other one-profile commands read their profile through the config's index
//! (src/config/index.rs) once the whole file was read, and every edit of the file is seen: the
//! index is keyed by the file's bytes.

use crate::support::world::World;
use serde_json::json;

const CONFIG: &str = r#"[settings]
refresh_ahead = "1m"

[profiles.a]
provider = "oauth2"
token_url = "http://127.0.0.1:9/token"
client_id = "a"

[profiles.b]
provider = "oauth2"
token_url = "http://127.0.0.1:9/token"
client_id = "b"
"#;

fn token(w: &World, name: &str) -> std::process::Output {
    w.cmd(&["token", name]).output().unwrap()
}

fn index_reads(w: &World) -> usize {
    w.log_text().matches("read through the index").count()
}

#[test]
fn token_reads_its_profile_through_the_index_and_sees_every_edit() {
    let w = World::new(CONFIG);
    w.import(
        "a",
        &json!({"access_token": "at-a", "expires_in": 600, "refresh_token": "rt"}),
    );

    // The first reads the whole file and indexes it; the second reads through the index.
    let first = token(&w, "a");
    assert!(first.status.success(), "{first:?}");
    assert_eq!(String::from_utf8_lossy(&first.stdout), "at-a\n");
    let before = index_reads(&w);
    let second = token(&w, "a");
    assert_eq!(String::from_utf8_lossy(&second.stdout), "at-a\n");
    assert_eq!(index_reads(&w), before + 1, "{}", w.log_text());

    // A mistake in another profile is still the config error it always was, with its line.
    w.write_config(&format!(
        "{CONFIG}\n[profiles.c]\nprovider = \"oauth2\"\nbogus = 1\n"
    ));
    let broken = token(&w, "a");
    assert_eq!(broken.status.code(), Some(2), "{broken:?}");
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("profiles.toml:16:1:"), "{stderr}");
    assert!(stderr.contains("bogus"), "{stderr}");

    // An edit of what the profile reads is seen: with 10 minutes left, a `refresh_ahead` of 20
    // minutes makes the token due, so a refresh is tried (and fails: nothing listens at the
    // token endpoint) before the still valid token is printed with a warning.
    w.write_config(CONFIG);
    w.age_token("a", 3000); // a one-hour token, 10 minutes left
    let fresh = token(&w, "a");
    assert!(
        fresh.status.success() && fresh.stderr.is_empty(),
        "{fresh:?}"
    );
    w.write_config(&CONFIG.replace("refresh_ahead = \"1m\"", "refresh_ahead = \"20m\""));
    let due = token(&w, "a");
    assert_eq!(String::from_utf8_lossy(&due.stdout), "at-a\n");
    assert!(
        String::from_utf8_lossy(&due.stderr).contains("refresh failed"),
        "{due:?}"
    );
}

#[test]
fn a_name_the_config_lacks_is_named_with_those_it_has_after_indexing() {
    let w = World::new(CONFIG);
    w.import(
        "a",
        &json!({"access_token": "at-a", "expires_in": 3600, "refresh_token": "rt"}),
    );
    assert!(token(&w, "a").status.success());
    let missing = token(&w, "nope");
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("nope") && stderr.contains("a, b"),
        "{stderr}"
    );
}
