//! A string that must never be shown: access, refresh and id tokens, client secrets.
//!
//! `secrecy::SecretString` was the first choice, but it deliberately refuses `Serialize`, and the
//! token store has to write these values to disk. This newtype keeps the two properties that
//! matter (no `Debug`/`Display` of the value, an explicit `expose()` at each use) and serialises
//! transparently.

use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::Zeroize;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself. Every call site is a place where a secret leaves its box: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A masked form for screens: the length and the last four characters at most, never more
    /// than a quarter of the value.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let tail = (chars.len() / 4).min(4);
        let shown: String = chars[chars.len() - tail..].iter().collect();
        format!("••••••••{shown} ({} chars)", chars.len())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    /// Best effort: overwrite the bytes before the allocation is returned (zeroize, already in
    /// the tree through rustls, does it with volatile writes the optimiser cannot drop).
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
    }

    #[test]
    fn masked_shows_at_most_a_quarter() {
        assert_eq!(
            Secret::new("abcdefghijklmnop").masked(),
            "••••••••mnop (16 chars)"
        );
        assert_eq!(Secret::new("abc").masked(), "•••••••• (3 chars)");
        assert!(!Secret::new("abcdefgh").masked().contains("efgh"));
    }

    #[test]
    fn serialises_as_a_plain_string() {
        let s: Secret = serde_json::from_str("\"tok\"").unwrap();
        assert_eq!(s.expose(), "tok");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"tok\"");
    }
}
