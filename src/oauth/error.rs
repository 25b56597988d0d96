//! What a provider says when it refuses: RFC 6749 §5.2 error bodies and their variations
//! (Microsoft's `error_codes`, Auth0's legacy `code`/`description`, Google's `error_code`).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct OAuthError {
    pub status: u16,
    pub error: String,
    pub description: Option<String>,
    /// Microsoft's AADSTS numbers.
    pub error_codes: Vec<String>,
}

impl OAuthError {
    /// `invalid_grant: Token has been expired or revoked.` — the parenthesis of SPEC.md's line.
    pub fn summary(&self) -> String {
        let mut s = self.error.clone();
        if let Some(d) = &self.description {
            s.push_str(": ");
            s.push_str(d);
        }
        let missing: Vec<&str> = self
            .error_codes
            .iter()
            .filter(|c| {
                !self
                    .description
                    .as_deref()
                    .unwrap_or("")
                    .contains(c.as_str())
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            s.push_str(&format!(" [AADSTS{}]", missing.join(", AADSTS")));
        }
        s
    }
}

/// Reads an error body. `None` when the body is not an OAuth error object.
pub fn parse(status: u16, body: &[u8]) -> Option<OAuthError> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(one_line);
    let error = text("error")
        .or_else(|| text("code"))
        .or_else(|| text("error_code"))?;
    let description = text("error_description").or_else(|| text("description"));
    let error_codes = match map.get("error_codes") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) => Some(one_line(s)),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(OAuthError {
        status,
        error,
        description,
        error_codes,
    })
}

/// Provider text is shown on one line (Microsoft's has `\r\n` and trace ids), without control
/// characters that could move the terminal's cursor, and within a sane length.
pub fn one_line(text: &str) -> String {
    let cleaned: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if cleaned.chars().count() > 600 {
        let cut: String = cleaned.chars().take(600).collect();
        format!("{cut}…")
    } else {
        cleaned
    }
}

/// A short description of a body that is not an OAuth error: never the body itself.
pub fn describe_non_oauth(status: u16, content_type: Option<&str>, body: &[u8]) -> String {
    let kind = match content_type.map(|c| c.split(';').next().unwrap_or(c).trim()) {
        Some(c) if !c.is_empty() => c.to_string(),
        _ if body.is_empty() => "empty".to_string(),
        _ => "unlabelled".to_string(),
    };
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!(
        "HTTP {status} {reason} with {article} {kind} body ({} bytes), not an OAuth answer",
        body.len()
    )
    .replace("  ", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_error_codes_and_multiline_descriptions() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired.\r\nTrace ID: 6e94\r\nCorrelation ID: 0e87","error_codes":[700082]}"#;
        let e = parse(400, body).unwrap();
        assert_eq!(e.error, "invalid_grant");
        assert_eq!(e.error_codes, ["700082"]);
        assert_eq!(
            e.summary(),
            "invalid_grant: AADSTS700082: The refresh token has expired. Trace ID: 6e94 Correlation ID: 0e87"
        );
    }

    #[test]
    fn auth0_legacy_keys_and_google_error_code() {
        assert_eq!(
            parse(403, br#"{"code":"access_denied","description":"x"}"#)
                .unwrap()
                .error,
            "access_denied"
        );
        assert_eq!(
            parse(403, br#"{"error_code":"rate_limit_exceeded"}"#)
                .unwrap()
                .error,
            "rate_limit_exceeded"
        );
        assert_eq!(parse(502, b"<html>bad gateway</html>"), None);
        assert_eq!(parse(400, br#"{"message":"Too many requests"}"#), None);
    }

    #[test]
    fn non_oauth_bodies_are_described_not_dumped() {
        let d = describe_non_oauth(
            502,
            Some("text/html; charset=utf-8"),
            b"<html>secret page</html>",
        );
        assert_eq!(
            d,
            "HTTP 502 Bad Gateway with a text/html body (24 bytes), not an OAuth answer"
        );
        assert_eq!(
            describe_non_oauth(401, None, b""),
            "HTTP 401 Unauthorized with an empty body (0 bytes), not an OAuth answer"
        );
        assert!(
            describe_non_oauth(429, Some("application/json"), b"{}")
                .contains("with an application/json body")
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(one_line("a\x1b[2Jb\r\nc"), "a[2Jb c");
    }
}
