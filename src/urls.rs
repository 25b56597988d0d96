//! The one rule for every URL tokdash talks to: `https://`, or plain `http://` to loopback only.
//! Applied to URLs from the config and to URLs a discovery document hands us.

use std::net::IpAddr;
use url::{Host, Url};

/// Returns the URL as given when it may be used, or a message saying why not.
pub fn check_endpoint(text: &str) -> Result<String, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(format!(
                "`{text}` uses plain http:// to a host that is not loopback; tokens would cross the network in clear, use https://"
            ));
        }
        other => return Err(format!("`{text}` has scheme `{other}`; use https://")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{}` carries credentials in the URL; remove them",
            redact_userinfo(&url)
        ));
    }
    if url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a #fragment, which an endpoint cannot have"
        ));
    }
    Ok(text.to_string())
}

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fn redact_userinfo(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        assert!(check_endpoint("https://idp.example.com/token").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080/token").is_ok());
        assert!(check_endpoint("http://127.8.9.10/token").is_ok());
        assert!(check_endpoint("http://[::1]:9/token").is_ok());
        assert!(check_endpoint("http://localhost/token").is_ok());
        assert!(
            check_endpoint("http://idp.example.com/token")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(check_endpoint("http://10.0.0.1/token").is_err());
        assert!(check_endpoint("ftp://x/y").is_err());
        assert!(check_endpoint("not a url").is_err());
    }

    #[test]
    fn credentials_in_url_are_refused_without_echoing_them() {
        let e = check_endpoint("https://user:pa55@idp.example.com/t").unwrap_err();
        assert!(!e.contains("pa55"), "{e}");
    }
}
