//! The per-profile lease: an entry `<prefix>/.locks/<name>` written with check-and-set.
//!
//! Held: `{"held": true, "holder": "<host>/<pid>/<random>", "ttl_ms": …}`. Taking it is a read
//! then a write with `cas` = the version read, so of two hosts racing for it one wins and the
//! other gets a conflict. The holder rewrites it every `lock_ttl / 3` while it holds it (each
//! write a new version), and when done soft-deletes the version it last wrote (only that one:
//! if another holder took over meanwhile, its later version stays held). A lease whose current
//! version is deleted is free, and a listing of the `.locks/` folder shows that for every lease
//! at once (`LIST detailed-metadata`), so `refresh --all` takes a free lease with the
//! check-and-set write alone, on the version listed ([`take_at`]); a version that moved since
//! makes it a conflict, and the read-then-write path decides. A token whose policy does not
//! allow `…/delete/<prefix>/.locks/*` (README's policy before it did) releases by writing
//! `{"held": false}` instead, as before, which a listing cannot tell from held.
//!
//! A lease whose current version is older than its `ttl_ms` by the server's own clock (the
//! entry's `created_time` against the answer's `Date`) was left by a holder that vanished, and is
//! taken over with check-and-set like a free one: no host's clock is trusted, only the server's.

use super::client::{BaoError, Entry, Kv};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Takes the lease at `key` if it is free or expired: `Some(version written)`, or `None` when a
/// live holder has it (or won the race for it).
pub async fn take(
    kv: &Kv,
    key: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<u64>, BaoError> {
    let entry = kv.read(key).await?;
    if entry.data.as_ref().is_some_and(|d| d["held"] == true) && !expired(&entry) {
        return Ok(None);
    }
    match kv
        .write_checked(key, &held(holder, ttl), entry.version)
        .await
    {
        Ok(version) => Ok(Some(version)),
        Err(BaoError::Conflict) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Takes a lease a listing showed free at `version` (soft-deleted, or never written: 0) with the
/// check-and-set write alone: `Some(version written)`; `None` when it moved since (then [`take`]
/// decides, by reading it).
pub async fn take_at(
    kv: &Kv,
    key: &str,
    holder: &str,
    ttl: Duration,
    version: u64,
) -> Result<Option<u64>, BaoError> {
    match kv.write_checked(key, &held(holder, ttl), version).await {
        Ok(written) => Ok(Some(written)),
        Err(BaoError::Conflict) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Keeps the lease (written at `version`) renewed until `stop` fires or is dropped, then frees
/// it. Runs on the store's thread, beside the request the lease protects.
pub async fn keep(
    kv: Arc<Kv>,
    key: String,
    holder: String,
    ttl: Duration,
    mut version: u64,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let period = (ttl / 3).max(Duration::from_millis(200));
    let mut stop = stop;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = tokio::time::sleep(period) => {
                match kv.write_checked(&key, &held(&holder, ttl), version).await {
                    Ok(v) => version = v,
                    Err(BaoError::Conflict) => {
                        // Another holder took over: we were cut off for longer than lock_ttl.
                        // Our record write still checks its version, so it cannot go over theirs.
                        tracing::warn!(lease = key.as_str(), "the lease was taken over by another holder");
                        return;
                    }
                    Err(e) => tracing::warn!(lease = key.as_str(), "cannot renew the lease: {e:?}"),
                }
            }
        }
    }
    let released = match kv.delete_version(&key, version).await {
        // A policy without `delete/`: the free write of earlier versions, still check-and-set.
        Err(BaoError::Denied) => {
            let free = json!({"held": false, "holder": "", "ttl_ms": 0, "nonce": nonce()});
            match kv.write_checked(&key, &free, version).await {
                Ok(_) | Err(BaoError::Conflict) => Ok(()),
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    if let Err(e) = released {
        tracing::warn!(
            lease = key.as_str(),
            "cannot release the lease; it is free again after lock_ttl: {e:?}"
        );
    }
}

fn held(holder: &str, ttl: Duration) -> Value {
    json!({
        "held": true,
        "holder": holder,
        "ttl_ms": u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
        "nonce": nonce(),
    })
}

/// Whether a held lease's holder has not renewed it for longer than its ttl, by the server's
/// clock. Whole seconds on both sides, so "more than" errs on the side of waiting.
fn expired(entry: &Entry) -> bool {
    let ttl_ms = entry
        .data
        .as_ref()
        .and_then(|d| d["ttl_ms"].as_u64())
        .unwrap_or(u64::MAX);
    let ttl_secs = i64::try_from(ttl_ms.div_ceil(1000)).unwrap_or(i64::MAX);
    match (entry.server_now, entry.written_at) {
        (Some(now), Some(at)) => now.saturating_sub(at) > ttl_secs,
        _ => false,
    }
}

/// Tells this write apart from every other (see `Kv::write_checked`).
pub fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Who holds a lease, for people reading the entry: host, process, and a random part.
pub fn holder_id() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer outlives the call, and its length is what is passed.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let host = if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown-host".into()
    };
    format!(
        "{host}/{}/{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(ttl_ms: u64, written_at: i64, now: i64) -> Entry {
        Entry {
            version: 3,
            data: Some(json!({"held": true, "ttl_ms": ttl_ms})),
            written_at: Some(written_at),
            server_now: Some(now),
        }
    }

    #[test]
    fn a_lease_expires_only_past_its_ttl_by_the_servers_clock() {
        assert!(
            !expired(&lease(3000, 100, 103)),
            "3 whole seconds may be 2.01 real ones"
        );
        assert!(expired(&lease(3000, 100, 104)));
        assert!(!expired(&lease(2500, 100, 103)), "rounded up to 3 s");
        let mut no_date = lease(1000, 100, 200);
        no_date.server_now = None;
        assert!(!expired(&no_date), "without the server's time, never");
    }
}
