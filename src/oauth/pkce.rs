//! PKCE (RFC 7636) with S256 always, and the random `state` and `nonce` of an authorization
//! request. Values come from `rand`'s thread RNG, a CSPRNG seeded from the OS.

use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A code verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// 43 characters of `[A-Za-z0-9_-]` (32 random bytes, base64url): RFC 7636 §4.1 asks for
    /// 43 to 128 of the unreserved characters.
    pub verifier: Secret,
    /// BASE64URL(SHA256(verifier)), RFC 7636 §4.2.
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random_token();
        let challenge = challenge_of(&verifier);
        Pkce {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// RFC 7636 §4.2 (S256): `BASE64URL(SHA256(code_verifier))`, without padding. The demo server
/// checks challenges with it too.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// 256 random bits, base64url: for `state`, `nonce` and the verifier.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_fresh_and_well_formed() {
        let (a, b) = (Pkce::new(), Pkce::new());
        assert_ne!(a.verifier.expose(), b.verifier.expose());
        let v = a.verifier.expose();
        assert_eq!(v.len(), 43);
        assert!(
            v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(a.challenge, challenge_of(v));
    }
}
