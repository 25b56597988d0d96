//! OpenID Connect: endpoints from the issuer's discovery document (OIDC Discovery 1.0 §4).

use super::{Endpoints, Origin, Origins, RevocationStyle};
use crate::urls;
use serde::Deserialize;

pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

#[derive(Debug, Deserialize)]
struct Document {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
}

/// Reads a discovery document. Every URL in it must pass the same checks as the config's.
pub fn endpoints_from_document(issuer: &str, bytes: &[u8]) -> Result<Endpoints, String> {
    let doc: Document = serde_json::from_slice(bytes)
        .map_err(|e| format!("the discovery document of {issuer} is not valid JSON ({e})"))?;
    if let Some(found) = &doc.issuer
        && found.trim_end_matches('/') != issuer.trim_end_matches('/')
    {
        return Err(format!(
            "the discovery document of {issuer} names another issuer, {found}"
        ));
    }
    let token_url = doc
        .token_endpoint
        .ok_or_else(|| format!("the discovery document of {issuer} has no token_endpoint"))?;
    let checked = |u: Option<String>| u.map(|u| urls::check_endpoint(&u)).transpose();
    Ok(Endpoints {
        token_url: urls::check_endpoint(&token_url)?,
        revocation_url: checked(doc.revocation_endpoint)?,
        device_authorization_url: checked(doc.device_authorization_endpoint)?,
        userinfo_url: checked(doc.userinfo_endpoint)?,
        revocation_style: RevocationStyle::Rfc7009,
        origins: Origins::all(Origin::OidcDiscovery),
        source: format!("discovery at {}", discovery_url(issuer)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_endpoints_and_checks_them() {
        let doc = br#"{"issuer":"https://idp.example.com/r","token_endpoint":"https://idp.example.com/r/token",
            "revocation_endpoint":"https://idp.example.com/r/revoke","unknown":1}"#;
        let e = endpoints_from_document("https://idp.example.com/r", doc).unwrap();
        assert_eq!(e.token_url, "https://idp.example.com/r/token");
        assert_eq!(e.device_authorization_url, None);
        let bad = br#"{"token_endpoint":"http://evil.example.com/token"}"#;
        assert!(
            endpoints_from_document("https://idp.example.com", bad)
                .unwrap_err()
                .contains("loopback")
        );
        let other = br#"{"issuer":"https://other","token_endpoint":"https://other/token"}"#;
        assert!(endpoints_from_document("https://idp.example.com", other).is_err());
    }
}
