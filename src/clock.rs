//! Wall-clock time as unix seconds, and the human forms of durations shown everywhere.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn rfc3339(unix_seconds: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix_seconds.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// `42m 10s`, `3h 05m`, `2d 4h`: two units at most, so it fits a narrow column.
pub fn short_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

/// What the EXPIRES IN column says.
pub fn expires_in(expires_at: Option<i64>, now: i64) -> String {
    match expires_at {
        None => "unknown".into(),
        Some(at) if at > now => short_duration(at - now),
        Some(at) => format!("expired {} ago", short_duration(now - at)),
    }
}

pub fn ago(at: Option<i64>, now: i64) -> String {
    match at {
        None => "never".into(),
        Some(t) => format!("{} ago", short_duration(now - t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_match_the_spec() {
        assert_eq!(expires_in(Some(100 + 42 * 60 + 10), 100), "42m 10s");
        assert_eq!(expires_in(Some(100), 100 + 180), "expired 3m 00s ago");
        assert_eq!(expires_in(None, 0), "unknown");
        assert_eq!(short_duration(3 * 3600 + 5 * 60), "3h 05m");
        assert_eq!(short_duration(9), "9s");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
