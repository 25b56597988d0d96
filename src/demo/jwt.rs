//! The demo server's JWTs: HS256 with a key that is printed here on purpose. tokdash only decodes
//! claims for display (`crate::jwt`), never verifies them; the signature is there so that the
//! tokens look like every provider's, and so that the demo's userinfo can tell its own tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use serde_json::Value;

/// Not a secret: the demo runs on loopback and its tokens open nothing.
const DEMO_KEY: &[u8] = b"tokdash-demo-signing-key";

fn key() -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, DEMO_KEY)
}

/// A compact JWS of `claims`.
pub fn sign(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"tokdash-demo"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{body}");
    let tag = hmac::sign(&key(), input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// The claims of a token this server signed, `None` for anything else.
pub fn verify(token: &str) -> Option<serde_json::Map<String, Value>> {
    let (input, signature) = token.rsplit_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(signature).ok()?;
    hmac::verify(&key(), input.as_bytes(), &tag).ok()?;
    crate::jwt::decode(token).map(|(_, claims)| claims)
}

#[cfg(test)]
mod tests {
    #[test]
    fn signed_tokens_verify_and_decode_others_do_not() {
        let t = super::sign(&serde_json::json!({"sub": "demo-user", "exp": 1}));
        assert_eq!(super::verify(&t).unwrap()["sub"], "demo-user");
        let mut forged = t.clone();
        forged.push('A');
        assert!(super::verify(&forged).is_none());
        assert!(super::verify("opaque").is_none());
    }
}
