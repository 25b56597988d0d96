//! The server side of a browser login on the demo server: an authorization endpoint that
//! approves at once (there is no demo user to ask) by redirecting to the request's
//! `redirect_uri`, and the redemption of its codes at the token endpoint, with PKCE S256 checked
//! (RFC 6749 §4.1, RFC 7636 §4.6, RFC 9207 for `iss`).

use super::shape::Shape;
use serde_json::{Value, json};
use std::collections::HashMap;

/// RFC 6749 §4.1.2 recommends at most ten minutes.
const CODE_LIFETIME: i64 = 600;

/// A code handed out and not yet redeemed.
pub struct PendingCode {
    pub shape: Shape,
    pub client: String,
    redirect_uri: String,
    challenge: String,
    pub nonce: Option<String>,
    /// `openid` was in the requested scope: the answer carries an id token.
    pub openid: bool,
    expires_at: i64,
}

/// What the authorization endpoint answers.
pub enum Answer {
    /// 302 to this address (a code, or an `error=` the client must see).
    Redirect(String),
    /// 400 with a short page: the request cannot be redirected anywhere safe (§4.1.2.1).
    Refuse(String),
}

/// `GET /authorize?...` (and each shape's own path): approves and redirects with `code`, the
/// same `state`, and `iss` where the shape sends it (the demo's own issuer advertises it in
/// discovery; Google sends it unadvertised, which a strict client may not expect, so the
/// provider-shaped endpoints leave it out and keep the demo's login about the login).
pub fn authorize(
    codes: &mut HashMap<String, PendingCode>,
    shape: Shape,
    base: &str,
    params: &HashMap<String, String>,
    now: i64,
) -> Answer {
    let Some(client) = params.get("client_id").filter(|c| !c.is_empty()) else {
        return Answer::Refuse("client_id is missing".into());
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Answer::Refuse("redirect_uri is missing".into());
    };
    let Some(mut target) = url::Url::parse(redirect_uri)
        .ok()
        .filter(|u| u.scheme() == "http" && crate::urls::is_loopback(u))
    else {
        return Answer::Refuse(
            "the demo server redirects only to loopback http:// addresses (RFC 8252 §7.3)".into(),
        );
    };
    let iss = (shape == Shape::Plain).then(|| shape.issuer(base));
    let mut reply = |pairs: &[(&str, &str)]| {
        {
            let mut q = target.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
            if let Some(state) = params.get("state") {
                q.append_pair("state", state);
            }
            if let Some(iss) = &iss {
                q.append_pair("iss", iss);
            }
        }
        Answer::Redirect(target.to_string())
    };
    if params.get("response_type").map(String::as_str) != Some("code") {
        return reply(&[
            ("error", "unsupported_response_type"),
            ("error_description", "the demo server issues codes only"),
        ]);
    }
    let challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method").map(String::as_str),
    ) {
        (Some(c), Some("S256")) if !c.is_empty() => c.clone(),
        (None, _) => {
            return reply(&[
                ("error", "invalid_request"),
                ("error_description", "code challenge required"),
            ]);
        }
        _ => {
            return reply(&[
                ("error", "invalid_request"),
                (
                    "error_description",
                    "transform algorithm not supported (use S256)",
                ),
            ]);
        }
    };
    let code = format!("{:032x}", rand::random::<u128>());
    codes.retain(|_, c| c.expires_at > now);
    codes.insert(
        code.clone(),
        PendingCode {
            shape,
            client: client.clone(),
            redirect_uri: redirect_uri.clone(),
            challenge,
            nonce: params.get("nonce").cloned(),
            openid: params
                .get("scope")
                .is_some_and(|s| s.split(' ').any(|s| s == "openid")),
            expires_at: now + CODE_LIFETIME,
        },
    );
    reply(&[("code", &code)])
}

/// `grant_type=authorization_code` at a shape's token endpoint. A code is good for one attempt,
/// right or wrong (RFC 6749 §4.1.2: never twice).
pub fn redeem(
    codes: &mut HashMap<String, PendingCode>,
    shape: Shape,
    form: &HashMap<String, String>,
    now: i64,
) -> Result<PendingCode, (u16, Value)> {
    let refuse = |error: &str, description: &str| {
        let status = if shape == Shape::Auth0 { 403 } else { 400 };
        Err((
            status,
            json!({"error": error, "error_description": description}),
        ))
    };
    let code = form.get("code").map(String::as_str).unwrap_or("");
    let pending = match codes.remove(code) {
        Some(p) if p.expires_at > now && p.shape == shape => p,
        _ => {
            return refuse(
                "invalid_grant",
                "authorization code unknown, expired or already used",
            );
        }
    };
    if form.get("client_id").is_some_and(|c| *c != pending.client) {
        return refuse("invalid_grant", "the code was issued to another client");
    }
    if form.get("redirect_uri") != Some(&pending.redirect_uri) {
        // Google's own error for this (providers.md 6.1.4); the others say invalid_grant.
        let error = if shape == Shape::Google {
            "redirect_uri_mismatch"
        } else {
            "invalid_grant"
        };
        return refuse(
            error,
            "redirect_uri is not the one of the authorization request",
        );
    }
    match form.get("code_verifier") {
        None => refuse("invalid_grant", "Missing code verifier."),
        Some(v) if crate::oauth::pkce::challenge_of(v) != pending.challenge => {
            refuse("invalid_grant", "PKCE verification failed: code mismatch")
        }
        Some(_) => Ok(pending),
    }
}
