//! `tokdash exec NAME [--env VAR] -- PROGRAM ARGS` against the real server (SPEC.md "Tokens
//! where they are used"): the token in the environment only, the program run without a shell
//! (the tests run `sh` as the PROGRAM when they need one), its exit status passed through.

use crate::support::oidc::{self, post_cmd};
use crate::token_use::{minted, stored_access_token};

fn world() -> crate::support::world::World {
    minted(&oidc::lifetime_client(60, "dash")).0
}

/// `tokdash args` in `w`, run to the end.
fn run(w: &crate::support::world::World, args: &[&str]) -> std::process::Output {
    post_cmd(w, args).output().unwrap()
}

#[test]
fn the_program_gets_the_token_in_its_environment_and_in_no_argv() {
    let w = world();
    let token = stored_access_token(&w);
    // $PPID is tokdash itself: neither its command line nor the program's holds the token.
    let script = r#"test -n "$TOKDASH_ACCESS_TOKEN" && test "$TOKDASH_ACCESS_TOKEN" = "$EXPECTED" && echo ok; tr '\0' ' ' </proc/$$/cmdline; echo; tr '\0' ' ' </proc/$PPID/cmdline"#;
    let out = post_cmd(&w, &["exec", "p", "--", "sh", "-c", script])
        .env("EXPECTED", &token)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("ok"), "{stdout}");
    let argvs: Vec<&str> = lines.collect();
    assert_eq!(argvs.len(), 2, "{stdout}");
    assert!(argvs[0].starts_with("sh -c "), "{stdout}");
    assert!(argvs[1].contains("exec p -- sh"), "tokdash's own: {stdout}");
    assert!(!stdout.contains(&token), "no token in any argv");
}

#[test]
fn env_names_another_variable() {
    let w = world();
    let token = stored_access_token(&w);
    let out = post_cmd(
        &w,
        &[
            "exec",
            "p",
            "--env",
            "API_TOKEN",
            "--",
            "sh",
            "-c",
            r#"printf %s "$API_TOKEN"; test -z "$TOKDASH_ACCESS_TOKEN""#,
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), token);

    let out = run(&w, &["exec", "p", "--env", "A=B", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_exit_status_is_the_programs() {
    let w = world();
    for (script, code) in [("exit 0", 0), ("exit 7", 7), ("exit 255", 255)] {
        let out = run(&w, &["exec", "p", "--", "sh", "-c", script]);
        assert_eq!(out.status.code(), Some(code), "{script}");
        assert!(out.stderr.is_empty(), "{script}: nothing of tokdash's own");
    }
    // Ended by SIGTERM (15): 128 + 15, as shells report it.
    let out = run(&w, &["exec", "p", "--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(out.status.code(), Some(143));
}

#[test]
fn a_program_not_found_is_127_and_one_not_executable_126() {
    let w = world();
    let out = run(&w, &["exec", "p", "--", "no-such-program-tokdash-test"]);
    assert_eq!(out.status.code(), Some(127));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        "tokdash: p: exec: no-such-program-tokdash-test: command not found\n"
    );

    let plain = w.dir.path().join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\necho hi\n").unwrap();
    let out = run(&w, &["exec", "p", "--", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("not-executable: permission denied") && stderr.lines().count() == 1,
        "{stderr}"
    );
}
