//! OIDC discovery, and the RFC 8414 metadata that completes it (see `provider::oidc`), fetched
//! once per issuer: in memory for the life of the process (one fetch however many profiles share
//! the issuer, even when they ask at once), and on disk in the store for a day, so that
//! `tokdash token` does not pay a round trip on every run.

use super::error::describe_non_oauth;
use super::exchange::{ExchangeError, send_with_retries};
use super::http::Http;
use crate::provider::Endpoints;
use crate::provider::oidc::{self, Document, Kind};
use crate::store::LocalCache;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DISK_TTL_SECONDS: i64 = 24 * 3600;

/// A failure is kept this long, so that the profiles sharing an issuer that is down learn it
/// from one fetch (with its retries) instead of each paying for their own, one after another.
/// Then it is tried again: the dashboard runs for days and issuers come back.
const FAILURE_TTL: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Discovery {
    /// Per issuer. The async mutex is held across the fetch: profiles asking meanwhile wait for
    /// its outcome rather than fetching again.
    issuers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Outcome>>>>,
}

#[derive(Debug, Default)]
struct Outcome {
    found: Option<Endpoints>,
    failed: Option<(Instant, String)>,
}

#[derive(Serialize, Deserialize)]
struct CachedDocument {
    issuer: String,
    fetched_at: i64,
    /// The OpenID document; null when the issuer has none (it answered 404).
    document: Value,
    /// The RFC 8414 metadata, looked up only when the OpenID document lacks an endpoint. A copy
    /// without it (also one written before tokdash read RFC 8414) stands on the OpenID
    /// document alone until it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Lookup>,
}

/// What a well-known URL held.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Lookup {
    Found(Value),
    /// It answered 404.
    Absent,
}

impl Discovery {
    pub async fn endpoints(
        &self,
        http: &Http,
        timeout: Duration,
        cache: Option<&LocalCache>,
        issuer: &str,
    ) -> Result<Endpoints, String> {
        let entry = {
            let mut issuers = self.issuers.lock().unwrap_or_else(|p| p.into_inner());
            issuers.entry(issuer.to_string()).or_default().clone()
        };
        let mut outcome = entry.lock().await;
        if let Some(found) = &outcome.found {
            return Ok(found.clone());
        }
        if let Some((at, why)) = &outcome.failed
            && at.elapsed() < FAILURE_TTL
        {
            return Err(why.clone());
        }
        match load(http, timeout, cache, issuer).await {
            Ok(found) => {
                outcome.found = Some(found.clone());
                outcome.failed = None;
                Ok(found)
            }
            Err(why) => {
                outcome.failed = Some((Instant::now(), why.clone()));
                Err(why)
            }
        }
    }
}

/// The name of an issuer's cached copy: FNV-1a of the issuer (the fnv crate), stable across
/// runs and builds, unlike std's hasher.
pub fn cache_file(issuer: &str) -> String {
    let mut hasher = fnv::FnvHasher::default();
    std::hash::Hasher::write(&mut hasher, issuer.as_bytes());
    format!(
        ".discovery-{:016x}.json",
        std::hash::Hasher::finish(&hasher)
    )
}

async fn load(
    http: &Http,
    timeout: Duration,
    cache: Option<&LocalCache>,
    issuer: &str,
) -> Result<Endpoints, String> {
    let file = cache_file(issuer);
    // Off the async thread: in the dashboard, that thread also draws the screen.
    let cached = match cache {
        Some(cache) => {
            let (cache, file) = (cache.clone(), file.clone());
            tokio::task::spawn_blocking(move || cache.read(&file))
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    if let Some(bytes) = cached
        && let Ok(cached) = serde_json::from_slice::<CachedDocument>(&bytes)
        && cached.issuer == issuer
        // Within the day since it was fetched; one dated in the future (a clock stepped back, a
        // damaged file) is not trusted.
        && crate::clock::now()
            .checked_sub(cached.fetched_at)
            .is_some_and(|age| (0..DISK_TTL_SECONDS).contains(&age))
        && let Some(endpoints) = from_cache(issuer, &cached)
    {
        return Ok(endpoints);
    }

    let openid_url = oidc::discovery_url(issuer);
    let openid_body = fetch(http, timeout, "OIDC discovery", &openid_url).await?;
    let openid = openid_body
        .as_deref()
        .map(|b| oidc::read_document(Kind::OpenId, issuer, b))
        .transpose()?;
    // Only when needed: most OpenID documents list all tokdash uses, and a second GET on every
    // `tokdash token` after the cache expires is a cost for nothing.
    let looked_up = openid.as_ref().is_none_or(Document::lacks_an_endpoint);
    let mut metadata_body = None;
    // Whether what was fetched is worth caching for a day: not when the metadata that completes
    // an OpenID document could not be fetched this time.
    let mut complete = true;
    if looked_up {
        let url = oidc::metadata_url(issuer);
        metadata_body = match fetch(http, timeout, "RFC 8414 discovery", &url).await {
            Ok(body) => body,
            // The OpenID document is enough to refresh with: a metadata server that is down
            // (after the retries) costs only the endpoints that were missing, and is asked again
            // next time instead of being cached as absent.
            Err(e) if openid.is_some() => {
                tracing::warn!(issuer, "using the OpenID document alone: {e}");
                complete = false;
                None
            }
            Err(e) => return Err(e),
        };
        if openid_body.is_none() && metadata_body.is_none() {
            return Err(format!(
                "OIDC discovery at {openid_url} and RFC 8414 discovery at {url} both answered HTTP 404; check the issuer"
            ));
        }
    }
    let metadata = metadata_body
        .as_deref()
        .map(|b| oidc::read_document(Kind::Rfc8414, issuer, b))
        .transpose()?;
    let endpoints = oidc::endpoints(issuer, openid.as_ref(), metadata.as_ref())?;

    let as_value = |body: Option<Vec<u8>>| -> Result<Option<Value>, serde_json::Error> {
        body.map(|b| serde_json::from_slice(&b)).transpose()
    };
    if complete
        && let Ok(document) = as_value(openid_body)
        && let Ok(metadata) = as_value(metadata_body)
    {
        let cached = CachedDocument {
            issuer: issuer.to_string(),
            fetched_at: crate::clock::now(),
            document: document.unwrap_or(Value::Null),
            metadata: looked_up.then(|| metadata.map_or(Lookup::Absent, Lookup::Found)),
        };
        if let (Some(cache), Ok(bytes)) = (cache, serde_json::to_vec(&cached)) {
            let cache = cache.clone();
            // Best effort: a cache that cannot be written costs a round trip next time, nothing more.
            let _ = tokio::task::spawn_blocking(move || cache.write(&file, &bytes)).await;
        }
    }
    Ok(endpoints)
}

/// The endpoints of a copy read back from the store, through the same checks as when it was
/// fetched; `None` if it does not pass them.
fn from_cache(issuer: &str, cached: &CachedDocument) -> Option<Endpoints> {
    let read = |kind, doc: &Value| {
        let bytes = serde_json::to_vec(doc).ok()?;
        oidc::read_document(kind, issuer, &bytes).ok()
    };
    let openid = match &cached.document {
        Value::Null => None,
        doc => Some(read(Kind::OpenId, doc)?),
    };
    let metadata = match &cached.metadata {
        Some(Lookup::Found(doc)) => Some(read(Kind::Rfc8414, doc)?),
        Some(Lookup::Absent) | None => None,
    };
    if openid.is_none() && metadata.is_none() {
        return None;
    }
    oidc::endpoints(issuer, openid.as_ref(), metadata.as_ref()).ok()
}

/// GETs one well-known document: its body, or `None` when the server has none there (404).
/// `what` names the request in errors.
async fn fetch(
    http: &Http,
    timeout: Duration,
    what: &str,
    url: &str,
) -> Result<Option<Vec<u8>>, String> {
    // A GET changes nothing at the server: retried after 5xx, 429 and timeouts like any
    // idempotent request.
    let reply = match send_with_retries(http, timeout, true, || http.client().get(url)).await {
        Ok(reply) => reply,
        Err(ExchangeError::NotOAuth { status: 404, .. }) => return Ok(None),
        Err(ExchangeError::OAuth { error, .. }) if error.status == 404 => return Ok(None),
        Err(ExchangeError::Transport(t)) => return Err(format!("{what} failed: {t}")),
        Err(ExchangeError::NotOAuth { what: answer, .. }) => {
            return Err(format!("{what} at {url} answered {answer}"));
        }
        Err(ExchangeError::OAuth { error, .. }) => {
            return Err(format!(
                "{what} at {url} answered HTTP {}, {}",
                error.status,
                error.summary()
            ));
        }
    };
    if reply.status != 200 {
        return Err(format!(
            "{what} at {url} answered {}",
            describe_non_oauth(reply.status, reply.content_type.as_deref(), &reply.body)
        ));
    }
    Ok(Some(reply.body))
}
