//! Raw loopback servers (`std::net::TcpListener`) for what wiremock cannot do: a body far larger
//! than any token response, sent without `Content-Length`, written piece by piece until the
//! client hangs up; and, for tests that need a request held in flight, sent only once the test
//! says so.
//!
//! (big_body.rs runs the ungated server with a memory measurement around it.)

use super::faults::read_request;
use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

/// `MAX_BODY` of src/oauth/http.rs: the most tokdash reads of a body before refusing it.
pub const MAX_BODY: usize = 1 << 20;
/// A piece of the body, as written.
const PIECE: usize = 64 << 10;
/// A client that stalls without hanging up must not hold the server's thread for ever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
pub enum Framing {
    /// `Transfer-Encoding: chunked`, 64 KiB chunks.
    Chunked,
    /// No length at all: the body ends when the server closes the connection.
    CloseDelimited,
}

/// What the server managed to send on its one connection.
#[derive(Debug)]
pub struct Sent {
    pub body_bytes: usize,
    /// A write failed: the client hung up before the end of the body.
    pub hung_up: bool,
}

/// Serves one connection with a 200 whose JSON body, `{"access_token":"<marker>xxx…"}`, is `len`
/// bytes long; see [`BigBody::start`] and [`BigBody::gated`].
pub struct BigBody {
    pub url: String,
    /// The body's length, as given to [`BigBody::gated`].
    len: usize,
    /// Dropped (or sent to) to let a gated server answer.
    release: Option<mpsc::Sender<()>>,
    requested: mpsc::Receiver<()>,
    done: mpsc::Receiver<(Sent, TcpListener)>,
}

impl BigBody {
    /// Answers as soon as the request is read.
    pub fn start(framing: Framing, len: usize, marker: &str) -> BigBody {
        let mut server = Self::gated(framing, len, marker);
        server.release();
        server
    }

    /// Reads the request, then waits for [`release`](Self::release) before writing anything:
    /// until then the request is in flight for the client.
    pub fn gated(framing: Framing, len: usize, marker: &str) -> BigBody {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let (release, gate) = mpsc::channel::<()>();
        let (requested_tx, requested) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let opening = format!("{{\"access_token\":\"{marker}");
        assert!(
            len >= opening.len() + 2 && len >= PIECE,
            "a body of {len} bytes"
        );
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
            read_request(&mut stream);
            let _ = requested_tx.send(());
            // Released, or the test is gone (its sender dropped): answer either way.
            let _ = gate.recv();
            let sent = write_big_body(&mut stream, framing, len, opening.as_bytes());
            drop(stream);
            let _ = done_tx.send((sent, listener));
        });
        BigBody {
            url,
            len,
            release: Some(release),
            requested,
            done,
        }
    }

    /// Waits until the server has read a request (its only one).
    pub fn wait_request(&self, deadline: Duration) {
        self.requested
            .recv_timeout(deadline)
            .unwrap_or_else(|_| panic!("no request reached {} within {deadline:?}", self.url));
    }

    /// Lets a gated server write its answer.
    pub fn release(&mut self) {
        self.release.take();
    }

    /// Waits until the server is done with its connection; returns what it sent, and the
    /// listener, so that the caller can look for a second connection.
    pub fn finish(&self, deadline: Duration) -> (Sent, TcpListener) {
        self.done
            .recv_timeout(deadline)
            .unwrap_or_else(|_| panic!("{} never finished its connection", self.url))
    }

    /// Waits as [`finish`](Self::finish) does, once the client has exited, and checks that it
    /// refused the body as too large: it hung up before the end of the body, after more than
    /// [`MAX_BODY`] bytes were sent, and sent no second request (it would be waiting in the
    /// backlog). `case` starts each failure message. Returns the listener.
    #[track_caller]
    pub fn assert_refused_as_too_large(&self, deadline: Duration, case: &str) -> TcpListener {
        let (sent, listener) = self.finish(deadline);
        assert!(
            sent.hung_up && sent.body_bytes < self.len,
            "{case}: tokdash read the whole body instead of hanging up: {sent:?}"
        );
        assert!(
            sent.body_bytes > MAX_BODY,
            "{case}: refused before 1 MiB was sent: {sent:?}"
        );
        assert!(
            no_more_connections(&listener),
            "{case}: a second request reached the server"
        );
        listener
    }
}

/// `listener` holds no connection in its backlog (call once the client is done).
pub fn no_more_connections(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Writes the head and a `len`-byte JSON body starting with `opening`, stopping at the first
/// failed write (EPIPE or a reset once the client hangs up; Rust ignores SIGPIPE).
fn write_big_body(stream: &mut impl Write, framing: Framing, len: usize, opening: &[u8]) -> Sent {
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
    piece[..opening.len()].copy_from_slice(opening);
    while !sent.hung_up && sent.body_bytes < len {
        let n = PIECE.min(len - sent.body_bytes);
        if sent.body_bytes + n == len {
            // Close the JSON string and object, so that only the size is wrong.
            piece[n - 2..n].copy_from_slice(b"\"}");
        }
        let result = match framing {
            Framing::Chunked => {
                let mut frame = format!("{n:x}\r\n").into_bytes();
                frame.extend_from_slice(&piece[..n]);
                frame.extend_from_slice(b"\r\n");
                stream.write_all(&frame)
            }
            Framing::CloseDelimited => stream.write_all(&piece[..n]),
        };
        match result {
            Ok(()) => sent.body_bytes += n,
            Err(_) => sent.hung_up = true,
        }
        // The opening goes out once, at the start of the body.
        piece[..opening.len()].fill(b'x');
    }
    if !sent.hung_up && matches!(framing, Framing::Chunked) {
        sent.hung_up = stream.write_all(b"0\r\n\r\n").is_err();
    }
    sent
}
