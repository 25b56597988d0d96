//! `tokdash completions bash|zsh|fish` and the hidden `tokdash _names` they complete profile
//! names from. The bash script is checked by bash itself: it parses (`bash -n`), and its
//! completion function, called as bash calls it, offers the profile names where a NAME goes.

use crate::support::world::World;
use std::process::Command;

const CONFIG: &str = "[profiles.work]\nprovider = \"oauth2\"\ntoken_url = \"https://idp.example.com/token\"\nclient_id = \"c\"\n\n[profiles.home]\nprovider = \"oauth2\"\ntoken_url = \"https://idp.example.com/token\"\nclient_id = \"c\"\n\n[profiles.wiki]\nprovider = \"oauth2\"\ntoken_url = \"https://idp.example.com/token\"\nclient_id = \"c\"\n";

fn script(w: &World, shell: &str) -> String {
    let out = w.cmd(&["completions", shell]).output().unwrap();
    assert!(out.status.success(), "{shell}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn names_prints_the_profile_names() {
    let w = World::new(CONFIG);
    let out = w.cmd(&["_names"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "work\nhome\nwiki\n");
}

#[test]
fn every_shell_gets_a_script_with_the_names_helper() {
    let w = World::new(CONFIG);
    assert!(script(&w, "zsh").contains("tokdash _names"));
    assert!(script(&w, "fish").contains("tokdash _names"));
    let out = w.cmd(&["completions", "powershell"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Runs the bash completion for the words of a command line (the last one being completed)
/// and returns what it offers.
fn complete(w: &World, path: &std::path::Path, words: &[&str]) -> Vec<String> {
    let bin = assert_cmd::cargo::cargo_bin("tokdash");
    let dir = bin.parent().unwrap();
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let driver = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n_tokdash_with_names tokdash \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        path.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(driver).env(
        "PATH",
        format!("{}:{}", dir.display(), std::env::var("PATH").unwrap()),
    );
    for (k, v) in w.envs() {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{words:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut offered: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    offered.sort();
    offered
}

#[test]
fn bash_accepts_the_script_and_completes_profile_names() {
    let w = World::new(CONFIG);
    let path = w.dir.path().join("tokdash.bash");
    std::fs::write(&path, script(&w, "bash")).unwrap();
    let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    assert_eq!(
        complete(&w, &path, &["tokdash", "token", ""]),
        ["home", "wiki", "work"]
    );
    assert_eq!(
        complete(&w, &path, &["tokdash", "call", "w"]),
        ["wiki", "work"]
    );
    assert_eq!(
        complete(&w, &path, &["tokdash", "exec", "--env", "T", "h"]),
        ["home"]
    );
    assert_eq!(
        complete(&w, &path, &["tokdash", "refresh", "work", "w"]),
        ["wiki", "work"],
        "refresh takes several"
    );
    // Subcommands are clap_complete's.
    let commands = complete(&w, &path, &["tokdash", "to"]);
    assert_eq!(commands, ["token"]);
    // A flag's value is not a profile name.
    assert!(!complete(&w, &path, &["tokdash", "token", "--format", ""]).contains(&"work".into()));
    // Only one NAME for `token`.
    assert!(!complete(&w, &path, &["tokdash", "token", "work", ""]).contains(&"home".into()));
}

#[test]
fn bash_completes_config_init_and_its_providers() {
    let w = World::new(CONFIG);
    let path = w.dir.path().join("tokdash.bash");
    std::fs::write(&path, script(&w, "bash")).unwrap();
    assert!(complete(&w, &path, &["tokdash", "config", ""]).contains(&"init".into()));
    assert_eq!(
        complete(&w, &path, &["tokdash", "config", "init", "--provider", ""]),
        ["auth0", "google", "microsoft", "oauth2", "oidc"]
    );
}
