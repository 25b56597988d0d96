//! When a profile is refreshed without anyone asking: ahead of expiry, each profile at its own
//! moment, and after failures not before a backoff (or the server's `Retry-After`) has passed.
//!
//! Free of the dashboard: it knows a profile by its name, grant, `refresh_ahead` and login limits, its record
//! by [`RecordMeta`], and the time by the caller's clock, so that anything that refreshes on its
//! own runs this very schedule. The due rule itself is [`crate::status`]'s, the one `token`,
//! `refresh --all` and the status column use.

use crate::config::{Grant, LoginLimits};
use crate::status::{can_refresh, keep_alive_due, needs_refresh, refresh_margin};
use crate::store::{RecordMeta, Standing};
use std::time::Duration;

/// Auto-refresh backs off after failures up to this.
pub const MAX_BACKOFF_SECONDS: i64 = 900;
/// The longest `Retry-After` honoured before trying again.
pub const MAX_SERVER_WAIT_SECONDS: i64 = 3600;
/// The first backoff, doubled at each further failure.
const FIRST_BACKOFF_SECONDS: i64 = 15;
/// The most a failed profile's next try is moved by its jitter.
const FAILURE_JITTER_SECONDS: i64 = 5;

/// One profile's schedule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Not before this instant (unix seconds); set by backoff after failures.
    pub not_before: i64,
    /// Consecutive failures, for the backoff.
    pub failures: u32,
}

impl Schedule {
    /// A profile is refreshed ahead of expiry, each at its own moment within a small window
    /// (from a hash of its name) so that many profiles expiring together do not fire together.
    pub fn due(
        &self,
        name: &str,
        record: Option<&RecordMeta>,
        grant: Grant,
        refresh_ahead: Duration,
        limits: &LoginLimits,
        now: i64,
    ) -> bool {
        let default = RecordMeta::default();
        let meta = record.unwrap_or(&default);
        if meta.standing != Standing::Active || !can_refresh(record, grant) {
            return false;
        }
        if now < self.not_before {
            return false;
        }
        if !needs_refresh(meta, refresh_ahead, now) {
            // Not for the access token, maybe for the login: a refresh keeps an idle window open
            // (`refresh_token_idle`), with a quarter of the window to spare.
            return keep_alive_due(meta, limits, now);
        }
        let ahead = refresh_margin(meta, refresh_ahead);
        let window = (ahead / 4).clamp(0, 10);
        match meta.expires_at {
            Some(at) if at > now && window > 0 => now >= at - ahead + jitter(name, window),
            _ => true,
        }
    }

    /// A refresh failed: wait longer at each failure, and at least as long as the server asked.
    pub fn failed(&mut self, name: &str, retry_after: Option<i64>, now: i64) {
        self.failures += 1;
        let backoff =
            (FIRST_BACKOFF_SECONDS << (self.failures - 1).min(10)).min(MAX_BACKOFF_SECONDS);
        // A server that says when to come back is believed, past our own cap but not past an
        // hour: the header is the server's, and the profile must not go quiet for the whole
        // session.
        let asked = retry_after.unwrap_or(0).clamp(0, MAX_SERVER_WAIT_SECONDS);
        let wait = backoff.max(asked);
        self.not_before = now.saturating_add(wait + jitter(name, FAILURE_JITTER_SECONDS));
    }

    /// A refresh (or a login) worked: the backoff is over.
    pub fn succeeded(&mut self) {
        *self = Schedule::default();
    }
}

/// 0..=window seconds, the same for a name every time.
fn jitter(name: &str, window: i64) -> i64 {
    // FNV-1a (the fnv crate): stable across runs and builds, unlike std's hasher.
    let mut hasher = fnv::FnvHasher::default();
    std::hash::Hasher::write(&mut hasher, name.as_bytes());
    (std::hash::Hasher::finish(&hasher) % (window.max(0) as u64 + 1)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;
    const AHEAD: Duration = Duration::from_secs(300);

    fn record(expires_in: i64) -> RecordMeta {
        RecordMeta {
            has_access_token: true,
            has_refresh_token: true,
            expires_at: Some(NOW + expires_in),
            ..Default::default()
        }
    }

    fn due(s: &Schedule, record: Option<&RecordMeta>, now: i64) -> bool {
        s.due(
            "alpha",
            record,
            Grant::RefreshToken,
            AHEAD,
            &LoginLimits::default(),
            now,
        )
    }

    #[test]
    fn due_inside_the_margin_and_not_before() {
        let s = Schedule::default();
        assert!(!due(&s, Some(&record(3600)), NOW));
        // 60 s left of a 300 s margin: past any jitter (at most 10 s).
        assert!(due(&s, Some(&record(60)), NOW));
        assert!(due(&s, Some(&record(-10)), NOW), "expired");
    }

    #[test]
    fn the_margin_is_bounded_by_half_the_lifetime() {
        let s = Schedule::default();
        let mut short = record(40);
        short.obtained_at = Some(NOW - 20);
        // Lives 60 s: due with less than 30 s left, not at 40 s although refresh_ahead is 300 s.
        assert!(!due(&s, Some(&short), NOW));
        assert!(due(&s, Some(&short), NOW + 15));
    }

    #[test]
    fn nothing_to_refresh_with_is_never_due() {
        let s = Schedule::default();
        assert!(!due(&s, None, NOW), "no record, refresh-token grant");
        let mut no_rt = record(-10);
        no_rt.has_refresh_token = false;
        assert!(!due(&s, Some(&no_rt), NOW));
        let mut dead = record(-10);
        dead.standing = Standing::NeedsLogin;
        assert!(!due(&s, Some(&dead), NOW));
        // Client credentials can always get a token.
        assert!(s.due(
            "robot",
            None,
            Grant::ClientCredentials,
            AHEAD,
            &LoginLimits::default(),
            NOW
        ));
    }

    #[test]
    fn jitter_spreads_profiles_within_the_window_and_is_stable() {
        // 299 s left of a 300 s margin: due once now passes expiry - ahead + jitter (≤ 10 s).
        let s = Schedule::default();
        let r = record(299);
        let first = |name: &str| {
            (NOW..NOW + 12)
                .find(|&t| {
                    s.due(
                        name,
                        Some(&r),
                        Grant::RefreshToken,
                        AHEAD,
                        &LoginLimits::default(),
                        t,
                    )
                })
                .unwrap()
        };
        let firsts: Vec<i64> = (0..20).map(|i| first(&format!("p{i}"))).collect();
        assert!(firsts.iter().all(|t| (NOW..=NOW + 11).contains(t)));
        assert!(firsts.iter().any(|t| *t != firsts[0]), "{firsts:?}");
        assert_eq!(first("p0"), firsts[0]);
    }

    #[test]
    fn failures_back_off_doubling_up_to_the_cap_and_success_resets() {
        let mut s = Schedule::default();
        let mut waits = Vec::new();
        for _ in 0..10 {
            s.failed("alpha", None, NOW);
            waits.push(s.not_before - NOW - jitter("alpha", FAILURE_JITTER_SECONDS));
        }
        assert_eq!(waits[..4], [15, 30, 60, 120]);
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF_SECONDS);
        assert!(
            !due(&s, Some(&record(60)), NOW + 1),
            "not before the backoff ends"
        );
        assert!(due(&s, Some(&record(60)), s.not_before));
        s.succeeded();
        assert_eq!(s, Schedule::default());
    }

    #[test]
    fn retry_after_is_believed_up_to_an_hour() {
        for (asked, wait) in [
            (600, 600),
            (3600, 3600),
            (i64::MAX, MAX_SERVER_WAIT_SECONDS),
            (-5, 15),
        ] {
            let mut s = Schedule::default();
            s.failed("alpha", Some(asked), NOW);
            let jitter = s.not_before - NOW - wait;
            assert!(
                (0..=FAILURE_JITTER_SECONDS).contains(&jitter),
                "asked {asked}"
            );
        }
    }
}
