//! `tokdash agent`: the dashboard's auto-refresh without a terminal, against the real server.
//! 10 s tokens refreshed ahead of expiry, again and again, spaced like the dashboard's; the
//! token file rewritten and accepted by the server; SIGTERM and SIGINT end it with exit 0 and
//! the store whole; one stderr line per event, never a token. A server of its own, so its
//! request log is this module's alone.

use crate::support::oidc::{self, OidcServer, post_std_cmd};
use crate::support::world::World;
use crate::token_files::{out_dir, userinfo_status};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn server() -> &'static OidcServer {
    oidc::shared()
}

/// Profile `p` for `client` with its access token in `out/p.at`, a token just minted; and how
/// many token requests the server had seen from `client` by then.
fn minted(client: &str) -> (World, usize) {
    let w = World::new("");
    let out = out_dir(&w);
    w.write_config(&oidc::profile(
        "p",
        &server().issuer,
        client,
        &format!(
            "client_secret_env = \"{}\"\naccess_token_file = \"{}/p.at\"",
            oidc::SECRET_VAR,
            out.display()
        ),
    ));
    let requests = server().mint_into(&w, client);
    (w, requests)
}

/// The agent of `w`, its stderr going to `agent.err` in the world.
fn agent(w: &World) -> Child {
    let err = std::fs::File::create(w.dir.path().join("agent.err")).unwrap();
    post_std_cmd(w, &["agent"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap()
}

fn stderr_of(w: &World) -> String {
    std::fs::read_to_string(w.dir.path().join("agent.err")).unwrap_or_default()
}

/// Sends `signal` to the agent and returns its exit code once it has exited (within 10 s).
fn stop(child: &mut Child, signal: &str) -> (Option<i32>, Duration) {
    let asked = Instant::now();
    let sent = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), asked.elapsed());
        }
        if asked.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the agent did not exit within 10 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every line is `TIME NAME what happened`: an RFC 3339 time, then a name.
fn assert_lines_are_events(stderr: &str) {
    for line in stderr.lines() {
        let mut words = line.split(' ');
        let time = words.next().unwrap_or("");
        assert!(
            time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
            "not `TIME NAME what`: {line}"
        );
        assert!(words.next().is_some_and(|n| !n.is_empty()), "{line}");
        assert!(words.next().is_some(), "{line}");
    }
}

/// 10 s tokens: the agent refreshes each before it expires, one refresh per half-lifetime (as
/// the dashboard does), rewrites the file (accepted by the server), and says each refresh on a
/// line of its own without a token. SIGTERM: exit 0 promptly, the store whole.
#[test]
fn the_agent_refreshes_ten_second_tokens_ahead_of_expiry_and_stops_cleanly_on_sigterm() {
    let client = oidc::lifetime_client(10, "");
    let (w, before) = minted(&client);
    let imported = w.record("p").unwrap();
    let mut child = agent(&w);
    crate::support::wait_until(
        Duration::from_secs(60),
        "three refreshes by the agent",
        || server().token_requests(&client).len() - before >= 3,
    );
    let file = std::fs::read_to_string(w.dir.path().join("out/p.at")).unwrap();
    let (code, took) = stop(&mut child, "TERM");
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "{took:?}");

    let times = server().token_requests(&client)[before..].to_vec();
    for pair in times.windows(2) {
        // Due once less than 5 s of the 10 s are left (whole seconds, a jitter of up to 1 s).
        assert!(
            (4_000..=8_000).contains(&(pair[1] - pair[0])),
            "a refresh per half-lifetime, got {times:?}"
        );
    }
    let record = w.record("p").expect("the record is whole JSON");
    let stored = record["access_token"].as_str().unwrap();
    assert_ne!(record["access_token"], imported["access_token"]);
    let in_file = std::fs::read_to_string(w.dir.path().join("out/p.at")).unwrap();
    assert_eq!(in_file, stored, "the file holds the stored token");
    assert!(!file.is_empty());
    assert_eq!(userinfo_status(&server().issuer, &in_file), "200");

    let stderr = stderr_of(&w);
    assert_lines_are_events(&stderr);
    let refreshed = stderr
        .lines()
        .filter(|l| l.contains(" p refreshed"))
        .count();
    assert!(refreshed >= 3, "one line per refresh: {stderr}");
    assert!(stderr.contains("agent stopped"), "{stderr}");
    for secret in [&record, &imported]
        .iter()
        .flat_map(|r| ["access_token", "refresh_token", "id_token"].map(|k| r[k].clone()))
        .filter_map(|v| v.as_str().map(str::to_string))
    {
        assert!(!stderr.contains(&secret), "a token on stderr: {stderr}");
        assert!(!w.log_text().contains(&secret), "a token in the log");
    }
    assert!(
        w.log_text().contains("agent: refreshed"),
        "the events are logged too"
    );
}

/// A fresh token (1 h): the agent sends nothing, notices another process's refresh through the
/// store, and SIGINT ends it with exit 0 at once.
#[test]
fn an_idle_agent_sends_nothing_sees_other_writers_and_stops_on_sigint() {
    let client = oidc::lifetime_client(3600, "");
    let (w, before) = minted(&client);
    let mut child = agent(&w);
    crate::support::wait_until(Duration::from_secs(10), "the agent's first line", || {
        stderr_of(&w).contains("agent started")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        server().token_requests(&client).len(),
        before,
        "nothing due"
    );

    let out = post_std_cmd(&w, &["refresh", "p"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::support::wait_until(Duration::from_secs(10), "the agent notices", || {
        stderr_of(&w).contains("p updated in the store by another process")
    });
    let (code, took) = stop(&mut child, "INT");
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(
        server().token_requests(&client).len(),
        before + 1,
        "the one refresh was ours"
    );
    assert_lines_are_events(&stderr_of(&w));
}

/// SIGTERM while a refresh is in flight (the token endpoint answers after 2 s): the agent
/// waits for the answer, stores it (a rotated refresh token must not be lost), then exits 0.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_refresh_waits_for_the_answer_and_stores_it() {
    use crate::support::faults;
    use crate::support::mocks;
    let server = mocks::server().await;
    let answer = wiremock::ResponseTemplate::new(200)
        .set_body_json(serde_json::json!({
            "access_token": "AT-from-the-slow-answer",
            "refresh_token": "RT-rotated-in-flight",
            "expires_in": 3600,
            "token_type": "Bearer",
        }))
        .set_delay(Duration::from_secs(2));
    mocks::post_answers(&server, "/token", answer, 1).await;
    let w = faults::world(&format!("{}/token", server.uri()), "");
    let err = std::fs::File::create(w.dir.path().join("agent.err")).unwrap();
    let mut child = w
        .std_cmd_with_secret(&["agent"], faults::SECRET_VAR, faults::SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while mocks::requests_to(&server, "/token").await.is_empty() {
        assert!(Instant::now() < deadline, "the agent never refreshed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, took) = tokio::task::spawn_blocking(move || stop(&mut child, "TERM"))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{}", stderr_of(&w));
    assert!(took < Duration::from_secs(6), "{took:?}");
    let record = w.record("f").unwrap();
    assert_eq!(record["refresh_token"], "RT-rotated-in-flight");
    assert_eq!(record["access_token"], "AT-from-the-slow-answer");
    let stderr = stderr_of(&w);
    assert!(
        stderr.contains("waiting for the refresh in flight to be stored"),
        "{stderr}"
    );
    assert!(!stderr.contains("RT-rotated-in-flight"), "{stderr}");
}
