//! Reading a JWT's claims without verifying it: for showing them and for `exp` when a response has
//! no `expires_in`. Nothing here is trusted for security decisions.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The header and the claims, when the token looks like a JWS compact serialisation.
pub fn decode(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut parts = token.split('.');
    let (header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None; // five parts: an encrypted JWE, which we cannot read
    }
    Some((segment(header)?, segment(claims)?))
}

fn segment(text: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The `exp` claim, unix seconds.
pub fn expiry(token: &str) -> Option<i64> {
    let (_, claims) = decode(token)?;
    match claims.get("exp")? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
pub fn encode_unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.sig")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_from_a_jwt() {
        let t = encode_unsigned(&serde_json::json!({"exp": 1_900_000_000, "sub": "x"}));
        assert_eq!(expiry(&t), Some(1_900_000_000));
        assert_eq!(decode(&t).unwrap().1["sub"], "x");
    }

    #[test]
    fn opaque_tokens_and_garbage_give_nothing() {
        for t in [
            "ya29.a0AfB_byC",
            "",
            "a.b.c",
            "....",
            "eyJ.eyJ.x.y.z",
            "a.%%%.c",
        ] {
            assert_eq!(expiry(t), None, "{t}");
        }
    }
}
