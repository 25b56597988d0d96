//! A 50 MiB token response with no `Content-Length` (chunked, then close-delimited), from a raw
//! loopback server: `tokdash token f` must refuse it as too large after reading about 1 MiB,
//! hang up, keep the refresh token, and stay small in memory while doing so.
//!
//! Memory is the peak RSS of the children of this test process (`getrusage(RUSAGE_CHILDREN)`),
//! so this file holds a single test and runs no other big child. On Linux, exec charges a
//! process with the peak RSS of the memory it replaces: a child spawned with vfork is charged
//! this process's own peak at that instant, so the figure is an upper bound of tokdash's peak
//! (this process never holds more than one 64 KiB piece of the body). For the same reason this
//! process's own `RUSAGE_SELF` peak includes cargo's; it is printed only to help read a failure.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::faults::{
    MARKER, RT, SECRET, SECRET_VAR, assert_failed, read_request, status, stored_rt, world,
};

/// 50 MiB: fifty times the cap of src/oauth/http.rs.
const BODY_LEN: usize = 50 << 20;
/// `MAX_BODY` of src/oauth/http.rs.
const MAX_BODY: usize = 1 << 20;
const PIECE: usize = 64 << 10;
/// Peak RSS allowed for a run, far under the body's 50 MiB.
const RSS_LIMIT_KIB: libc::c_long = 40 << 10;
/// One `tokdash token f` run, end to end.
const DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `Transfer-Encoding: chunked`, 64 KiB chunks.
    Chunked,
    /// No length at all: the body ends when the server closes the connection.
    CloseDelimited,
}

/// What the server managed to send on its one connection.
#[derive(Debug)]
struct Sent {
    body_bytes: usize,
    /// A write failed: the client hung up before the end of the body.
    hung_up: bool,
}

/// Serves one connection: reads the refresh request, then writes a 200 whose JSON body is
/// [`BODY_LEN`] bytes long, stopping at the first failed write (EPIPE or a reset once the client
/// hangs up; Rust ignores SIGPIPE, so that is an error, not a signal). Sends back what it sent and
/// the listener, so that the caller can look for a second connection once tokdash has exited.
fn big_body_server(framing: Framing) -> (String, mpsc::Receiver<(Sent, TcpListener)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        // A client that stalls without hanging up must not hold this thread for ever.
        let _ = stream.set_write_timeout(Some(DEADLINE));
        read_request(&mut stream);
        let head = match framing {
            Framing::Chunked => {
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            }
            Framing::CloseDelimited => {
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
            }
        };
        let mut sent = Sent {
            body_bytes: 0,
            hung_up: stream.write_all(head.as_bytes()).is_err(),
        };
        let mut piece = vec![b'x'; PIECE];
        let opening = format!("{{\"access_token\":\"{MARKER}");
        piece[..opening.len()].copy_from_slice(opening.as_bytes());
        while !sent.hung_up && sent.body_bytes < BODY_LEN {
            let len = PIECE.min(BODY_LEN - sent.body_bytes);
            if sent.body_bytes + len == BODY_LEN {
                // Close the JSON string and object, so that only the size is wrong.
                piece[len - 2..len].copy_from_slice(b"\"}");
            }
            let result = match framing {
                Framing::Chunked => {
                    let mut frame = format!("{len:x}\r\n").into_bytes();
                    frame.extend_from_slice(&piece[..len]);
                    frame.extend_from_slice(b"\r\n");
                    stream.write_all(&frame)
                }
                Framing::CloseDelimited => stream.write_all(&piece[..len]),
            };
            match result {
                Ok(()) => sent.body_bytes += len,
                Err(_) => sent.hung_up = true,
            }
            // The opening goes out once, at the start of the body.
            piece[..opening.len()].fill(b'x');
        }
        if !sent.hung_up && matches!(framing, Framing::Chunked) {
            sent.hung_up = stream.write_all(b"0\r\n\r\n").is_err();
        }
        drop(stream);
        let _ = tx.send((sent, listener));
    });
    (url, rx)
}

/// Runs `tokdash token f` and waits for it, killing it after [`DEADLINE`].
fn token_with_deadline(w: &support::world::World) -> Output {
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

/// Peak resident set size in KiB (Linux's unit for `ru_maxrss`).
fn max_rss_kib(who: libc::c_int) -> libc::c_long {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF and RUSAGE_CHILDREN are valid.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    // SAFETY: initialised by the successful call above (and zeroed before it).
    unsafe { usage.assume_init() }.ru_maxrss
}

#[test]
fn a_fifty_megabyte_body_without_content_length_is_refused_in_bounded_memory() {
    for framing in [Framing::Chunked, Framing::CloseDelimited] {
        let (url, served) = big_body_server(framing);
        let w = world(&url, "");

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

        let (sent, listener) = served
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("{framing:?}: the server never finished its connection"));
        assert!(
            sent.hung_up && sent.body_bytes < BODY_LEN,
            "{framing:?}: tokdash read the whole body instead of hanging up: {sent:?}"
        );
        assert!(
            sent.body_bytes > MAX_BODY,
            "{framing:?}: the refusal came before 1 MiB was sent: {sent:?}"
        );
        // tokdash has exited: any further connection would be waiting in the backlog.
        listener.set_nonblocking(true).unwrap();
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{framing:?}: the refresh was sent a second time"
        );

        assert_eq!(stored_rt(&w), RT, "{framing:?}");
        let record = w.record("f").unwrap();
        assert!(
            !record.to_string().contains(MARKER),
            "{framing:?}: {record}"
        );
        assert_eq!(record["access_token"], "AT-fault-old", "{framing:?}");
        assert_eq!(status(&w), "error", "{framing:?}");
    }

    let children = max_rss_kib(libc::RUSAGE_CHILDREN);
    let own = max_rss_kib(libc::RUSAGE_SELF);
    assert!(
        children > 0,
        "getrusage reported no children at all: the measurement does not work"
    );
    assert!(
        children < RSS_LIMIT_KIB,
        "a child peaked at {children} KiB of RSS (limit {RSS_LIMIT_KIB} KiB; this test process: \
         {own} KiB): the body was held in memory"
    );
    eprintln!("peak RSS: children {children} KiB, this test process {own} KiB");
}
