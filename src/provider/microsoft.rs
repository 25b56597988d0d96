//! Microsoft Entra ID v2.0 (providers.md §2): endpoints under authority and tenant, `scope` with
//! `offline_access` on every refresh, a new refresh token every time, `error_codes` (AADSTS) in
//! errors, `authorization_declined` while polling, and no revocation endpoint at all.

use super::{Endpoints, Origin, Origins, RevocationStyle};

pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

pub fn endpoints(authority: &str, tenant: &str) -> Endpoints {
    let base = format!("{authority}/{tenant}/oauth2/v2.0");
    Endpoints {
        token_url: format!("{base}/token"),
        revocation_url: None,
        device_authorization_url: Some(format!("{base}/devicecode")),
        userinfo_url: Some("https://graph.microsoft.com/oidc/userinfo".into()),
        authorization_url: Some(format!("{base}/authorize")),
        issuer: None,
        iss_parameter_supported: false,
        revocation_style: RevocationStyle::Rfc7009,
        origins: Origins::all(Origin::ProviderDefault),
        source: format!("microsoft v2.0 endpoints of tenant {tenant}"),
    }
}

/// Microsoft returns a refresh token only when offline_access is asked for (providers.md 2.2):
/// a refresh-token profile always asks for it, first.
pub fn ask_for_refresh_token(scopes: &mut Vec<String>) {
    if !scopes.iter().any(|s| s == "offline_access") {
        scopes.insert(0, "offline_access".into());
    }
}

/// Said instead of pretending a revocation happened (providers.md 2.6).
pub const NO_REVOCATION: &str = "Microsoft Entra ID has no token revocation endpoint. \
To cut this session off, revoke the user's sign-in sessions (Microsoft Graph: POST /me/revokeSignInSessions, \
or the Entra admin centre: Revoke sessions), which ends every refresh token of the user for all apps; \
issued access tokens stay valid until they expire";

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_use_authority_and_tenant() {
        let e = super::endpoints(super::DEFAULT_AUTHORITY, "contoso.onmicrosoft.com");
        assert_eq!(
            e.token_url,
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert_eq!(e.revocation_url, None);
        let us = super::endpoints("https://login.microsoftonline.us", "common");
        assert!(
            us.device_authorization_url
                .unwrap()
                .starts_with("https://login.microsoftonline.us/common/")
        );
    }
}
