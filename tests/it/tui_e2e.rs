//! The dashboard end to end: the real binary in tmux against the real authorization server.

use crate::support::oidc::{self, OidcServer};
use crate::support::tmux::Tmux;
use crate::support::world::World;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn profile(name: &str, issuer: &str) -> String {
    format!(
        "[profiles.{name}]\nprovider = \"oidc\"\nissuer = \"{issuer}\"\nclient_id = \"{}\"\nclient_secret_env = \"TD_SECRET\"\nrefresh_ahead = \"10s\"\n",
        oidc::POST_CLIENT
    )
}

/// The shared server (each test's grants are its own: it mints them) and a world of three
/// profiles, `alpha` and `bravo` holding tokens.
fn setup() -> (&'static OidcServer, World) {
    let server = oidc::shared();
    let config = format!(
        "[settings]\nauto_refresh = false\n{}{}{}",
        profile("alpha", &server.issuer),
        profile("bravo", &server.issuer),
        profile("charlie", &server.issuer)
    );
    let w = World::new(&config);
    for name in ["alpha", "bravo"] {
        w.import(
            name,
            &server.mint(
                oidc::POST_CLIENT,
                Some(oidc::POST_SECRET),
                "client_secret_post",
                oidc::DEFAULT_SCOPE,
            ),
        );
    }
    (server, w)
}

fn envs(w: &World) -> Vec<(&'static str, std::path::PathBuf)> {
    let mut envs = w.envs();
    envs.push(("TD_SECRET", oidc::POST_SECRET.into()));
    envs
}

/// The dashboard of `w` in a tmux window 100 columns wide and `rows` high, once it lists `alpha`.
fn dashboard(w: &World, rows: u16) -> Tmux {
    let tmux = Tmux::start(&[], &envs(w), 100, rows);
    tmux.wait_for_text("alpha", WAIT);
    tmux
}

/// Quits the dashboard with `q`; returns tokdash's exit code once it has exited.
fn quit(tmux: &Tmux) -> i32 {
    tmux.keys(&["q"]);
    tmux.wait_exit(WAIT)
}

fn line_of<'a>(screen: &'a str, name: &str) -> &'a str {
    screen.lines().find(|l| l.starts_with(name)).unwrap_or("")
}

fn rt(w: &World, name: &str) -> String {
    stored_token(w, name, "refresh_token")
}

fn stored_token(w: &World, name: &str, which: &str) -> String {
    w.stored(name, which)
}

#[test]
fn dashboard_lists_counts_down_refreshes_filters_revokes_and_quits_cleanly() {
    let (server, w) = setup();
    let tmux = Tmux::start(&[], &envs(&w), 100, 24);
    let screen = tmux.wait_for("three rows", WAIT, |s| {
        s.contains("alpha") && s.contains("bravo") && s.contains("charlie") && s.contains("valid")
    });
    assert!(
        line_of(&screen, "charlie").contains("needs_login"),
        "{screen}"
    );
    assert_eq!(tmux.var("alternate_on"), "1");

    // The countdown moves by itself.
    let first = line_of(&screen, "alpha").to_string();
    tmux.wait_for("the countdown to move", WAIT, |s| {
        line_of(s, "alpha") != first
    });

    // r refreshes the selected row (alpha): the server rotates, the store has the new token.
    let before = rt(&w, "alpha");
    tmux.keys(&["r"]);
    tmux.wait_for("alpha refreshed", WAIT, |s| {
        line_of(s, "alpha").contains("refreshed")
    });
    assert_ne!(rt(&w, "alpha"), before);

    // / filters as you type; Esc clears.
    tmux.keys(&["/", "c", "h", "a"]);
    let filtered = tmux.wait_for("only charlie", WAIT, |s| {
        !s.contains("alpha ") && s.contains("charlie")
    });
    assert!(!filtered.contains("bravo"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("all rows back", WAIT, |s| {
        !line_of(s, "alpha").is_empty() && !line_of(s, "bravo").is_empty()
    });

    // x then y revokes the selected row (bravo, one down).
    let bravo_rt = rt(&w, "bravo");
    tmux.keys(&["g", "j", "x"]);
    tmux.wait_for_text("Revoke the tokens of bravo", WAIT);
    tmux.keys(&["y"]);
    tmux.wait_for("bravo revoked", WAIT, |s| {
        line_of(s, "bravo").contains("revoked")
    });
    assert_eq!(
        server.introspect(oidc::POST_CLIENT, Some(oidc::POST_SECRET), &bravo_rt)["active"],
        false
    );

    // q quits and gives the terminal back.
    assert_eq!(quit(&tmux), 0);
    assert_eq!(tmux.var("alternate_on"), "0", "left the alternate screen");
    assert_eq!(tmux.var("cursor_flag"), "1", "the cursor is visible again");
}

#[test]
fn a_refresh_by_another_process_shows_up_without_a_request() {
    let (_server, w) = setup();
    let tmux = dashboard(&w, 24);
    w.cmd(&["refresh", "alpha"])
        .env("TD_SECRET", oidc::POST_SECRET)
        .assert()
        .success();
    tmux.wait_for("the other process's refresh", WAIT, |s| {
        line_of(s, "alpha").contains("updated by another process")
    });
    quit(&tmux);
}

#[test]
fn c_copies_the_access_token_through_osc_52() {
    let (_server, w) = setup();
    let token = stored_token(&w, "alpha", "access_token");
    let tmux = dashboard(&w, 24);
    tmux.keys(&["c"]);
    tmux.wait_for_text("access token copied", WAIT);
    crate::support::wait_until(WAIT, "tmux's buffer to hold the token", || {
        tmux.run(&["show-buffer"]).contains(&token)
    });
    quit(&tmux);
}

/// The dashboard keeps no token values for its rows: the details pane reads them from the store,
/// and again after a refresh.
#[test]
fn details_read_the_tokens_from_the_store_and_follow_a_refresh() {
    let (_server, w) = setup();
    let tmux = dashboard(&w, 40);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for_text("id token claims (decoded, NOT verified)", WAIT);
    let before = stored_token(&w, "alpha", "access_token");
    let prefix = |t: &str| t[..16].to_string();
    assert!(!screen.contains(&prefix(&before)), "masked:\n{screen}");
    assert!(screen.contains("sub: "), "{screen}");
    tmux.keys(&["v"]);
    tmux.wait_for("the token revealed", WAIT, |s| s.contains(&prefix(&before)));
    // r from the details: the new token replaces the old one in the pane, still revealed.
    tmux.keys(&["r"]);
    crate::support::wait_until(WAIT, "the refresh to be stored", || {
        stored_token(&w, "alpha", "access_token") != before
    });
    let after = stored_token(&w, "alpha", "access_token");
    tmux.wait_for("the new token in the details", WAIT, |s| {
        s.contains(&prefix(&after)) && !s.contains(&prefix(&before))
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the details to close", WAIT, |s| {
        !s.contains("NOT verified")
    });
    assert_eq!(quit(&tmux), 0);
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    for signal in ["TERM", "HUP"] {
        let (_server, w) = setup();
        let tmux = dashboard(&w, 24);
        let pid = tmux.tokdash_pid();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
        tmux.wait_exit(WAIT);
        assert_eq!(
            tmux.var("alternate_on"),
            "0",
            "SIG{signal}: left the alternate screen"
        );
        assert_eq!(tmux.var("cursor_flag"), "1", "SIG{signal}: cursor visible");
    }
}

#[test]
fn login_from_the_dashboard_with_the_popup() {
    let (server, w) = setup();
    let tmux = Tmux::start(&[], &envs(&w), 100, 40);
    tmux.wait_for_text("charlie", WAIT);
    tmux.keys(&["G", "l"]);
    let screen = tmux.wait_for_text("and enter the code", WAIT);
    let code = screen
        .lines()
        .skip_while(|l| !l.contains("and enter the code"))
        .nth(1)
        .map(|l| {
            l.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .to_string()
        })
        .unwrap();
    assert!(screen.contains("expires in"));
    server.approve(&code);
    tmux.wait_for("charlie valid", Duration::from_secs(40), |s| {
        line_of(s, "charlie").contains("valid")
    });
    assert!(w.record("charlie").unwrap()["refresh_token"].is_string());
    quit(&tmux);
}

#[test]
fn the_demo_runs_with_every_row_counting_down() {
    let w = World::new("");
    let tmux = Tmux::start(&["demo"], &w.envs(), 120, 30);
    // The first frame comes before the store is read: the rows say so, then show the seeded
    // records.
    let statuses = ["valid", "expired", "needs_login", "revoked"];
    let screen = tmux.wait_for("the demo's statuses", WAIT, |s| {
        s.contains("demo-rotating")
            && s.contains("demo-revoked")
            && !s.contains("reading the store")
            && statuses.iter().all(|status| s.contains(status))
    });
    assert!(
        line_of(&screen, "demo-revoked").contains("revoked"),
        "{screen}"
    );
    let first = line_of(&screen, "demo-steady").to_string();
    tmux.wait_for("the countdown to move", WAIT, |s| {
        line_of(s, "demo-steady") != first
    });
    tmux.keys(&["R"]);
    tmux.wait_for("the refreshes", WAIT, |s| {
        line_of(s, "demo-steady").contains("refreshed")
    });
    quit(&tmux);
    assert_eq!(tmux.var("alternate_on"), "0");
    assert!(
        !w.dir.path().join("state").exists() && !w.dir.path().join("data").exists(),
        "the demo wrote nothing to the user's directories"
    );
}

#[test]
fn keys_answer_while_a_request_hangs_and_q_still_quits() {
    // A server that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let w = World::new(&format!(
        "[settings]\nauto_refresh = false\ntimeout = \"120s\"\n[profiles.stuck]\nprovider = \"oauth2\"\ntoken_url = \"http://127.0.0.1:{port}/token\"\nclient_id = \"c\"\n"
    ));
    w.import(
        "stuck",
        &serde_json::json!({"access_token": "AT", "refresh_token": "RT", "expires_in": 3600}),
    );
    let tmux = Tmux::start(&[], &w.envs(), 100, 24);
    tmux.wait_for_text("stuck", WAIT);
    tmux.keys(&["r"]);
    tmux.wait_for("the refresh in flight", WAIT, |s| {
        line_of(s, "stuck").contains("refreshing")
    });
    tmux.keys(&["?"]);
    tmux.wait_for_text("any key closes", WAIT);
    // Esc alone: an Esc followed at once by another key reads as Alt+key in any terminal.
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help to close", WAIT, |s| !s.contains("any key closes"));
    tmux.keys(&["/", "s", "t"]);
    tmux.wait_for_text("/st", WAIT);
    tmux.keys(&["Enter", "q"]);
    assert_eq!(
        tmux.wait_exit(WAIT),
        0,
        "quits with the request still hanging"
    );
    assert_eq!(w.record("stuck").unwrap()["refresh_token"], "RT");
}

/// A record the store refuses is an error row in the words `list` uses, beside rows that work,
/// and the row clears once the record is out of the way.
#[test]
fn a_bad_record_is_an_error_row_with_the_stores_words_until_it_is_removed() {
    let profile = |name: &str| {
        format!(
            "[profiles.{name}]\nprovider = \"oauth2\"\ntoken_url = \"http://127.0.0.1:9/token\"\nclient_id = \"c\"\n"
        )
    };
    let w = World::new(&format!(
        "[settings]\nauto_refresh = false\n{}{}",
        profile("alpha"),
        profile("bravo")
    ));
    w.import(
        "alpha",
        &serde_json::json!({"access_token": "AT", "refresh_token": "RT", "expires_in": 3600}),
    );
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("passwd");
    std::fs::write(&target, r#"{"refresh_token": "RT-OUTSIDE"}"#).unwrap();
    let link = w.store().join("bravo.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let words = format!(
        "{}: is a symbolic link, not a token record; tokdash keeps only plain files in its store: remove the link (rm {}) and run: tokdash login bravo",
        link.display(),
        link.display()
    );
    // The same words as `list`.
    let listed = w
        .cmd(&["list"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&listed).contains(&words));

    // Wide enough for the whole message.
    let tmux = Tmux::start(&[], &w.envs(), 320, 24);
    let screen = tmux.wait_for("bravo's error row", WAIT, |s| {
        line_of(s, "bravo").contains(&words)
    });
    let bravo = line_of(&screen, "bravo");
    assert!(bravo.contains(" error "), "{screen}");
    assert!(
        !bravo.contains("needs_login") && !bravo.contains("press l"),
        "{screen}"
    );
    assert!(line_of(&screen, "alpha").contains("valid"), "{screen}");
    assert!(!screen.contains("RT-OUTSIDE"));

    // r on bravo sends nothing and says why.
    tmux.keys(&["j", "r"]);
    tmux.wait_for_text("bravo: nothing done: ", WAIT);

    // The link removed: the next poll makes bravo a profile with no token yet.
    std::fs::remove_file(&link).unwrap();
    tmux.wait_for("bravo without its error", WAIT, |s| {
        line_of(s, "bravo").contains("needs_login")
            && line_of(s, "bravo").contains("no token yet: press l to log in")
    });
    assert_eq!(quit(&tmux), 0);
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        r#"{"refresh_token": "RT-OUTSIDE"}"#
    );
}

/// `l` on a browser profile: the popup shows the whole URL (no border beside it, so it is read
/// back from the screen as a mouse selection would take it), the callback address is pasted
/// into the popup's field, and the row turns valid.
#[test]
fn browser_login_from_the_dashboard_by_pasting_into_the_popup() {
    let server = oidc::shared();
    let w = World::new(&format!(
        "[settings]\nauto_refresh = false\n[profiles.web]\nprovider = \"oidc\"\nissuer = \"{}\"\nclient_id = \"{}\"\nscopes = [\"openid\", \"offline_access\"]\nlogin = \"browser\"\nrefresh_ahead = \"10s\"\n",
        server.issuer,
        oidc::CODE_TUI_CLIENT
    ));
    let tmux = Tmux::start(&[], &w.envs(), 100, 40);
    tmux.wait_for_text("web", WAIT);
    tmux.keys(&["l"]);
    let screen = tmux.wait_for_text("forward the port first", WAIT);
    assert!(screen.contains("ssh -L "), "{screen}");
    assert!(screen.contains("gives up in"), "{screen}");
    // The URL's rows: from the one starting with the issuer to the blank line after it.
    let url: String = screen
        .lines()
        .skip_while(|l| !l.starts_with(&server.issuer))
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim_end)
        .collect();
    assert!(
        url.contains("code_challenge_method=S256"),
        "{url}\n{screen}"
    );
    let callback = server.authorize(&url);
    // Typed as a terminal delivers a paste without bracketed paste: one key per character.
    tmux.keys(&["-l", "not a callback"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for_text("carries no code", WAIT);
    tmux.keys(&["-l", &callback]);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("web valid or failed", Duration::from_secs(40), |s| {
        line_of(s, "web").contains("valid") || line_of(s, "web").contains("failed")
    });
    assert!(
        line_of(&screen, "web").contains("valid"),
        "{screen}\n{}",
        w.log_text()
    );
    assert!(w.record("web").unwrap()["refresh_token"].is_string());
    quit(&tmux);
}
