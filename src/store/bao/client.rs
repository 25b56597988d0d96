//! A few calls of Vault's KV v2 HTTP API (OpenBao speaks it too) on the `reqwest` client tokdash
//! already has: read, check-and-set write, list, detailed-metadata list. No redirect is ever
//! followed (`Http` sets `Policy::none()`): during a failover a standby answers 307 to the dead
//! leader, and following it would resend the server token there (OPENBAO.md 6.4).
//!
//! Reads and lists are retried on what a failover or a restart looks like (307, 429, 5xx but
//! "sealed", a refused or cut connection) until a short window closes. A write is never resent
//! blind: see [`Kv::write_checked`].

use crate::secret::Secret;
use serde_json::Value;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A listing of 1,000 entries' metadata is about 400 KB (OPENBAO.md 2.5); far below this.
const MAX_BODY: usize = 32 << 20;
/// How long reads keep retrying a failing server: a raft failover answers 307s and 500s for one
/// to three seconds (OPENBAO.md 6.4).
const RETRY_WINDOW: Duration = Duration::from_secs(6);
/// The only way to tell a check-and-set conflict from other 400s (OPENBAO.md 2.1).
const CAS_MISMATCH: &str = "check-and-set parameter did not match";

/// Why a call failed, in the server's terms; `mod.rs` words it for people with the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaoError {
    /// Nothing reached the server (connection refused, no route, TLS refused).
    Down(String),
    /// No answer within the timeout.
    Timeout(Duration),
    /// The connection broke before the whole answer came.
    Cut(String),
    Sealed,
    /// 403: a wrong or expired token, or a policy that does not allow the path.
    Denied,
    /// A standby whose leader is gone (307, 500 "local node not active"), or a 429.
    Leaderless,
    /// Any other 5xx, with the server's words.
    ServerError(u16, String),
    /// A 404 that is not "no such entry": no such mount, or not a KV v2 mount.
    NoMount(String),
    /// A 4xx the server explains.
    Rejected(u16, String),
    /// The check-and-set version did not match: someone else wrote first.
    Conflict,
    /// The answer is not what KV v2 sends.
    BadAnswer(String),
}

impl BaoError {
    /// A later attempt may work: what failovers and restarts look like.
    fn retryable(&self) -> bool {
        matches!(
            self,
            BaoError::Down(_)
                | BaoError::Timeout(_)
                | BaoError::Cut(_)
                | BaoError::Leaderless
                | BaoError::ServerError(..)
        )
    }

    /// The server may have acted on a write that got this answer.
    fn ambiguous(&self) -> bool {
        matches!(
            self,
            BaoError::Timeout(_)
                | BaoError::Cut(_)
                | BaoError::Leaderless
                | BaoError::ServerError(..)
        )
    }
}

/// One entry as read: its current version (0: none ever), its data unless deleted, and times
/// by the server's clock (unix seconds) to tell a lease's age without trusting ours.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub version: u64,
    pub data: Option<Value>,
    /// When the current version was written.
    pub written_at: Option<i64>,
    /// The answer's `Date`.
    pub server_now: Option<i64>,
}

struct Answer {
    status: u16,
    body: Vec<u8>,
    date: Option<i64>,
}

pub struct Kv {
    http: reqwest::Client,
    address: String,
    mount: String,
    namespace: Option<String>,
    token: Secret,
    timeout: Duration,
    /// The last `X-Vault-Index` seen: sent back with `X-Vault-Inconsistent: forward-active-node`
    /// so that a standby behind our own writes forwards instead of answering from a stale copy
    /// (a spurious check-and-set conflict otherwise; OPENBAO.md 6.3).
    index: Mutex<Option<String>>,
}

impl Kv {
    pub fn new(
        http: reqwest::Client,
        address: &str,
        mount: &str,
        namespace: Option<String>,
        token: Secret,
        timeout: Duration,
    ) -> Kv {
        Kv {
            http,
            address: address.to_string(),
            mount: mount.to_string(),
            namespace,
            token,
            timeout,
            index: Mutex::new(None),
        }
    }

    fn url(&self, kind: &str, key: &str) -> String {
        format!("{}/v1/{}/{kind}/{key}", self.address, self.mount)
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, BaoError> {
        let mut request = self
            .http
            .request(method, url)
            .timeout(self.timeout)
            .header("X-Vault-Token", self.token.expose())
            .header("X-Vault-Request", "true");
        if let Some(ns) = &self.namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        let index = self.index.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(index) = index {
            request = request
                .header("X-Vault-Index", index)
                .header("X-Vault-Inconsistent", "forward-active-node");
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let classify = |e: reqwest::Error| {
            if e.is_connect() {
                BaoError::Down(crate::oauth::http::root_cause(&e))
            } else if e.is_timeout() {
                BaoError::Timeout(self.timeout)
            } else {
                BaoError::Cut(crate::oauth::http::root_cause(&e))
            }
        };
        let mut response = request.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let headers = response.headers();
        if let Some(index) = headers.get("x-vault-index").and_then(|v| v.to_str().ok()) {
            *self.index.lock().unwrap_or_else(|p| p.into_inner()) = Some(index.to_string());
        }
        let date = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::oauth::httpdate_to_unix);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(BaoError::BadAnswer(format!(
                    "an answer over {} MiB",
                    MAX_BODY >> 20
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body, date })
    }

    /// `send_once`, again after failures a failover explains, for requests that change nothing.
    async fn send_idempotent(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<Answer, BaoError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let failure = match self
                .send_once(method.clone(), url, body.map(<[u8]>::to_vec))
                .await
            {
                Ok(answer) => match status_error(&answer) {
                    None => return Ok(answer),
                    Some(e) => e,
                },
                Err(e) => e,
            };
            // A refused connection is the server being down, not changing leaders: one more try
            // covers a restart, more would make every command wait on a dead server.
            let give_up = !failure.retryable()
                || started.elapsed() >= RETRY_WINDOW
                || matches!(failure, BaoError::Down(_)) && attempt >= 2
                || matches!(failure, BaoError::Timeout(_)) && attempt >= 2;
            if give_up {
                return Err(failure);
            }
            // What a failover looks like from here, for RELIABILITY.md and for operators.
            tracing::info!(
                attempt,
                "team store: {method} {}: {failure:?}; retrying",
                path_of(url)
            );
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    /// The entry at `key`; a missing one is `Entry::default()` (version 0).
    pub async fn read(&self, key: &str) -> Result<Entry, BaoError> {
        let answer = self
            .send_idempotent(reqwest::Method::GET, &self.url("data", key), None)
            .await?;
        let json: Value = parse(&answer.body)?;
        // A 404 may carry the metadata of a deleted latest version, or nothing (OPENBAO.md 2.2).
        let meta = &json["data"]["metadata"];
        let version = meta["version"].as_u64().unwrap_or(0);
        let data = match &json["data"]["data"] {
            Value::Null => None,
            v => Some(v.clone()),
        };
        if answer.status == 200 && data.is_none() {
            return Err(BaoError::BadAnswer("a read without data".into()));
        }
        Ok(Entry {
            version,
            data,
            written_at: meta["created_time"].as_str().and_then(rfc3339_secs),
            server_now: answer.date,
        })
    }

    /// One check-and-set write: the new version, or [`BaoError::Conflict`].
    async fn write_once(&self, key: &str, data: &Value, cas: u64) -> Result<u64, BaoError> {
        let body = serde_json::json!({"data": data, "options": {"cas": cas}});
        let bytes = serde_json::to_vec(&body).map_err(|e| BaoError::BadAnswer(e.to_string()))?;
        let answer = self
            .send_once(reqwest::Method::POST, &self.url("data", key), Some(bytes))
            .await?;
        if let Some(e) = status_error(&answer) {
            return Err(e);
        }
        if answer.status == 404 {
            return Err(BaoError::NoMount(errors_of(&answer.body)));
        }
        let json: Value = parse(&answer.body)?;
        json["data"]["version"]
            .as_u64()
            .ok_or_else(|| BaoError::BadAnswer("a write answer without a version".into()))
    }

    /// Writes `data` at `key` if its version is still `cas`. `data["nonce"]` must be unique to
    /// this write: after an answer that leaves it unknown whether the write landed (a timeout, a
    /// cut connection, a 307 or 5xx during a failover), the entry is read back and compared by
    /// nonce before anything is sent again, since a landed write answered by an error happens
    /// (OPENBAO.md 6.4) and its retry would then conflict with itself.
    pub async fn write_checked(&self, key: &str, data: &Value, cas: u64) -> Result<u64, BaoError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut unsure = false;
        loop {
            attempt += 1;
            let failure = match self.write_once(key, data, cas).await {
                Ok(version) => return Ok(version),
                Err(e) => e,
            };
            // A conflict after an unsure attempt may be that attempt's own landed write.
            if failure.ambiguous() || (unsure && failure == BaoError::Conflict) {
                unsure = true;
                match self.read(key).await {
                    Ok(entry)
                        if entry.data.as_ref().map(|d| &d["nonce"]) == Some(&data["nonce"]) =>
                    {
                        return Ok(entry.version);
                    }
                    Ok(entry) if entry.version != cas => return Err(BaoError::Conflict),
                    Ok(_) => {}
                    Err(e) if !e.retryable() => return Err(e),
                    Err(_) => {}
                }
            }
            let give_up = !(failure.retryable() || unsure && failure == BaoError::Conflict)
                || started.elapsed() >= RETRY_WINDOW
                || matches!(failure, BaoError::Down(_) | BaoError::Timeout(_)) && attempt >= 2;
            if give_up {
                return Err(failure);
            }
            tracing::info!(
                attempt,
                unsure,
                "team store: write {key}: {failure:?}; retrying"
            );
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    /// The entries (not folders) right under `folder`, each with its current version, sorted:
    /// one request however many there are (`LIST …/detailed-metadata/`, OPENBAO.md 2.5).
    pub async fn versions(&self, folder: &str) -> Result<Vec<(String, u64)>, BaoError> {
        let url = self.url("detailed-metadata", &format!("{folder}/"));
        let answer = self.send_idempotent(list_method(), &url, None).await?;
        if answer.status == 404 {
            return Ok(Vec::new());
        }
        let json: Value = parse(&answer.body)?;
        let Some(info) = json["data"]["key_info"].as_object() else {
            return Ok(Vec::new());
        };
        let mut out: Vec<(String, u64)> = info
            .iter()
            .filter(|(k, _)| !k.ends_with('/'))
            .map(|(k, v)| (k.clone(), v["current_version"].as_u64().unwrap_or(0)))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// The entry names right under `folder` (folders left out).
    pub async fn names(&self, folder: &str) -> Result<Vec<String>, BaoError> {
        let url = self.url("metadata", &format!("{folder}/"));
        let answer = self.send_idempotent(list_method(), &url, None).await?;
        if answer.status == 404 {
            return Ok(Vec::new());
        }
        let json: Value = parse(&answer.body)?;
        let mut names: Vec<String> = json["data"]["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(Value::as_str)
                    .filter(|k| !k.ends_with('/'))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        names.sort_unstable();
        Ok(names)
    }
}

/// A URL without the scheme and host, for the log.
fn path_of(url: &str) -> &str {
    url.find("/v1/").map_or(url, |i| &url[i..])
}

fn list_method() -> reqwest::Method {
    reqwest::Method::from_bytes(b"LIST").unwrap_or(reqwest::Method::GET)
}

/// The failure an answer's status means, or `None` for 2xx and 404 (which callers read).
fn status_error(answer: &Answer) -> Option<BaoError> {
    let words = || errors_of(&answer.body);
    match answer.status {
        200..=299 => None,
        // 404 `{"errors":[]}` is "no such entry"; a route error names the mount.
        404 if words().is_empty() || !words().contains("no handler for route") => None,
        404 => Some(BaoError::NoMount(words())),
        400 if words().contains(CAS_MISMATCH) => Some(BaoError::Conflict),
        403 => Some(BaoError::Denied),
        307 | 429 => Some(BaoError::Leaderless),
        503 if words().contains("sealed") => Some(BaoError::Sealed),
        500 if words().contains("local node not active") => Some(BaoError::Leaderless),
        s @ 500..=599 => Some(BaoError::ServerError(s, words())),
        s => Some(BaoError::Rejected(s, words())),
    }
}

/// The `errors` of a body, joined, on one line, cut short: the server's own words.
fn errors_of(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let text = json["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
}

fn parse(body: &[u8]) -> Result<Value, BaoError> {
    serde_json::from_slice(body).map_err(|e| BaoError::BadAnswer(format!("not JSON ({e})")))
}

/// 50 ms, 100 ms, 200 ms… up to 1 s, each with jitter so that hosts do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let ceiling = (50u64 << attempt.min(5)).min(1000);
    Duration::from_millis(rand::random_range(ceiling / 2..=ceiling))
}

/// `2026-12-01T02:24:09.123456789Z` → unix seconds (the fraction dropped).
fn rfc3339_secs(text: &str) -> Option<i64> {
    let whole = text.get(..19)?;
    let t = humantime::parse_rfc3339(&format!("{whole}Z")).ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.as_bytes().to_vec(),
            date: None,
        }
    }

    #[test]
    fn statuses_mean_what_openbao_measured() {
        let e = |s, b| status_error(&answer(s, b));
        assert_eq!(e(200, "{}"), None);
        assert_eq!(e(404, r#"{"errors":[]}"#), None);
        assert!(matches!(
            e(
                404,
                r#"{"errors":["no handler for route \"x/data/y\". route entry not found."]}"#
            ),
            Some(BaoError::NoMount(_))
        ));
        assert_eq!(
            e(
                400,
                r#"{"errors":["check-and-set parameter did not match the current version"]}"#
            ),
            Some(BaoError::Conflict)
        );
        assert_eq!(
            e(403, r#"{"errors":["permission denied"]}"#),
            Some(BaoError::Denied)
        );
        assert_eq!(
            e(503, r#"{"errors":["Vault is sealed"]}"#),
            Some(BaoError::Sealed)
        );
        assert_eq!(e(307, ""), Some(BaoError::Leaderless));
        assert_eq!(
            e(
                500,
                r#"{"errors":["local node not active but active cluster node not found"]}"#
            ),
            Some(BaoError::Leaderless)
        );
        assert!(matches!(
            e(502, "<html>"),
            Some(BaoError::ServerError(502, _))
        ));
    }

    #[test]
    fn server_times_parse_with_or_without_a_fraction() {
        assert_eq!(rfc3339_secs("1970-01-01T00:01:40.2Z"), Some(100));
        assert_eq!(rfc3339_secs("1970-01-01T00:01:40Z"), Some(100));
        assert_eq!(rfc3339_secs("garbage"), None);
    }
}
