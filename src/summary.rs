//! One profile as `list`, `refresh --json` and the dashboard see it.

use crate::clock;
use crate::config::Profile;
use crate::status::{Status, login_ends_at, profile_status};
use crate::store::RecordMeta;
use serde::Serialize;

/// The element of `list --json` (SPEC.md "Command line").
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub name: String,
    pub provider: &'static str,
    pub status: Status,
    pub expires_at: Option<String>,
    pub expires_in: Option<i64>,
    pub has_refresh_token: bool,
    pub last_refresh: Option<String>,
    pub last_error: Option<String>,
    /// When the login (the refresh token) ends, where that can be known (SPEC.md
    /// "Refresh-token lifetime").
    pub refresh_token_expires_at: Option<String>,
    /// Newer on this host than in the team store (kept in the local spill until the server
    /// takes it); always false on a file store. Written only when true (`"unsynced": true`), so
    /// a file store's JSON is as it was.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unsynced: bool,
}

impl Summary {
    /// From a record's facts (`TokenRecord::meta`).
    pub fn new(profile: &Profile, record: Option<&RecordMeta>, now: i64) -> Summary {
        let expires_at = record.and_then(|r| r.expires_at.filter(|_| r.has_access_token));
        Summary {
            name: profile.name.clone(),
            provider: profile.provider.kind().as_str(),
            status: profile_status(record, profile, now),
            expires_at: expires_at.map(clock::rfc3339),
            expires_in: expires_at.map(|at| at - now),
            has_refresh_token: record.is_some_and(|r| r.has_refresh_token),
            last_refresh: record.and_then(|r| r.last_refresh).map(clock::rfc3339),
            last_error: record
                .and_then(|r| r.last_error.as_ref())
                .map(|e| e.message.clone()),
            refresh_token_expires_at: record
                .and_then(|r| login_ends_at(r, &profile.login_limits))
                .map(clock::rfc3339),
            unsynced: record.is_some_and(|r| r.unsynced),
        }
    }

    /// A profile whose record the store refuses (not JSON, a link, a directory…): `error`, with
    /// the store's words (path, what is wrong, what to do) as `last_error`, and nothing else
    /// known about it.
    pub fn unusable(profile: &Profile, problem: String) -> Summary {
        Summary {
            name: profile.name.clone(),
            provider: profile.provider.kind().as_str(),
            status: Status::Error,
            expires_at: None,
            expires_in: None,
            has_refresh_token: false,
            last_refresh: None,
            last_error: Some(problem),
            refresh_token_expires_at: None,
            unsynced: false,
        }
    }
}

/// The columns of a profile's line, in the dashboard's table and in `list`: one list of titles
/// for both, so that they never drift apart. LOGIN ENDS is the dashboard's alone (at widths
/// where it fits); `list` leaves it to `list --json` and `tokdash health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Name,
    Provider,
    Status,
    ExpiresIn,
    LastRefresh,
    /// When the login ends, once that is inside `settings.login_warning`.
    LoginEnds,
    Message,
}

impl Column {
    /// The columns `list` prints, in its order (the dashboard drops some when narrow, and adds
    /// LOGIN ENDS when wide).
    pub const ALL: [Column; 6] = [
        Column::Name,
        Column::Provider,
        Column::Status,
        Column::ExpiresIn,
        Column::LastRefresh,
        Column::Message,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Column::Name => "NAME",
            Column::Provider => "PROVIDER",
            Column::Status => "STATUS",
            Column::ExpiresIn => "EXPIRES IN",
            Column::LastRefresh => "LAST REFRESH",
            Column::LoginEnds => "LOGIN ENDS",
            Column::Message => "MESSAGE",
        }
    }
}
