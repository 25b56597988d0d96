//! The per-profile lease, kept in the profile's own entry: `{"record": …, "nonce": …, "lease":
//! {"holder": "<host>/<pid>/<random>", "ttl_ms": …}}`.
//!
//! Taking it is the read of the entry, then a check-and-set write of the same record with the
//! lease added, on the version read: of two hosts racing for it one wins and the other gets a
//! conflict, and the winner knows that the record it read is the current one (any write since
//! would have moved the version), so the read before the lease is the read under it. The
//! holder rewrites the entry every `lock_ttl / 3` while it holds it, and frees it by writing
//! the entry without the lease: usually the very write that stores the new record
//! ([`super::BaoStore::save_and_unlock`]), so a refresh costs three requests (read, lease, record),
//! and otherwise a write of its own after the work done under the lease.
//!
//! A lease whose current version is older than its `ttl_ms` by the server's own clock (the
//! entry's `created_time` against the answer's `Date`) was left by a holder that vanished, and is
//! taken over with check-and-set like a free one: no host's clock is trusted, only the server's.
//!
//! Every write of a held entry (renewal, save, release) holds [`Held::entry`] across its
//! request, so each checks against the version the one before it made.

use super::client::{BaoError, Entry, Kv};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A lease this process holds, shared by the calls made under it and the task renewing it.
pub struct Held {
    pub key: String,
    /// The lease as written into the entry.
    pub lease: Value,
    pub entry: tokio::sync::Mutex<HeldEntry>,
}

/// The held entry as this process last wrote it.
pub struct HeldEntry {
    pub version: u64,
    /// The record's JSON as stored (`None`: the profile has no record yet).
    pub record: Option<Value>,
    /// The lease was freed (by a save that released it, or by the release).
    pub freed: bool,
}

/// An entry's data: the record (if any), a nonce for this write, the lease (if held).
pub fn entry_data(record: Option<&Value>, lease: Option<&Value>) -> Value {
    let mut data = Map::new();
    if let Some(record) = record {
        data.insert("record".into(), record.clone());
    }
    data.insert("nonce".into(), Value::String(nonce()));
    if let Some(lease) = lease {
        data.insert("lease".into(), lease.clone());
    }
    Value::Object(data)
}

/// The lease this process writes into the entries it holds.
pub fn lease_value(holder: &str, ttl: Duration) -> Value {
    json!({
        "holder": holder,
        "ttl_ms": u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
    })
}

/// A lease just taken: the entry's version with it, and the record in it (the one read).
pub struct Taken {
    pub held: Held,
    pub version: u64,
    pub record: Option<Value>,
}

/// Takes the lease of the entry at `key` if it is free or expired, or `None` when a live holder
/// has it (or won the race for it).
pub async fn take(kv: &Kv, key: &str, lease: &Value) -> Result<Option<Taken>, BaoError> {
    let entry = kv.read(key).await?;
    if held_by_someone(&entry) {
        return Ok(None);
    }
    let record = entry.data.as_ref().and_then(|d| d.get("record")).cloned();
    let data = entry_data(record.as_ref(), Some(lease));
    match kv.write_checked(key, &data, entry.version).await {
        Ok(version) => Ok(Some(Taken {
            held: Held {
                key: key.to_string(),
                lease: lease.clone(),
                entry: tokio::sync::Mutex::new(HeldEntry {
                    version,
                    record: record.clone(),
                    freed: false,
                }),
            },
            version,
            record,
        })),
        Err(BaoError::Conflict) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Keeps the lease renewed until `stop` fires or is dropped, then frees it unless a save
/// already did. Runs on the store's thread, beside the request the lease protects.
pub async fn keep(
    kv: Arc<Kv>,
    held: Arc<Held>,
    ttl: Duration,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let period = (ttl / 3).max(Duration::from_millis(200));
    let mut stop = stop;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            () = tokio::time::sleep(period) => {
                let mut entry = held.entry.lock().await;
                if entry.freed {
                    return;
                }
                let data = entry_data(entry.record.as_ref(), Some(&held.lease));
                match kv.write_checked(&held.key, &data, entry.version).await {
                    Ok(v) => entry.version = v,
                    Err(BaoError::Conflict) => {
                        // Another holder took over: we were cut off for longer than lock_ttl.
                        // Our record write still checks its version, so it cannot go over theirs.
                        tracing::warn!(lease = held.key.as_str(), "the lease was taken over by another holder");
                        return;
                    }
                    Err(e) => tracing::warn!(lease = held.key.as_str(), "cannot renew the lease: {e:?}"),
                }
            }
        }
    }
    let mut entry = held.entry.lock().await;
    if entry.freed {
        return;
    }
    let data = entry_data(entry.record.as_ref(), None);
    match kv.write_checked(&held.key, &data, entry.version).await {
        Ok(v) => {
            entry.version = v;
            entry.freed = true;
        }
        // Taken over meanwhile: the entry is another holder's now.
        Err(BaoError::Conflict) => {}
        Err(e) => tracing::warn!(
            lease = held.key.as_str(),
            "cannot release the lease; it is free again after lock_ttl: {e:?}"
        ),
    }
}

/// Whether the entry carries a lease that has not expired: someone (maybe this very process,
/// for another of its tasks) holds it.
fn held_by_someone(entry: &Entry) -> bool {
    entry
        .data
        .as_ref()
        .and_then(|d| d.get("lease"))
        .is_some_and(|lease| !expired(lease, entry))
}

/// Whether a lease's holder has not renewed it for longer than its ttl, by the server's clock.
/// Whole seconds on both sides, so "more than" errs on the side of waiting.
fn expired(lease: &Value, entry: &Entry) -> bool {
    let ttl_ms = lease["ttl_ms"].as_u64().unwrap_or(u64::MAX);
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

    fn leased(ttl_ms: u64, written_at: i64, now: i64) -> Entry {
        Entry {
            version: 3,
            data: Some(json!({"record": {}, "lease": {"holder": "h", "ttl_ms": ttl_ms}})),
            written_at: Some(written_at),
            server_now: Some(now),
        }
    }

    #[test]
    fn a_lease_expires_only_past_its_ttl_by_the_servers_clock() {
        assert!(
            held_by_someone(&leased(3000, 100, 103)),
            "3 whole seconds may be 2.01 real ones"
        );
        assert!(!held_by_someone(&leased(3000, 100, 104)));
        assert!(
            held_by_someone(&leased(2500, 100, 103)),
            "rounded up to 3 s"
        );
        let mut no_date = leased(1000, 100, 200);
        no_date.server_now = None;
        assert!(
            held_by_someone(&no_date),
            "without the server's time, never expired"
        );
    }

    #[test]
    fn an_entry_without_a_lease_is_free() {
        let mut entry = leased(3000, 100, 100);
        entry.data = Some(json!({"record": {}, "nonce": "n"}));
        assert!(!held_by_someone(&entry));
        assert!(!held_by_someone(&Entry::default()), "no entry at all");
    }

    #[test]
    fn entry_data_carries_the_record_and_lease_given_and_a_fresh_nonce() {
        let record = json!({"generation": 2});
        let lease = lease_value("h/1/2", Duration::from_secs(60));
        let a = entry_data(Some(&record), Some(&lease));
        let b = entry_data(Some(&record), None);
        assert_eq!(a["record"], record);
        assert_eq!(a["lease"]["ttl_ms"], 60_000);
        assert_eq!(a["lease"]["holder"], "h/1/2");
        assert!(b.get("lease").is_none());
        assert_ne!(a["nonce"], b["nonce"]);
        assert!(entry_data(None, None).get("record").is_none());
    }
}
