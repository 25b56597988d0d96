//! Client authentication on token, revocation and device requests (RFC 6749 §2.3.1).

use crate::config::AuthMethod;
use crate::secret::Secret;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use url::form_urlencoded::byte_serialize;

#[derive(Debug, Clone)]
pub struct ClientAuth {
    pub client_id: String,
    pub secret: Option<Secret>,
    pub method: AuthMethod,
}

impl ClientAuth {
    /// Adds the client's credentials to a form request: in the body for `client_secret_post`
    /// and `none` (which sends only `client_id`), in an `Authorization: Basic` header otherwise.
    pub fn apply(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
    ) -> reqwest::RequestBuilder {
        match (self.method, &self.secret) {
            (AuthMethod::ClientSecretBasic, Some(secret)) => request.header(
                reqwest::header::AUTHORIZATION,
                basic_header(&self.client_id, secret.expose()),
            ),
            (AuthMethod::ClientSecretPost, Some(secret)) => {
                form.push(("client_id", self.client_id.clone()));
                form.push(("client_secret", secret.expose().to_string()));
                request
            }
            _ => {
                form.push(("client_id", self.client_id.clone()));
                request
            }
        }
    }
}

impl ClientAuth {
    /// [`apply`](Self::apply) for the device authorization request, whose body always names the
    /// client: RFC 8628 §3.1 requires `client_id` only of public clients, but servers in use
    /// require it with `client_secret_basic` too, and sending it costs nothing.
    pub fn apply_naming_client(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&'static str, String)>,
    ) -> reqwest::RequestBuilder {
        let request = self.apply(request, form);
        if !form.iter().any(|(key, _)| *key == "client_id") {
            form.push(("client_id", self.client_id.clone()));
        }
        request
    }
}

/// RFC 6749 §2.3.1: id and secret are form-url-encoded *before* base64, so a secret with `:`,
/// `+` or `%` survives (oidc-provider decodes them, as the RFC says).
pub fn basic_header(client_id: &str, secret: &str) -> String {
    let id: String = byte_serialize(client_id.as_bytes()).collect();
    let secret: String = byte_serialize(secret.as_bytes()).collect();
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_encoded_first() {
        // base64("a%3Ab:s+%2B%25") — ':' → %3A, '+' → %2B, '%' → %25, ' ' → '+'
        let h = basic_header("a:b", "s +%");
        let decoded =
            String::from_utf8(STANDARD.decode(h.strip_prefix("Basic ").unwrap()).unwrap()).unwrap();
        assert_eq!(decoded, "a%3Ab:s+%2B%25");
    }
}
