//! A profile's status (SPEC.md "Status of a profile"), derived from its record and the clock.

use crate::config::Grant;
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
