//! The profile `f` that the fault tests break, and what every failure must look like (**[F]**
//! in RELIABILITY.md). Shared by mock_faults.rs and big_body.rs.

use super::world::World;
use serde_json::{Value, json};
use std::process::Output;
use std::time::{Duration, Instant};

pub const SECRET_VAR: &str = "TOKDASH_FAULT_CLIENT_SECRET";
pub const SECRET: &str = "cs-fault-Zk4";
pub const RT: &str = "RT-fault-keep-me";
/// Put in every faulty body: it must never reach stderr.
pub const MARKER: &str = "BODY-MARKER-c81f";

pub fn config(token_url: &str, settings: &str) -> String {
    format!(
        r#"
[settings]
{settings}

[profiles.f]
provider = "oauth2"
client_id = "fault-client"
client_secret_env = "{SECRET_VAR}"
token_url = "{token_url}"
"#
    )
}

/// A world whose profile `f` has an expired access token and the refresh token [`RT`].
pub fn world(token_url: &str, settings: &str) -> World {
    let w = World::new(&config(token_url, settings));
    w.import(
        "f",
        &json!({"access_token": "AT-fault-old", "refresh_token": RT, "expires_in": 0}),
    );
    w
}

pub fn run(w: &World, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = w.output_with_secret(args, SECRET_VAR, SECRET);
    (out, started.elapsed())
}

/// Runs `tokdash token f`, which must fail as [`assert_failed`] says. Returns the stderr line and
/// how long the run took.
pub fn token_fails(w: &World) -> (String, Duration) {
    let (out, elapsed) = run(w, &["token", "f"]);
    (assert_failed(w, &out), elapsed)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stored_rt(w: &World) -> Value {
    w.record("f").expect("the record is kept")["refresh_token"].clone()
}

pub fn status(w: &World) -> Value {
    let out = w.cmd(&["list", "--json"]).output().unwrap();
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    list[0]["status"].clone()
}

/// A tokdash run (`case` names it in failure messages) failed as any failure must: exit code 1,
/// no panic, `marker` (put in the faulty body) not echoed, nothing on stdout and exactly one
/// stderr line, which is returned.
#[track_caller]
pub fn assert_one_line_failure(out: &Output, marker: &str, case: &str) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{case}: {err}");
    assert!(!err.contains("panicked"), "{case}: {err}");
    assert!(!err.contains(marker), "{case}: the body was echoed: {err}");
    assert!(out.stdout.is_empty(), "{case}: stdout after a failure");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{case}: one stderr line: {err}");
    lines[0].to_string()
}

/// `tokdash token f` failed as a failure must, and left the refresh token alone. Returns the
/// stderr line.
#[track_caller]
pub fn assert_failed(w: &World, out: &Output) -> String {
    let line = assert_one_line_failure(out, MARKER, "tokdash token f");
    assert!(
        line.starts_with("tokdash: f: refresh failed")
            || line.starts_with("tokdash: f: refresh refused"),
        "{line}"
    );
    assert_eq!(stored_rt(w), RT, "the refresh token survives the failure");
    assert!(!w.log_text().contains(MARKER), "the body reached the log");
    line
}

/// Reads one HTTP request (its head, and a body as long as its `content-length`) from a raw
/// socket, for the servers that misbehave below HTTP. Returns what was read.
pub fn read_request(stream: &mut impl std::io::Read) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if let Some(head_end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..head_end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if seen.len() >= head_end + 4 + length {
                break;
            }
        }
    }
    seen
}
