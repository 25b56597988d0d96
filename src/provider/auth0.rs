//! Auth0 (providers.md §3): endpoints under the tenant's domain, optional `audience`, rotation
//! with reuse detection when enabled, a JSON revocation body that takes refresh tokens only.

use super::{Endpoints, Origin, Origins, RevocationStyle};

pub fn endpoints(domain: &str) -> Endpoints {
    let base = format!("https://{domain}");
    Endpoints {
        token_url: format!("{base}/oauth/token"),
        revocation_url: Some(format!("{base}/oauth/revoke")),
        device_authorization_url: Some(format!("{base}/oauth/device/code")),
        userinfo_url: Some(format!("{base}/userinfo")),
        authorization_url: Some(format!("{base}/authorize")),
        issuer: Some(format!("{base}/")),
        iss_parameter_supported: false,
        revocation_style: RevocationStyle::Auth0Json,
        origins: Origins::all(Origin::ProviderDefault),
        source: format!("auth0 endpoints of {domain}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_hang_off_the_domain() {
        let e = super::endpoints("example.eu.auth0.com");
        assert_eq!(e.token_url, "https://example.eu.auth0.com/oauth/token");
        assert_eq!(
            e.revocation_url.as_deref(),
            Some("https://example.eu.auth0.com/oauth/revoke")
        );
        assert_eq!(
            e.device_authorization_url.as_deref(),
            Some("https://example.eu.auth0.com/oauth/device/code")
        );
    }
}
