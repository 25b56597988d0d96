//! OpenID Connect: endpoints from the issuer's discovery document (OIDC Discovery 1.0 §4),
//! completed from its RFC 8414 authorization server metadata when the OpenID document lacks an
//! endpoint tokdash uses (many servers list revocation and device authorization only there), or
//! taken from it alone when the issuer has no OpenID document.
//!
//! This module reads documents; fetching and caching them is `crate::oauth::discovery`'s job.

use super::{Endpoints, Origin, Origins, RevocationStyle};
use crate::oauth::error::one_line;
use crate::urls;
use serde::Deserialize;

pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path
/// (`https://h/realms/x` → `https://h/.well-known/oauth-authorization-server/realms/x`), not
/// after the path as OpenID's does. A trailing slash of the issuer is not part of its path.
pub fn metadata_url(issuer: &str) -> String {
    let issuer = issuer.trim_end_matches('/');
    // The end of `scheme://authority`: the first `/` after `://`.
    let path_at = issuer
        .find("://")
        .and_then(|i| issuer[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(issuer.len());
    let (origin, path) = issuer.split_at(path_at);
    format!("{origin}/.well-known/oauth-authorization-server{path}")
}

/// Which of the issuer's two metadata documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    OpenId,
    Rfc8414,
}

impl Kind {
    fn name(self, issuer: &str) -> String {
        match self {
            Kind::OpenId => format!("the discovery document of {issuer}"),
            Kind::Rfc8414 => format!("the RFC 8414 metadata of {issuer}"),
        }
    }
}

/// The endpoints of one document, their URLs checked. Both documents use these keys; only the
/// OpenID one defines `userinfo_endpoint`.
#[derive(Debug, Deserialize)]
pub struct Document {
    issuer: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    authorization_endpoint: Option<String>,
    /// RFC 9207 §3: the server puts `iss` in every authorization response.
    #[serde(default)]
    authorization_response_iss_parameter_supported: Option<bool>,
}

impl Document {
    /// Whether an endpoint tokdash uses is missing, so that RFC 8414 metadata is worth a look.
    /// Not userinfo, which RFC 8414 does not define.
    pub fn lacks_an_endpoint(&self) -> bool {
        self.token_endpoint.is_none()
            || self.revocation_endpoint.is_none()
            || self.device_authorization_endpoint.is_none()
    }
}

/// Reads a document. Its `issuer` must be the profile's (RFC 8414 §3.3 requires it, OpenID
/// servers are only held to it when they state one), and every URL in it must pass the same
/// checks as the config's. What the document says reaches the error only on one line, without
/// control characters.
pub fn read_document(kind: Kind, issuer: &str, bytes: &[u8]) -> Result<Document, String> {
    let name = || kind.name(issuer);
    let doc: Document = serde_json::from_slice(bytes)
        .map_err(|e| one_line(&format!("{} is not valid JSON ({e})", name())))?;
    match &doc.issuer {
        Some(found) if found.trim_end_matches('/') != issuer.trim_end_matches('/') => {
            return Err(format!(
                "{} names another issuer, {}",
                name(),
                one_line(found)
            ));
        }
        None if kind == Kind::Rfc8414 => return Err(format!("{} names no issuer", name())),
        _ => {}
    }
    let checked = |u: &Option<String>| {
        u.as_deref()
            .map(urls::check_endpoint)
            .transpose()
            .map_err(|e| one_line(&e))
    };
    checked(&doc.token_endpoint)?;
    checked(&doc.revocation_endpoint)?;
    checked(&doc.device_authorization_endpoint)?;
    checked(&doc.userinfo_endpoint)?;
    checked(&doc.authorization_endpoint)?;
    Ok(Document {
        userinfo_endpoint: doc.userinfo_endpoint.filter(|_| kind == Kind::OpenId),
        ..doc
    })
}

/// The endpoints of an OpenID document on its own.
pub fn endpoints_from_document(issuer: &str, bytes: &[u8]) -> Result<Endpoints, String> {
    endpoints(
        issuer,
        Some(&read_document(Kind::OpenId, issuer, bytes)?),
        None,
    )
}

/// The endpoints of `issuer`: each from the OpenID document when it has it, else from the RFC
/// 8414 metadata. At least one of the two is given.
pub fn endpoints(
    issuer: &str,
    openid: Option<&Document>,
    metadata: Option<&Document>,
) -> Result<Endpoints, String> {
    let pick = |get: fn(&Document) -> &Option<String>| {
        let from =
            |doc: Option<&Document>, origin| doc.and_then(|d| get(d).clone()).map(|u| (u, origin));
        from(openid, Origin::OidcDiscovery).or_else(|| from(metadata, Origin::Rfc8414))
    };
    let token = pick(|d| &d.token_endpoint);
    let revocation = pick(|d| &d.revocation_endpoint);
    let device = pick(|d| &d.device_authorization_endpoint);
    let userinfo = pick(|d| &d.userinfo_endpoint);
    let authorization = pick(|d| &d.authorization_endpoint);
    let iss_parameter_supported = [openid, metadata]
        .into_iter()
        .flatten()
        .any(|d| d.authorization_response_iss_parameter_supported == Some(true));
    // The issuer as the server writes it (trailing slash and all), which is what `iss` carries.
    let stated_issuer = [openid, metadata]
        .into_iter()
        .flatten()
        .find_map(|d| d.issuer.clone())
        .unwrap_or_else(|| issuer.to_string());

    let from_metadata = [&token, &revocation, &device]
        .into_iter()
        .flatten()
        .any(|(_, origin)| *origin == Origin::Rfc8414);
    let source = match (openid, from_metadata) {
        (Some(_), false) => format!("discovery at {}", discovery_url(issuer)),
        (Some(_), true) => format!(
            "discovery at {} and RFC 8414 metadata at {}",
            discovery_url(issuer),
            metadata_url(issuer)
        ),
        (None, _) => format!("RFC 8414 metadata at {}", metadata_url(issuer)),
    };
    let Some((token_url, token)) = token else {
        let read = [(openid, Kind::OpenId), (metadata, Kind::Rfc8414)]
            .into_iter()
            .filter(|(doc, _)| doc.is_some())
            .map(|(_, kind)| kind.name(issuer))
            .collect::<Vec<_>>();
        let verb = if read.len() > 1 { "have" } else { "has" };
        return Err(format!("{} {verb} no token_endpoint", read.join(" and ")));
    };
    // The origin of a URL neither document has is never shown.
    let split = |found: Option<(String, Origin)>| {
        found.map_or((None, Origin::OidcDiscovery), |(url, origin)| {
            (Some(url), origin)
        })
    };
    let (revocation_url, revocation) = split(revocation);
    let (device_authorization_url, device_authorization) = split(device);
    let (userinfo_url, userinfo) = split(userinfo);
    let (authorization_url, authorization) = split(authorization);
    Ok(Endpoints {
        token_url,
        revocation_url,
        device_authorization_url,
        userinfo_url,
        authorization_url,
        issuer: Some(stated_issuer),
        iss_parameter_supported,
        revocation_style: RevocationStyle::Rfc7009,
        origins: Origins {
            token,
            revocation,
            device_authorization,
            userinfo,
            authorization,
        },
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://idp.example.com/r";

    fn openid(bytes: &[u8]) -> Result<Document, String> {
        read_document(Kind::OpenId, ISSUER, bytes)
    }

    #[test]
    fn reads_endpoints_and_checks_them() {
        let doc = br#"{"issuer":"https://idp.example.com/r","token_endpoint":"https://idp.example.com/r/token",
            "revocation_endpoint":"https://idp.example.com/r/revoke","unknown":1}"#;
        let e = endpoints(ISSUER, Some(&openid(doc).unwrap()), None).unwrap();
        assert_eq!(e.token_url, "https://idp.example.com/r/token");
        assert_eq!(e.device_authorization_url, None);
        assert_eq!(e.origins.token, Origin::OidcDiscovery);
        assert_eq!(
            e.source,
            "discovery at https://idp.example.com/r/.well-known/openid-configuration"
        );
        let bad = br#"{"token_endpoint":"http://evil.example.com/token"}"#;
        assert!(openid(bad).unwrap_err().contains("loopback"));
        let other = br#"{"issuer":"https://other","token_endpoint":"https://other/token"}"#;
        assert!(openid(other).is_err());
        let none = openid(br#"{"issuer":"https://idp.example.com/r/"}"#).unwrap();
        assert_eq!(
            endpoints(ISSUER, Some(&none), None).unwrap_err(),
            "the discovery document of https://idp.example.com/r has no token_endpoint"
        );
    }

    #[test]
    fn the_metadata_url_puts_the_well_known_segment_before_the_issuers_path() {
        assert_eq!(
            metadata_url("https://h/realms/x"),
            "https://h/.well-known/oauth-authorization-server/realms/x"
        );
        assert_eq!(
            metadata_url("https://h/realms/x/"),
            "https://h/.well-known/oauth-authorization-server/realms/x"
        );
        for issuer in ["https://h", "https://h/"] {
            assert_eq!(
                metadata_url(issuer),
                "https://h/.well-known/oauth-authorization-server"
            );
        }
        assert_eq!(
            metadata_url("http://127.0.0.1:8080/a/b"),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server/a/b"
        );
    }

    #[test]
    fn metadata_fills_in_what_the_openid_document_lacks_and_nothing_else() {
        let oidc = openid(
            br#"{"issuer":"https://idp.example.com/r","token_endpoint":"https://idp.example.com/r/token",
                "userinfo_endpoint":"https://idp.example.com/r/me"}"#,
        )
        .unwrap();
        assert!(oidc.lacks_an_endpoint());
        let meta = read_document(
            Kind::Rfc8414,
            ISSUER,
            br#"{"issuer":"https://idp.example.com/r","token_endpoint":"https://idp.example.com/other-token",
                "revocation_endpoint":"https://idp.example.com/r/revoke",
                "userinfo_endpoint":"https://idp.example.com/not-8414"}"#,
        )
        .unwrap();
        let e = endpoints(ISSUER, Some(&oidc), Some(&meta)).unwrap();
        assert_eq!(e.token_url, "https://idp.example.com/r/token");
        assert_eq!(
            e.revocation_url.as_deref(),
            Some("https://idp.example.com/r/revoke")
        );
        assert_eq!(
            e.userinfo_url.as_deref(),
            Some("https://idp.example.com/r/me")
        );
        assert_eq!(e.device_authorization_url, None);
        assert_eq!(
            (e.origins.token, e.origins.revocation, e.origins.userinfo),
            (
                Origin::OidcDiscovery,
                Origin::Rfc8414,
                Origin::OidcDiscovery
            )
        );
        assert!(e.source.contains("and RFC 8414 metadata at https://idp.example.com/.well-known/oauth-authorization-server/r"), "{}", e.source);

        // Alone, the metadata gives no userinfo: RFC 8414 does not define it.
        let e = endpoints(ISSUER, None, Some(&meta)).unwrap();
        assert_eq!(e.token_url, "https://idp.example.com/other-token");
        assert_eq!(e.origins.token, Origin::Rfc8414);
        assert_eq!(e.userinfo_url, None);
    }

    #[test]
    fn metadata_must_name_the_profiles_issuer() {
        let read = |doc: &[u8]| read_document(Kind::Rfc8414, ISSUER, doc);
        assert_eq!(
            read(br#"{"issuer":"https://idp.example.com/s","token_endpoint":"https://idp.example.com/t"}"#)
                .unwrap_err(),
            "the RFC 8414 metadata of https://idp.example.com/r names another issuer, https://idp.example.com/s"
        );
        assert!(
            read(br#"{"token_endpoint":"https://idp.example.com/t"}"#)
                .unwrap_err()
                .ends_with("names no issuer")
        );
        // Whatever the document says stays on one line.
        let sneaky = read(br#"{"issuer":"https://x\r\nFAKE: line\u001b[2J"}"#).unwrap_err();
        assert!(
            sneaky.ends_with("names another issuer, https://x FAKE: line[2J"),
            "{sneaky}"
        );
    }
}
