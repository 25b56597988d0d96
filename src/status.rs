//! A profile's status (SPEC.md "Status of a profile"), derived from its record and the clock.

use crate::config::{Grant, LoginLimits, Profile};
use crate::store::{RecordMeta, Standing};
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Valid,
    Expiring,
    Expired,
    NeedsLogin,
    Revoked,
    Error,
    /// Dashboard only: a request for this profile is in flight.
    Refreshing,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Valid,
        Status::Expiring,
        Status::Expired,
        Status::NeedsLogin,
        Status::Revoked,
        Status::Error,
        Status::Refreshing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Expiring => "expiring",
            Status::Expired => "expired",
            Status::NeedsLogin => "needs_login",
            Status::Revoked => "revoked",
            Status::Error => "error",
            Status::Refreshing => "refreshing",
        }
    }
}

/// `now` in unix seconds.
pub fn status_of(
    record: Option<&RecordMeta>,
    grant: Grant,
    refresh_ahead: Duration,
    now: i64,
) -> Status {
    let Some(record) = record else {
        // A client-credentials profile can always get a token: it simply has none yet.
        return match grant {
            Grant::ClientCredentials => Status::Expired,
            Grant::RefreshToken => Status::NeedsLogin,
        };
    };
    match record.standing {
        Standing::Revoked => return Status::Revoked,
        Standing::NeedsLogin => return Status::NeedsLogin,
        Standing::Active => {}
    }
    if record.last_error.as_ref().is_some_and(|e| e.transient) {
        return Status::Error;
    }
    if !record.has_access_token {
        return match (grant, record.has_refresh_token) {
            (Grant::RefreshToken, false) => Status::NeedsLogin,
            _ => Status::Expired,
        };
    }
    match record.expires_at {
        None => Status::Valid,
        Some(at) if at <= now => Status::Expired,
        Some(at) if at.saturating_sub(now) < refresh_margin(record, refresh_ahead) => {
            Status::Expiring
        }
        Some(_) => Status::Valid,
    }
}

/// The share of a token's granted lifetime that may be left before it is due: a half. With
/// `refresh_ahead` alone, a token that lives no longer than `refresh_ahead` (Keycloak's 5-minute
/// default against our 5-minute margin) would be due the moment it arrives, and every `token`
/// call and every dashboard tick would refresh it (and, with rotation, spend a refresh token).
pub const LIFETIME_DIVISOR: i64 = 2;

/// How long before expiry the access token is due for a refresh, in seconds: `refresh_ahead`,
/// but never more than half of the lifetime the provider granted (expiry minus the time the
/// token was obtained). When that lifetime is unknown, `refresh_ahead` alone.
///
/// This is the one due rule: status, `token`, `refresh --all` and the dashboard's schedule all
/// come through here.
pub fn refresh_margin(record: &RecordMeta, refresh_ahead: Duration) -> i64 {
    let ahead = i64::try_from(refresh_ahead.as_secs()).unwrap_or(i64::MAX);
    match (record.expires_at, record.obtained_at) {
        (Some(expires), Some(obtained)) if expires > obtained => {
            ahead.min(expires.saturating_sub(obtained) / LIFETIME_DIVISOR)
        }
        _ => ahead,
    }
}

/// The access token is missing, expired or within its [`refresh_margin`] of expiry. An unknown
/// expiry does not count: such a token is used until the server says 401.
pub fn needs_refresh(record: &RecordMeta, refresh_ahead: Duration, now: i64) -> bool {
    !record.has_access_token
        || record
            .expires_at
            .is_some_and(|at| at.saturating_sub(now) < refresh_margin(record, refresh_ahead))
}

/// Which limit ends a login (the earliest of those known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginLimit {
    /// The token response's figure, or a JWT refresh token's `exp`.
    Provider,
    /// `refresh_token_lifetime`.
    Lifetime,
    /// `refresh_token_idle` (the profile's key, or the provider's documented default).
    Idle,
}

impl LoginLimit {
    /// Where the limit comes from, in the words of the config and SPEC.md.
    pub fn describe(self, limits: &LoginLimits) -> &'static str {
        match self {
            LoginLimit::Provider => "the provider's figure",
            LoginLimit::Lifetime => "refresh_token_lifetime",
            LoginLimit::Idle if limits.idle_is_provider_default => {
                "refresh_token_idle, the provider's default"
            }
            LoginLimit::Idle => "refresh_token_idle",
        }
    }
}

/// When the login (the refresh token family) ends, unix seconds: the earliest of the limits
/// known (SPEC.md "Refresh-token lifetime"): the provider's figure or JWT `exp` kept in the
/// record, `refresh_token_lifetime` from the start of the family, and `refresh_token_idle` from
/// the last refresh (or the start of the family before any refresh). `None`: no limit known, or
/// nothing to end (no refresh token).
pub fn login_ends_at(record: &RecordMeta, limits: &LoginLimits) -> Option<i64> {
    login_end(record, limits).map(|(at, _)| at)
}

/// [`login_ends_at`], with the limit that sets it (the first of provider, lifetime, idle on a
/// tie).
pub fn login_end(record: &RecordMeta, limits: &LoginLimits) -> Option<(i64, LoginLimit)> {
    if !record.has_refresh_token {
        return None;
    }
    [
        (record.refresh_expires_at, LoginLimit::Provider),
        (
            after(record.family_started_at, limits.lifetime),
            LoginLimit::Lifetime,
        ),
        (idle_window_closes(record, limits.idle), LoginLimit::Idle),
    ]
    .into_iter()
    .filter_map(|(at, limit)| Some((at?, limit)))
    .min_by_key(|&(at, _)| at)
}

/// `from + limit`, when both are known (saturating: a limit may be any size).
fn after(from: Option<i64>, limit: Option<Duration>) -> Option<i64> {
    Some(from?.saturating_add(i64::try_from(limit?.as_secs()).unwrap_or(i64::MAX)))
}

/// When an idle window of `idle` closes: counted from the last refresh, or from the login or
/// import that began the family before any refresh.
fn idle_window_closes(record: &RecordMeta, idle: Option<Duration>) -> Option<i64> {
    let idle_from = match (record.last_refresh, record.family_started_at) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    after(idle_from, idle)
}

/// The share of an idle window that may be left before a refresh keeps the login alive: a
/// quarter, so a 30-day window is renewed about every 22 days and a 20 s one every 15 s.
pub const IDLE_KEEP_ALIVE_DIVISOR: i64 = 4;

/// With `refresh_token_idle` set, the idle window closes soon: less than a quarter of it is left.
/// A refresh then keeps the login alive even though the access token is not due.
pub fn keep_alive_due(record: &RecordMeta, limits: &LoginLimits, now: i64) -> bool {
    let Some(idle) = limits.idle else {
        return false;
    };
    if !record.has_refresh_token {
        return false;
    }
    // The idle window alone: an earlier end from another limit (the provider's figure, the
    // absolute lifetime) is not moved by a refresh, so it must not make every tick a refresh.
    let window = i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
    idle_window_closes(record, Some(idle))
        .is_some_and(|closes| closes.saturating_sub(now) < window / IDLE_KEEP_ALIVE_DIVISOR)
}

/// `--min-valid D` (SPEC.md "Tokens where they are used"), which replaces [`refresh_due`] for one
/// call: the access token is missing, or has less than `min_valid` seconds left. An unknown expiry
/// does not count, as in [`needs_refresh`].
pub fn min_valid_due(record: &RecordMeta, min_valid: i64, now: i64) -> bool {
    !record.has_access_token
        || record
            .expires_at
            .is_some_and(|at| at.saturating_sub(now) < min_valid)
}

/// The one rule for "refresh now": the access token is due ([`needs_refresh`]), or the login's
/// idle window needs a refresh to stay open ([`keep_alive_due`]).
pub fn refresh_due(record: &RecordMeta, profile: &Profile, now: i64) -> bool {
    needs_refresh(record, profile.refresh_ahead, now)
        || keep_alive_due(record, &profile.login_limits, now)
}

/// [`status_of`] for a profile, with the end of its login: a login that ran out needs a login,
/// whatever its access token still says.
pub fn profile_status(record: Option<&RecordMeta>, profile: &Profile, now: i64) -> Status {
    let status = status_of(record, profile.grant, profile.refresh_ahead, now);
    let ended = record
        .and_then(|r| login_ends_at(r, &profile.login_limits))
        .is_some_and(|at| at <= now);
    match status {
        Status::Valid | Status::Expiring | Status::Expired | Status::Error if ended => {
            Status::NeedsLogin
        }
        other => other,
    }
}

/// The profile has nothing to act with: no refresh token for a refresh-token profile.
pub fn can_refresh(record: Option<&RecordMeta>, grant: Grant) -> bool {
    match grant {
        Grant::ClientCredentials => true,
        Grant::RefreshToken => {
            record.is_some_and(|r| r.has_refresh_token && r.standing == Standing::Active)
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn min_valid_is_due_when_less_is_left_and_never_for_an_unknown_expiry() {
        let record = |expires_at| RecordMeta {
            has_access_token: true,
            expires_at,
            ..Default::default()
        };
        assert!(min_valid_due(&record(Some(1_059)), 60, 1_000));
        assert!(!min_valid_due(&record(Some(1_060)), 60, 1_000));
        assert!(!min_valid_due(&record(None), 60, 1_000));
        assert!(min_valid_due(&RecordMeta::default(), 0, 1_000), "no token");
    }

    use super::*;
    use crate::secret::Secret;
    use crate::store::{LastError, TokenRecord};

    const AHEAD: Duration = Duration::from_secs(300);

    fn rec(expires_at: Option<i64>) -> RecordMeta {
        TokenRecord {
            access_token: Some(Secret::new("a")),
            refresh_token: Some(Secret::new("r")),
            expires_at,
            ..Default::default()
        }
        .meta()
    }

    #[test]
    fn expiry_drives_valid_expiring_expired() {
        let g = Grant::RefreshToken;
        assert_eq!(
            status_of(Some(&rec(Some(1000 + 301))), g, AHEAD, 1000),
            Status::Valid
        );
        assert_eq!(
            status_of(Some(&rec(Some(1000 + 299))), g, AHEAD, 1000),
            Status::Expiring
        );
        assert_eq!(
            status_of(Some(&rec(Some(1000))), g, AHEAD, 1000),
            Status::Expired
        );
        assert_eq!(status_of(Some(&rec(None)), g, AHEAD, 1000), Status::Valid);
    }

    fn granted(obtained_at: i64, lifetime: i64) -> RecordMeta {
        let mut r = rec(Some(obtained_at + lifetime));
        r.obtained_at = Some(obtained_at);
        r
    }

    #[test]
    fn the_margin_is_refresh_ahead_bounded_by_half_the_lifetime() {
        assert_eq!(refresh_margin(&granted(1000, 3600), AHEAD), 300);
        assert_eq!(refresh_margin(&granted(1000, 600), AHEAD), 300);
        assert_eq!(refresh_margin(&granted(1000, 300), AHEAD), 150);
        assert_eq!(refresh_margin(&granted(1000, 120), AHEAD), 60);
        assert_eq!(refresh_margin(&granted(1000, 10), AHEAD), 5);
        // Lifetime unknown (no obtained_at, or an expiry before it): refresh_ahead alone.
        assert_eq!(refresh_margin(&rec(Some(1120)), AHEAD), 300);
        assert_eq!(refresh_margin(&granted(1000, -5), AHEAD), 300);
    }

    /// The bug this rule fixes: a token that lives no longer than refresh_ahead was due (and
    /// `expiring`) the second it arrived.
    #[test]
    fn a_fresh_short_token_is_valid_and_not_due_until_half_its_life() {
        let g = Grant::RefreshToken;
        for lifetime in [10, 60, 120, 300, 3600] {
            let r = granted(1000, lifetime);
            assert_eq!(
                status_of(Some(&r), g, AHEAD, 1000),
                Status::Valid,
                "{lifetime}"
            );
            assert!(!needs_refresh(&r, AHEAD, 1000), "{lifetime}");
            let margin = refresh_margin(&r, AHEAD);
            let due_at = 1000 + lifetime - margin;
            assert!(!needs_refresh(&r, AHEAD, due_at), "{lifetime}");
            assert!(needs_refresh(&r, AHEAD, due_at + 1), "{lifetime}");
            assert_eq!(status_of(Some(&r), g, AHEAD, due_at + 1), Status::Expiring);
        }
    }

    const DAY: i64 = 86_400;

    fn limits(lifetime: Option<i64>, idle: Option<i64>) -> LoginLimits {
        let secs = |s: i64| Duration::from_secs(s as u64);
        LoginLimits {
            lifetime: lifetime.map(secs),
            idle: idle.map(secs),
            idle_is_provider_default: false,
        }
    }

    #[test]
    fn the_login_ends_at_the_earliest_limit_known() {
        let mut r = rec(Some(5000));
        assert_eq!(login_ends_at(&r, &limits(None, None)), None);
        r.family_started_at = Some(1000);
        r.last_refresh = Some(3000);
        // Absolute from the start of the family; idle from the last refresh.
        assert_eq!(
            login_ends_at(&r, &limits(Some(30 * DAY), None)),
            Some(1000 + 30 * DAY)
        );
        assert_eq!(
            login_ends_at(&r, &limits(None, Some(DAY))),
            Some(3000 + DAY)
        );
        assert_eq!(
            login_ends_at(&r, &limits(Some(30 * DAY), Some(DAY))),
            Some(3000 + DAY)
        );
        // The provider's own figure, when it comes first.
        r.refresh_expires_at = Some(2000);
        assert_eq!(
            login_ends_at(&r, &limits(Some(30 * DAY), Some(DAY))),
            Some(2000)
        );
        // Nothing to end without a refresh token.
        r.has_refresh_token = false;
        assert_eq!(login_ends_at(&r, &limits(None, Some(DAY))), None);
    }

    #[test]
    fn the_limit_that_ends_the_login_is_named() {
        let mut r = rec(Some(5000));
        r.family_started_at = Some(1000);
        r.last_refresh = Some(3000);
        let both = limits(Some(30 * DAY), Some(DAY));
        assert_eq!(login_end(&r, &both), Some((3000 + DAY, LoginLimit::Idle)));
        assert_eq!(
            login_end(&r, &limits(Some(DAY), Some(DAY))),
            Some((1000 + DAY, LoginLimit::Lifetime))
        );
        r.refresh_expires_at = Some(2000);
        assert_eq!(login_end(&r, &both), Some((2000, LoginLimit::Provider)));
        assert_eq!(LoginLimit::Idle.describe(&both), "refresh_token_idle");
    }

    #[test]
    fn idle_counts_from_the_login_before_any_refresh() {
        let mut r = rec(Some(5000));
        r.family_started_at = Some(1000);
        assert_eq!(login_ends_at(&r, &limits(None, Some(100))), Some(1100));
    }

    #[test]
    fn a_closing_idle_window_is_due_even_with_a_fresh_access_token() {
        let mut r = rec(Some(1000 + 3600));
        r.obtained_at = Some(1000);
        r.family_started_at = Some(1000);
        let l = limits(None, Some(400));
        // 400 s window from 1000: due once less than 100 s is left, i.e. after 1300.
        assert!(!keep_alive_due(&r, &l, 1300));
        assert!(keep_alive_due(&r, &l, 1301));
        assert!(!keep_alive_due(&r, &limits(None, None), 1399));
        assert!(
            !needs_refresh(&r, AHEAD, 1301),
            "the access token itself is not due"
        );
    }

    /// A limit that a refresh does not move (the provider's absolute figure, Google's time-based
    /// access) ending before the idle window must not make the keep-alive fire at every tick.
    #[test]
    fn an_earlier_fixed_end_does_not_trigger_the_keep_alive() {
        let mut r = rec(Some(1000 + 3600));
        r.obtained_at = Some(1000);
        r.family_started_at = Some(1000);
        r.refresh_expires_at = Some(1000 + 4 * DAY);
        let l = limits(None, Some(90 * DAY));
        assert_eq!(login_ends_at(&r, &l), Some(1000 + 4 * DAY));
        assert!(!keep_alive_due(&r, &l, 1001));
        assert!(!keep_alive_due(&r, &l, 1000 + 4 * DAY - 1));
    }

    #[test]
    fn standing_and_errors_come_first() {
        let g = Grant::RefreshToken;
        let mut r = rec(Some(5000));
        r.last_error = Some(LastError {
            message: "timeout".into(),
            code: None,
            transient: true,
            at: 1,
        });
        assert_eq!(status_of(Some(&r), g, AHEAD, 1000), Status::Error);
        r.standing = Standing::NeedsLogin;
        assert_eq!(status_of(Some(&r), g, AHEAD, 1000), Status::NeedsLogin);
        r.standing = Standing::Revoked;
        assert_eq!(status_of(Some(&r), g, AHEAD, 1000), Status::Revoked);
    }

    #[test]
    fn no_record_needs_login_unless_client_credentials() {
        assert_eq!(
            status_of(None, Grant::RefreshToken, AHEAD, 0),
            Status::NeedsLogin
        );
        assert_eq!(
            status_of(None, Grant::ClientCredentials, AHEAD, 0),
            Status::Expired
        );
        let bare = TokenRecord {
            refresh_token: Some(Secret::new("r")),
            ..Default::default()
        }
        .meta();
        assert_eq!(
            status_of(Some(&bare), Grant::RefreshToken, AHEAD, 0),
            Status::Expired
        );
    }
}
