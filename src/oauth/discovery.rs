//! OIDC discovery, fetched once per issuer: in memory for the life of the process (one fetch
//! however many profiles share the issuer, even when they ask at once), and on disk in the store
//! for a day, so that `tokdash token` does not pay a round trip on every run.

use super::error::describe_non_oauth;
use super::exchange::{ExchangeError, send_with_retries};
use super::http::Http;
use crate::provider::{Endpoints, oidc};
use crate::store::Store;
use serde::{Deserialize, Serialize};
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
    document: serde_json::Value,
}

impl Discovery {
    pub async fn endpoints(
        &self,
        http: &Http,
        timeout: Duration,
        store: &Store,
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
        match load(http, timeout, store, issuer).await {
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

fn cache_file(issuer: &str) -> String {
    // FNV-1a: stable across runs and builds, unlike std's hasher.
    let hash = issuer.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    format!(".discovery-{hash:016x}.json")
}

async fn load(
    http: &Http,
    timeout: Duration,
    store: &Store,
    issuer: &str,
) -> Result<Endpoints, String> {
    let file = cache_file(issuer);
    // Off the async thread: in the dashboard, that thread also draws the screen.
    let cached = {
        let (store, file) = (store.clone(), file.clone());
        tokio::task::spawn_blocking(move || store.read_file(&file))
            .await
            .ok()
            .flatten()
    };
    if let Some(bytes) = cached
        && let Ok(cached) = serde_json::from_slice::<CachedDocument>(&bytes)
        && cached.issuer == issuer
        // Within the day since it was fetched; one dated in the future (a clock stepped back, a
        // damaged file) is not trusted.
        && crate::clock::now()
            .checked_sub(cached.fetched_at)
            .is_some_and(|age| (0..DISK_TTL_SECONDS).contains(&age))
        && let Ok(doc) = serde_json::to_vec(&cached.document)
        && let Ok(endpoints) = oidc::endpoints_from_document(issuer, &doc)
    {
        return Ok(endpoints);
    }
    let url = oidc::discovery_url(issuer);
    // A GET changes nothing at the server: retried after 5xx, 429 and timeouts like any
    // idempotent request.
    let reply = send_with_retries(http, timeout, true, || http.client().get(&url))
        .await
        .map_err(|e| match e {
            ExchangeError::Transport(t) => format!("OIDC discovery failed: {t}"),
            ExchangeError::NotOAuth { what, .. } => {
                format!("OIDC discovery at {url} answered {what}")
            }
            ExchangeError::OAuth { error, .. } => format!(
                "OIDC discovery at {url} answered HTTP {}, {}",
                error.status,
                error.summary()
            ),
        })?;
    if reply.status != 200 {
        return Err(format!(
            "OIDC discovery at {url} answered {}",
            describe_non_oauth(reply.status, reply.content_type.as_deref(), &reply.body)
        ));
    }
    let endpoints = oidc::endpoints_from_document(issuer, &reply.body)?;
    if let Ok(document) = serde_json::from_slice(&reply.body) {
        let cached = CachedDocument {
            issuer: issuer.to_string(),
            fetched_at: crate::clock::now(),
            document,
        };
        if let Ok(bytes) = serde_json::to_vec(&cached) {
            let store = store.clone();
            // Best effort: a cache that cannot be written costs a round trip next time, nothing more.
            let _ = tokio::task::spawn_blocking(move || store.write_file(&file, &bytes)).await;
        }
    }
    Ok(endpoints)
}
