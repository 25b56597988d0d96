//! The token endpoint's success response (RFC 6749 §5.1), read leniently where providers bend
//! the RFC: `expires_in` as a number or a numeric string (MSAL's "AADv1-like endpoint returns a
//! string"), `token_type` in any case, unknown fields ignored as the RFC requires.

use super::ParseError;
use crate::secret::Secret;
use crate::store::{Standing, TokenRecord};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub struct TokenResponse {
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub id_token: Option<Secret>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    pub expires_in: Option<i64>,
    /// `refresh_token_expires_in` (Google, GitHub) or `refresh_expires_in` (Keycloak): how long
    /// the refresh token lives; `Some(0)` says "no limit from this figure" (Keycloak's offline
    /// tokens).
    pub refresh_expires_in: Option<i64>,
}

/// Errors never quote the input: it may hold tokens.
pub fn parse(bytes: &[u8]) -> Result<TokenResponse, ParseError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "not JSON ({})",
            e.to_string()
                .split(" at line")
                .next()
                .unwrap_or("syntax error")
        )
    })?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    from_object(&map)
}

pub fn from_object(map: &Map<String, Value>) -> Result<TokenResponse, ParseError> {
    let response = TokenResponse {
        access_token: secret_field(map, "access_token")?,
        refresh_token: secret_field(map, "refresh_token")?,
        id_token: secret_field(map, "id_token")?,
        token_type: string_field(map, "token_type")?,
        scope: string_field(map, "scope")?,
        expires_in: seconds_field(map, "expires_in")?,
        refresh_expires_in: lifetime_field(map, "refresh_token_expires_in")
            .or_else(|| lifetime_field(map, "refresh_expires_in")),
    };
    if response.access_token.is_none() && response.refresh_token.is_none() {
        return Err("it has neither access_token nor refresh_token".into());
    }
    Ok(response)
}

fn string_field(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ParseError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("`{key}` is not a string").into()),
    }
}

fn secret_field(map: &Map<String, Value>, key: &str) -> Result<Option<Secret>, ParseError> {
    Ok(string_field(map, key)?
        .filter(|s| !s.is_empty())
        .map(Secret::new))
}

/// A refresh-token lifetime figure, read leniently: one that is not a number of seconds is
/// ignored rather than failing the response, which may carry a rotated refresh token that must
/// be stored whatever else it says.
fn lifetime_field(map: &Map<String, Value>, key: &str) -> Option<i64> {
    seconds_field(map, key).ok().flatten()
}

fn seconds_field(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, ParseError> {
    let seconds = match map.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        Some(_) => None,
    };
    match seconds {
        Some(s) if (0..=10 * 365 * 86_400).contains(&s) => Ok(Some(s)),
        _ => Err(format!("`{key}` is not a number of seconds").into()),
    }
}

impl TokenResponse {
    /// Folds a successful response into the stored record. A response without a refresh token
    /// keeps the stored one (Google never rotates); one with a new refresh token replaces it.
    pub fn apply_to(self, record: &mut TokenRecord, now: i64) {
        // The response-given end of the login: the earliest of the figure (0: none) and the
        // `exp` of a JWT refresh token. A response with neither keeps what was known.
        let jwt_exp = self
            .refresh_token
            .as_ref()
            .and_then(|rt| crate::jwt::expiry(rt.expose()));
        if self.refresh_expires_in.is_some() || jwt_exp.is_some() {
            let figure = self
                .refresh_expires_in
                .filter(|secs| *secs > 0)
                .map(|secs| now.saturating_add(secs));
            record.refresh_expires_at = match (figure, jwt_exp) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        if let Some(rt) = self.refresh_token {
            record.refresh_token = Some(rt);
        }
        if self.id_token.is_some() {
            record.id_token = self.id_token;
        }
        if self.scope.is_some() {
            record.scope = self.scope;
        }
        if let Some(at) = self.access_token {
            record.expires_at = match self.expires_in {
                Some(secs) => Some(now + secs),
                None => crate::jwt::expiry(at.expose()),
            };
            record.token_type = self.token_type;
            record.access_token = Some(at);
            record.obtained_at = Some(now);
        }
        record.standing = Standing::Active;
        record.last_error = None;
    }

    /// True when the server handed us a new refresh token.
    pub fn rotates(&self) -> bool {
        self.refresh_token.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_as_number_or_numeric_string() {
        let a = parse(br#"{"access_token":"a","expires_in":3599}"#).unwrap();
        let b = parse(br#"{"access_token":"a","expires_in":"3599"}"#).unwrap();
        let c = parse(br#"{"access_token":"a","expires_in":3599.0}"#).unwrap();
        assert_eq!(
            (a.expires_in, b.expires_in, c.expires_in),
            (Some(3599), Some(3599), Some(3599))
        );
    }

    #[test]
    fn a_bare_refresh_token_is_enough() {
        let r = parse(br#"{"refresh_token":"rt"}"#).unwrap();
        assert_eq!(r.refresh_token.unwrap().expose(), "rt");
    }

    #[test]
    fn errors_never_quote_the_input() {
        for bad in [
            &br#"{"access_token": 12345678}"#[..],
            br#"{"refresh_token":"SECRETRT""#,
            br#"["SECRETRT"]"#,
            br#"{"access_token":"SECRETRT","expires_in":"soon"}"#,
            br#"{}"#,
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(!e.contains("SECRETRT") && !e.contains("12345678"), "{e}");
        }
    }

    #[test]
    fn a_response_without_refresh_token_keeps_the_stored_one() {
        let mut rec = TokenRecord {
            refresh_token: Some(Secret::new("old")),
            ..Default::default()
        };
        parse(br#"{"access_token":"a","expires_in":60}"#)
            .unwrap()
            .apply_to(&mut rec, 1000);
        assert_eq!(rec.refresh_token.as_ref().unwrap().expose(), "old");
        assert_eq!(rec.expires_at, Some(1060));
        parse(br#"{"access_token":"b","refresh_token":"new"}"#)
            .unwrap()
            .apply_to(&mut rec, 2000);
        assert_eq!(rec.refresh_token.as_ref().unwrap().expose(), "new");
        assert_eq!(rec.expires_at, None, "no expires_in and not a JWT: unknown");
    }
}
