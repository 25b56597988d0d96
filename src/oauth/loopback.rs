//! The loopback listener of the browser login (RFC 8252 §7.3): bound to loopback only, it answers
//! its callback path alone, hands each callback to the login and serves the browser a short page
//! saying how it went, then closes.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;
use url::{Host, Url};

/// A `form_post` body larger than this is not a callback.
const MAX_BODY: usize = 64 * 1024;
/// How long a browser's request waits for the login to say how its callback went (the code
/// exchange is one request, bounded by `settings.timeout`).
const VERDICT_WAIT: Duration = Duration::from_secs(60);
/// How long closing waits for the pages in flight to reach their browsers.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// A `redirect_uri` the listener can serve: `http` to a loopback address, no fragment.
pub fn check_redirect_uri(text: &str) -> Result<String, String> {
    let url = Url::parse(text).map_err(|e| format!("redirect_uri `{text}` is not a URL ({e})"))?;
    if url.scheme() != "http" || !crate::urls::is_loopback(&url) {
        return Err(format!(
            "redirect_uri `{text}` must be http:// to a loopback address (127.0.0.1, [::1] or localhost), where tokdash listens; like \"http://127.0.0.1/callback\""
        ));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "redirect_uri `{text}` may not have a #fragment or credentials"
        ));
    }
    Ok(text.to_string())
}

/// A callback the browser brought: its query (or `form_post` body), and where to say how it went.
#[derive(Debug)]
pub struct Hit {
    pub query: String,
    pub reply: oneshot::Sender<Page>,
}

/// What the browser is shown.
#[derive(Debug, Clone)]
pub struct Page {
    pub ok: bool,
    pub message: String,
}

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "port {port} on {ip} is in use by another program; free it, or choose another port with --port or redirect_port"
    )]
    InUse { ip: IpAddr, port: u16 },
    #[error("cannot listen on {ip} port {port} ({why})")]
    Other { ip: IpAddr, port: u16, why: String },
    #[error("{0}")]
    BadUri(String),
}

pub struct Listener {
    redirect_uri: String,
    port: u16,
    stop: Arc<Notify>,
    serving: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// Listens for `redirect_uri`. A URI with a port is used as it is; one without gets `port`
    /// (`None`: any free one) written into it, as RFC 8252 §7.3 allows. `localhost` listens on
    /// 127.0.0.1, and on [::1] too when it can, since a browser may try either.
    pub async fn bind(
        redirect_uri: &str,
        port: Option<u16>,
    ) -> Result<(Listener, mpsc::Receiver<Hit>), BindError> {
        let mut url = Url::parse(&check_redirect_uri(redirect_uri).map_err(BindError::BadUri)?)
            .map_err(|e| BindError::BadUri(e.to_string()))?;
        let wanted = url.port().or(port).unwrap_or(0);
        let (first, also) = match url.host() {
            Some(Host::Ipv4(ip)) => (IpAddr::V4(ip), None),
            Some(Host::Ipv6(ip)) => (IpAddr::V6(ip), None),
            _ => (
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ),
        };
        let main = bind_one(first, wanted).await?;
        let bound = main.local_addr().map_err(|e| BindError::Other {
            ip: first,
            port: wanted,
            why: e.to_string(),
        })?;
        let mut sockets = vec![main];
        if let Some(ip) = also
            && let Ok(second) = bind_one(ip, bound.port()).await
        {
            sockets.push(second);
        }
        if url.port().is_none() {
            let _ = url.set_port(Some(bound.port()));
        }
        let path = url.path().to_string();
        let (tx, rx) = mpsc::channel(8);
        let stop = Arc::new(Notify::new());
        let serving = tokio::spawn(serve(sockets, path, tx, stop.clone()));
        Ok((
            Listener {
                redirect_uri: url.to_string(),
                port: bound.port(),
                stop,
                serving,
            },
            rx,
        ))
    }

    /// The URI with the port listened on: what the authorization request and the code exchange
    /// both carry.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops listening, and lets the pages in flight reach their browsers (briefly).
    pub async fn close(mut self) {
        self.stop.notify_one();
        let grace = CLOSE_GRACE + Duration::from_millis(500);
        let _ = tokio::time::timeout(grace, &mut self.serving).await;
    }
}

impl Drop for Listener {
    /// A login dropped midway (the dashboard's Esc aborts its task) closes the port at once.
    fn drop(&mut self) {
        self.serving.abort();
    }
}

async fn bind_one(ip: IpAddr, port: u16) -> Result<TcpListener, BindError> {
    TcpListener::bind(SocketAddr::new(ip, port))
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => BindError::InUse { ip, port },
            _ => BindError::Other {
                ip,
                port,
                why: e.to_string(),
            },
        })
}

async fn serve(sockets: Vec<TcpListener>, path: String, tx: mpsc::Sender<Hit>, stop: Arc<Notify>) {
    let path = Arc::new(path);
    let mut connections = JoinSet::new();
    let (conn_tx, mut conn_rx) = mpsc::channel::<tokio::net::TcpStream>(8);
    let mut acceptors = JoinSet::new();
    for socket in sockets {
        let conn_tx = conn_tx.clone();
        acceptors.spawn(async move {
            while let Ok((stream, _)) = socket.accept().await {
                if conn_tx.send(stream).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(conn_tx);
    loop {
        tokio::select! {
            _ = stop.notified() => break,
            stream = conn_rx.recv() => {
                let Some(stream) = stream else { break };
                let (path, tx) = (path.clone(), tx.clone());
                connections.spawn(async move {
                    let service = service_fn(move |req| answer(req, path.clone(), tx.clone()));
                    // One request per connection: the page is sent, then the connection closes,
                    // so closing the listener waits for nothing but pages in flight.
                    let _ = http1::Builder::new()
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
    acceptors.abort_all();
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

async fn answer(
    req: Request<Incoming>,
    path: Arc<String>,
    tx: mpsc::Sender<Hit>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if req.uri().path() != path.as_str() {
        return Ok(plain(StatusCode::NOT_FOUND, "not found"));
    }
    let query = match *req.method() {
        Method::GET => req.uri().query().unwrap_or_default().to_string(),
        // `response_mode=form_post` (Microsoft recommends it for localhost).
        Method::POST => match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Err(_) => return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "too large")),
        },
        _ => return Ok(plain(StatusCode::METHOD_NOT_ALLOWED, "GET or POST only")),
    };
    let (reply, verdict) = oneshot::channel();
    let page = if tx.send(Hit { query, reply }).await.is_err() {
        Page {
            ok: false,
            message: "tokdash is no longer waiting for this login. Start it again.".into(),
        }
    } else {
        match tokio::time::timeout(VERDICT_WAIT, verdict).await {
            Ok(Ok(page)) => page,
            _ => Page {
                ok: false,
                message: "tokdash did not say how the login went; look at its terminal.".into(),
            },
        }
    };
    let status = if page.ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .header("referrer-policy", "no-referrer")
        .body(Full::new(Bytes::from(html(&page))))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error")))
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}

fn html(page: &Page) -> String {
    let title = if page.ok { "Logged in" } else { "Login failed" };
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tokdash: {title}</title></head>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{}</p>\
         <p>You can close this tab.</p></body></html>",
        escape(&page.message)
    )
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_is_a_redirect_uri() {
        assert!(check_redirect_uri("http://127.0.0.1/callback").is_ok());
        assert!(check_redirect_uri("http://localhost:8484/cb").is_ok());
        assert!(check_redirect_uri("http://[::1]/").is_ok());
        assert!(check_redirect_uri("https://127.0.0.1/callback").is_err());
        assert!(check_redirect_uri("http://example.com/callback").is_err());
        assert!(check_redirect_uri("http://127.0.0.1/cb#x").is_err());
    }

    #[test]
    fn pages_escape_what_they_quote() {
        let page = html(&Page {
            ok: false,
            message: "<script>x</script>".into(),
        });
        assert!(!page.contains("<script>"));
    }

    #[tokio::test]
    async fn a_port_in_use_is_said_so() {
        let (first, _rx) = Listener::bind("http://127.0.0.1/callback", None)
            .await
            .unwrap();
        assert!(first.redirect_uri().starts_with("http://127.0.0.1:"));
        let taken = Listener::bind("http://127.0.0.1/callback", Some(first.port())).await;
        assert!(matches!(taken, Err(BindError::InUse { .. })));
        first.close().await;
    }
}
