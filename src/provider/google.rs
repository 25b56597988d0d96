//! Google (providers.md §1): fixed endpoints, no rotation (the refresh response has no
//! refresh_token), `verification_url` in the device response, 428/403 while polling, and a
//! revocation that takes the token in the query string.

use super::{Endpoints, Origin, Origins, RevocationStyle};

pub fn endpoints() -> Endpoints {
    Endpoints {
        token_url: "https://oauth2.googleapis.com/token".into(),
        revocation_url: Some("https://oauth2.googleapis.com/revoke".into()),
        device_authorization_url: Some("https://oauth2.googleapis.com/device/code".into()),
        userinfo_url: Some("https://openidconnect.googleapis.com/v1/userinfo".into()),
        authorization_url: Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
        issuer: Some("https://accounts.google.com".into()),
        iss_parameter_supported: false,
        revocation_style: RevocationStyle::Google,
        origins: Origins::all(Origin::ProviderDefault),
        source: "google's published endpoints".into(),
    }
}

/// Google answers 400 `invalid_token` for a token that is already expired or revoked: the
/// outcome the user asked for.
pub fn revocation_already_done(error: &str) -> bool {
    error == "invalid_token"
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_are_googles() {
        let e = super::endpoints();
        assert_eq!(e.token_url, "https://oauth2.googleapis.com/token");
        assert!(super::revocation_already_done("invalid_token"));
        assert!(!super::revocation_already_done("invalid_request"));
    }
}
