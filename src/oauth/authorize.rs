//! The authorization code grant's front channel (RFC 6749 §4.1): the authorization URL the user
//! opens, and the callback that comes back, checked (`state`, `error`, RFC 9207 `iss`) before its
//! code is worth exchanging.

use super::error::one_line;
use super::pkce::{Pkce, random_token};
use crate::secret::Secret;
use url::Url;

/// One authorization request and what its answer must match.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The whole URL to open in a browser.
    pub url: String,
    /// Sent again, byte for byte, with the code (RFC 6749 §4.1.3).
    pub redirect_uri: String,
    pub state: String,
    /// Sent when `openid` is in scope; the id token must carry it back.
    pub nonce: Option<String>,
    pub pkce: Pkce,
}

impl AuthorizationRequest {
    /// `extra` holds the provider's parameters (`access_type`, `prompt`, `audience`…).
    pub fn new(
        authorization_url: &str,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        extra: &[(&'static str, String)],
    ) -> Result<AuthorizationRequest, String> {
        let mut url = Url::parse(authorization_url).map_err(|e| {
            format!("the authorization URL `{authorization_url}` is not a URL ({e})")
        })?;
        let state = random_token();
        let openid = scope.split(' ').any(|s| s == "openid");
        let nonce = openid.then(random_token);
        let pkce = Pkce::new();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", redirect_uri);
            if !scope.is_empty() {
                q.append_pair("scope", scope);
            }
            q.append_pair("state", &state)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(nonce) = &nonce {
                q.append_pair("nonce", nonce);
            }
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        Ok(AuthorizationRequest {
            url: url.to_string(),
            redirect_uri: redirect_uri.to_string(),
            state,
            nonce,
            pkce,
        })
    }
}

/// The parameters of an authorization response (RFC 6749 §4.1.2 and §4.1.2.1, RFC 9207).
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub code: Option<Secret>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// Microsoft's `error_subcode` (`cancel`: the user cancelled).
    pub error_subcode: Option<String>,
}

impl Callback {
    /// Reads a query string (or a form body): each value percent-decoded exactly once (Google's
    /// codes hold `/`, and a code decoded twice is "Malformed").
    pub fn from_query(query: &str) -> Callback {
        let mut c = Callback::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            let v = v.into_owned();
            match k.as_ref() {
                "code" if !v.is_empty() => c.code = Some(Secret::new(v)),
                "state" => c.state = Some(v),
                "iss" => c.iss = Some(v),
                "error" => c.error = Some(v),
                "error_description" => c.error_description = Some(v),
                "error_subcode" => c.error_subcode = Some(v),
                _ => {}
            }
        }
        c
    }

    fn is_callback(&self) -> bool {
        self.code.is_some() || self.error.is_some()
    }
}

/// What the user pasted: the address the browser ended on, or only its query. `redirect_uri`
/// says which path a callback has. `Err` is one line saying what it is not.
pub fn parse_pasted(text: &str, redirect_uri: &str) -> Result<Callback, String> {
    let text = text.trim();
    let expected =
        || format!("paste the whole address the browser ended on, starting {redirect_uri}?code=");
    if text.is_empty() {
        return Err(format!("nothing pasted; {}", expected()));
    }
    let query = match Url::parse(text) {
        Ok(url) => {
            let ours = Url::parse(redirect_uri).ok();
            if ours.is_some_and(|o| o.path() != url.path()) {
                return Err(format!(
                    "that address is not this login's callback (path {}); {}",
                    one_line(url.path()),
                    expected()
                ));
            }
            url.query().unwrap_or_default().to_string()
        }
        // A bare query (`code=…&state=…`), with or without its `?`.
        Err(_) => text.trim_start_matches('?').to_string(),
    };
    let callback = Callback::from_query(&query);
    if !callback.is_callback() {
        return Err(format!(
            "that address carries no code and no error; {}",
            expected()
        ));
    }
    Ok(callback)
}

/// What the answer must match.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    pub state: &'a str,
    /// The issuer an `iss` must equal, when known.
    pub issuer: Option<&'a str>,
    /// The metadata advertises `iss` and the profile did not set `require_iss = false`.
    pub iss_required: bool,
}

/// Why an authorization response is not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// It belongs to another login (its `state` is not ours, or it has none): nothing of this
    /// login is lost, another answer may still come.
    NotOurs(String),
    /// Ours, and the login failed: the provider's `error`, or an `iss` that is wrong or missing.
    Failed {
        message: String,
        code: Option<String>,
    },
}

/// Checks `state` first, then `error`, then `iss` (providers.md 6.7, note 3); the code on
/// success.
pub fn check(callback: &Callback, want: &Expectations) -> Result<Secret, Rejected> {
    match callback.state.as_deref() {
        Some(s) if s == want.state => {}
        Some(_) => {
            return Err(Rejected::NotOurs(
                "this address is for another login (its state does not match)".into(),
            ));
        }
        None => {
            return Err(Rejected::NotOurs(
                "this address has no state, so it cannot be this login's".into(),
            ));
        }
    }
    if let Some(error) = &callback.error {
        let mut text = one_line(error);
        if let Some(d) = callback
            .error_description
            .as_deref()
            .filter(|d| !d.is_empty())
        {
            text.push_str(": ");
            text.push_str(&one_line(d));
        }
        if let Some(sub) = &callback.error_subcode {
            text.push_str(&format!(" (error_subcode {})", one_line(sub)));
        }
        let cancelled = callback.error_subcode.as_deref() == Some("cancel");
        return Err(Rejected::Failed {
            message: if cancelled {
                format!("the login was cancelled in the browser ({text})")
            } else {
                format!("the provider refused the login ({text})")
            },
            code: Some(error.clone()),
        });
    }
    match (&callback.iss, want.issuer) {
        // RFC 9207 §2.4 compares by simple string comparison; a trailing slash is forgiven
        // because the config's issuer is written by hand (discovery compares the same way).
        (Some(iss), Some(issuer)) if iss.trim_end_matches('/') != issuer.trim_end_matches('/') => {
            return Err(Rejected::Failed {
                message: format!(
                    "the answer names issuer {}, not {issuer} (RFC 9207 mix-up defence); nothing stored",
                    one_line(iss)
                ),
                code: None,
            });
        }
        (None, _) if want.iss_required => {
            return Err(Rejected::Failed {
                message: "the answer has no iss although the server's metadata says it sends one (RFC 9207); nothing stored".into(),
                code: None,
            });
        }
        _ => {}
    }
    callback.code.clone().ok_or_else(|| Rejected::Failed {
        message: "the answer has no code".into(),
        code: None,
    })
}

/// Whether the id token carries the `nonce` sent (OIDC Core §3.1.3.7, step 11). Claims are read
/// without verifying the signature: the token came straight from the token endpoint over TLS
/// (OIDC Core §3.1.3.7, step 6 allows that).
pub fn nonce_matches(id_token: &str, nonce: &str) -> bool {
    crate::jwt::decode(id_token)
        .and_then(|(_, claims)| {
            claims
                .get("nonce")
                .and_then(|n| n.as_str())
                .map(|n| n == nonce)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(state: &str) -> Expectations<'_> {
        Expectations {
            state,
            issuer: Some("https://accounts.google.com"),
            iss_required: false,
        }
    }

    #[test]
    fn the_url_carries_pkce_state_nonce_and_extras() {
        let r = AuthorizationRequest::new(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "cid",
            "http://127.0.0.1:5000/",
            "openid email",
            &[("access_type", "offline".into())],
        )
        .unwrap();
        let url = Url::parse(&r.url).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:5000/");
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["state"], r.state);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], r.pkce.challenge);
        assert_eq!(Some(&q["nonce"]), r.nonce.as_ref());
        assert_eq!(q["access_type"], "offline");
        let no_openid =
            AuthorizationRequest::new("https://a/authorize", "c", "http://127.0.0.1/", "api", &[])
                .unwrap();
        assert!(no_openid.nonce.is_none());
        assert!(!no_openid.url.contains("nonce="));
    }

    #[test]
    fn googles_code_is_decoded_once() {
        let c = Callback::from_query(
            "iss=https%3A%2F%2Faccounts.google.com&code=4%2F0Aci98E&scope=email&state=s",
        );
        assert_eq!(c.code.unwrap().expose(), "4/0Aci98E");
        assert_eq!(c.iss.as_deref(), Some("https://accounts.google.com"));
    }

    #[test]
    fn state_then_error_then_iss() {
        let ok = Callback::from_query("state=s&code=c&iss=https%3A%2F%2Faccounts.google.com");
        assert_eq!(check(&ok, &want("s")).unwrap().expose(), "c");
        assert!(matches!(check(&ok, &want("t")), Err(Rejected::NotOurs(_))));
        let no_state = Callback::from_query("code=c");
        assert!(matches!(
            check(&no_state, &want("s")),
            Err(Rejected::NotOurs(_))
        ));
        let denied = Callback::from_query("error=access_denied&error_subcode=cancel&state=s");
        match check(&denied, &want("s")) {
            Err(Rejected::Failed { message, code }) => {
                assert!(message.contains("cancelled"), "{message}");
                assert_eq!(code.as_deref(), Some("access_denied"));
            }
            other => panic!("{other:?}"),
        }
        let wrong_iss = Callback::from_query("state=s&code=c&iss=https%3A%2F%2Fevil.example");
        assert!(matches!(
            check(&wrong_iss, &want("s")),
            Err(Rejected::Failed { .. })
        ));
        let missing_iss = Callback::from_query("state=s&code=c");
        assert!(check(&missing_iss, &want("s")).is_ok());
        let strict = Expectations {
            iss_required: true,
            ..want("s")
        };
        assert!(matches!(
            check(&missing_iss, &strict),
            Err(Rejected::Failed { .. })
        ));
    }

    #[test]
    fn pasted_text_must_be_a_callback() {
        let ours = "http://127.0.0.1:8123/callback";
        assert!(parse_pasted("http://127.0.0.1:8123/callback?code=c&state=s", ours).is_ok());
        assert!(parse_pasted("code=c&state=s", ours).is_ok());
        assert!(parse_pasted("?code=c&state=s", ours).is_ok());
        let other_path = parse_pasted("https://accounts.example/authorize?code=c", ours);
        assert!(
            other_path
                .unwrap_err()
                .contains("not this login's callback")
        );
        assert!(parse_pasted("hello", ours).unwrap_err().contains("no code"));
        assert!(
            parse_pasted("  ", ours)
                .unwrap_err()
                .contains("nothing pasted")
        );
        // Whatever was pasted stays on one line in the message.
        let e = parse_pasted("http://127.0.0.1:8123/x\u{1b}[2J?code=c", ours).unwrap_err();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn nonce_is_read_from_the_id_token() {
        let token = crate::jwt::encode_unsigned(&serde_json::json!({"nonce": "n1"}));
        assert!(nonce_matches(&token, "n1"));
        assert!(!nonce_matches(&token, "n2"));
        assert!(!nonce_matches("not-a-jwt", "n1"));
    }
}
