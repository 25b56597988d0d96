//! A 50 MiB token response with no `Content-Length` (chunked, then close-delimited), from a raw
//! loopback server: `tokdash token f` must refuse it as too large after reading about 1 MiB,
//! hang up, keep the refresh token, and stay small in memory while doing so.
//!
//! Memory is the peak RSS of the children of the test's process (`getrusage(RUSAGE_CHILDREN)`,
//! support/peak_rss.rs), so the test runs alone in a process of its own and runs no other big
//! child. The figure is an upper bound of tokdash's peak (that process never holds more than one
//! 64 KiB piece of the body).

use crate::support::faults::{
    MARKER, RT, SECRET, SECRET_VAR, assert_failed, status, stored_rt, world,
};
use crate::support::peak_rss::{alone_in_a_process, assert_children_peaked_under};
use crate::support::raw::{BigBody, Framing};
use std::io::Read;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// 50 MiB: fifty times the cap of src/oauth/http.rs.
const BODY_LEN: usize = 50 << 20;
/// Peak RSS allowed for a run, far under the body's 50 MiB.
const RSS_LIMIT_KIB: libc::c_long = 40 << 10;
/// One `tokdash token f` run, end to end.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `tokdash token f` and waits for it, killing it after [`DEADLINE`].
fn token_with_deadline(w: &crate::support::world::World) -> Output {
    let mut child = w
        .std_cmd_with_secret(&["token", "f"], SECRET_VAR, SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tokdash token f was still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Both outputs are a line at most: they fit in the pipes, so reading after the exit is safe.
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

#[test]
fn a_fifty_megabyte_body_without_content_length_is_refused_in_bounded_memory() {
    alone_in_a_process(
        module_path!(),
        "a_fifty_megabyte_body_without_content_length_is_refused_in_bounded_memory",
        measured,
    );
}

/// The test, run alone in a process of its own: the children's peak RSS is tokdash's.
fn measured() {
    for framing in [Framing::Chunked, Framing::CloseDelimited] {
        // Reads the refresh request, then writes a 200 whose JSON body is `BODY_LEN` bytes long,
        // stopping at the first failed write: tokdash hanging up.
        let served = BigBody::start(framing, BODY_LEN, MARKER);
        let w = world(&served.url, "");

        let out = token_with_deadline(&w);
        let line = assert_failed(&w, &out);
        assert!(
            line.starts_with("tokdash: f: refresh failed"),
            "{framing:?}: {line}"
        );
        assert!(line.contains("is over 1024 KiB"), "{framing:?}: {line}");
        assert!(
            line.ends_with("check the endpoints of f: tokdash config check"),
            "{framing:?}: {line}"
        );

        // tokdash has exited: the refresh was not sent a second time.
        served.assert_refused_as_too_large(DEADLINE, &format!("{framing:?}"));

        assert_eq!(stored_rt(&w), RT, "{framing:?}");
        let record = w.record("f").unwrap();
        assert!(
            !record.to_string().contains(MARKER),
            "{framing:?}: {record}"
        );
        assert_eq!(record["access_token"], "AT-fault-old", "{framing:?}");
        assert_eq!(status(&w), "error", "{framing:?}");
    }

    assert_children_peaked_under(RSS_LIMIT_KIB);
}
