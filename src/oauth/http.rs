//! The one HTTP client: a connection pool shared by every request, a timeout on each, no
//! redirects (a token endpoint that redirects is misconfigured, and following a 302 would turn a
//! POST with a refresh token into a GET), and response bodies read up to a cap.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::path::Path;
use std::time::Duration;

/// No token response, discovery document or error body is anywhere near this.
pub const MAX_BODY: usize = 1 << 20;

/// How long an idle connection is kept for reuse (see `Http::new`).
const POOL_IDLE: Duration = Duration::from_secs(4);

#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
}

/// A response as far as we read it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub retry_after: Option<Duration>,
    pub www_authenticate: Option<String>,
    pub body: Vec<u8>,
}

/// Failures below HTTP: nothing (or not all) came back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("no answer from {host} within {}", humantime::format_duration(*.after))]
    Timeout { host: String, after: Duration },
    #[error("the response from {host} was cut off: {reason}")]
    Cut { host: String, reason: String },
    #[error("the response from {host} is over {} KiB; not a token endpoint's", MAX_BODY / 1024)]
    TooLarge { host: String },
    #[error("{0}")]
    Setup(String),
}

impl TransportError {
    /// A request that certainly never reached the server can be sent again without the risk of
    /// spending a refresh token twice.
    pub fn never_sent(&self) -> bool {
        matches!(self, TransportError::Connect { .. })
    }
}

impl Http {
    pub fn new(timeout: Duration, ca_file: Option<&Path>) -> Result<Http, String> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tokdash/", env!("CARGO_PKG_VERSION")))
            // Shorter than the shortest keep-alive common servers keep (Node.js and Apache: 5 s):
            // a connection reused just as the server closes it is reset after the request was
            // sent, and a refresh cut off that way cannot be retried (the server may have rotated
            // the token). Seen in `team_failover::`, where refreshes stall on the team store.
            .pool_idle_timeout(POOL_IDLE);
        if let Some(path) = ca_file {
            let pem =
                std::fs::read(path).map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("ca_file {}: not PEM certificates ({e})", path.display()))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up HTTP: {e}"))?;
        Ok(Http { client })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends a request and reads the response, body capped at [`MAX_BODY`].
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Reply, TransportError> {
        let request = request
            .build()
            .map_err(|e| TransportError::Setup(e.to_string()))?;
        let host = request.url().host_str().unwrap_or("the server").to_string();
        let classify = |e: reqwest::Error| {
            // A connect timeout is a connect error first: nothing reached the server, so the
            // request may be sent again safely.
            if e.is_connect() {
                TransportError::Connect {
                    host: host.clone(),
                    reason: root_cause(&e),
                }
            } else if e.is_timeout() {
                TransportError::Timeout {
                    host: host.clone(),
                    after: timeout,
                }
            } else {
                TransportError::Cut {
                    host: host.clone(),
                    reason: root_cause(&e),
                }
            }
        };
        let mut response = self.client.execute(request).await.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let content_type = header(headers, reqwest::header::CONTENT_TYPE);
        let retry_after = retry_after(headers);
        let www_authenticate = header(headers, reqwest::header::WWW_AUTHENTICATE);
        let length = response
            .content_length()
            .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
        if length > MAX_BODY {
            return Err(TransportError::TooLarge { host });
        }
        let mut body = Vec::with_capacity(length);
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(TransportError::TooLarge { host });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply {
            status,
            content_type,
            retry_after,
            www_authenticate,
            body,
        })
    }
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Retry-After` in seconds (the form Microsoft and most token endpoints use) or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let Some(value) = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()) else {
        // Auth0 sends no Retry-After on 429, only X-RateLimit-Reset in unix seconds
        // (providers.md 3.4).
        let reset: i64 = headers
            .get("x-ratelimit-reset")?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()?;
        return Some(seconds_until(reset));
    };
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate_to_unix(value)?;
    Some(seconds_until(at))
}

/// From now until a unix time the server sent; zero for the past, however far (saturating: the
/// header is the server's, any i64 may come).
fn seconds_until(at: i64) -> Duration {
    Duration::from_secs(at.saturating_sub(crate::clock::now()).max(0) as u64)
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only date form RFC 9110 requires.
/// Hand-written rather than the httpdate crate (in the tree through hyper): httpdate refuses a
/// date whose day name does not match it, and a server's wrong weekday must not make us ignore
/// how long it asked us to wait (the property test `rate_limit_headers_…` holds us to that).
pub fn httpdate_to_unix(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)?
        + 1;
    let iso = format!("{year}-{month:02}-{:02}T{time}Z", day.parse::<u32>().ok()?);
    let t = humantime::parse_rfc3339(&iso).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64)
}

/// reqwest's top-level message is "error sending request for url (...)"; the cause says why.
pub fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        assert_eq!(
            httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );

        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
