//! What each provider's answers look like on the demo server (providers.md 1.3/1.4, 2.3/2.4,
//! 3.3/3.4): the same grants, with Google's, Microsoft's and Auth0's fields, claims, rotation
//! and error bodies. Only the shapes: every URL stays on the loopback server.

use serde_json::{Value, json};

/// Which provider a demo endpoint answers like. `Plain` is the demo's own OAuth 2.0 / OIDC
/// server, whose clients behave differently by client id (see `server.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Plain,
    Google,
    Microsoft,
    Auth0,
}

/// The tenant of the Microsoft-shaped profile; its endpoints are `/{tenant}/oauth2/v2.0/...`.
pub const MICROSOFT_TENANT: &str = "contoso.onmicrosoft.com";
/// The tenant's id, as Entra puts it in `tid` (Microsoft's documentation tenant GUID).
const MICROSOFT_TENANT_ID: &str = "aaaabbbb-0000-cccc-1111-dddd2222eeee";
/// The API the Auth0-shaped profile asks tokens for (`audience`).
pub const AUTH0_AUDIENCE: &str = "https://api.example.com";

/// One demo user, seen by each provider in its own way.
const EMAIL: &str = "ops@example.com";
const NAME: &str = "Dana Ops";

impl Shape {
    /// The `iss` of its tokens: the demo server under the provider's path.
    pub fn issuer(self, base: &str) -> String {
        match self {
            Shape::Plain => base.to_string(),
            Shape::Google => format!("{base}/google"),
            Shape::Microsoft => format!("{base}/{MICROSOFT_TENANT}/v2.0"),
            // Auth0's issuer ends with a slash (providers.md 3.1).
            Shape::Auth0 => format!("{base}/auth0/"),
        }
    }

    /// Access token lifetime, seconds: short, so that the demo moves within a minute.
    pub fn lifetime(self, client: &str) -> i64 {
        match (self, client) {
            (Shape::Google, _) => 65,
            (Shape::Microsoft, _) => 80,
            (Shape::Auth0, _) => 55,
            (Shape::Plain, "rotating") => 40,
            (Shape::Plain, "steady") => 75,
            (Shape::Plain, "flaky") => 50,
            (Shape::Plain, "robot") => 60,
            (Shape::Plain, _) => 90,
        }
    }

    /// A new refresh token on every refresh: Microsoft always (2.5), Auth0 with rotation on
    /// (3.5), Google never (1.5).
    pub fn rotates(self, client: &str) -> bool {
        match self {
            Shape::Plain => client == "rotating",
            Shape::Google => false,
            Shape::Microsoft | Shape::Auth0 => true,
        }
    }

    /// Whether a refresh token stops working once it has been rotated. Microsoft "doesn't revoke
    /// old refresh tokens" (2.5); Auth0 does, and a reused one ends the whole family (3.5).
    pub fn spends_rotated(self) -> bool {
        self != Shape::Microsoft
    }

    /// Auth0's reuse detection: presenting a spent refresh token revokes its family.
    pub fn detects_reuse(self) -> bool {
        self == Shape::Auth0
    }

    /// A refresh token in the provider's format (opaque everywhere, as providers.md says).
    pub fn refresh_token(self, client: &str, serial: u64) -> String {
        let r = rand::random::<u64>();
        match self {
            Shape::Plain => format!("{client}-rt-{serial}-{r:016x}"),
            Shape::Google => format!("1//0g{serial}{r:016x}"),
            Shape::Microsoft => format!("0.AXoA{serial}{r:016x}"),
            Shape::Auth0 => format!("v1.Mr{serial}{r:016x}"),
        }
    }

    /// The granted `scope` the response carries (Microsoft never echoes `offline_access`).
    pub fn scope(self) -> &'static str {
        match self {
            Shape::Plain => "openid offline_access",
            Shape::Google => {
                "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/cloud-platform"
            }
            Shape::Microsoft => "openid profile email https://graph.microsoft.com/User.Read",
            Shape::Auth0 => "openid profile email offline_access",
        }
    }

    /// The `sub` of the demo user at this provider.
    fn subject(self) -> &'static str {
        match self {
            Shape::Plain => "demo-user",
            Shape::Google => "110169484474386276334",
            Shape::Microsoft => "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            Shape::Auth0 => "auth0|64b0c0ffee0ddba11d0e5a7e",
        }
    }

    /// The access token's claims.
    pub fn access_claims(self, base: &str, client: &str, now: i64, exp: i64) -> Value {
        let iss = self.issuer(base);
        let sub = self.subject();
        match self {
            Shape::Plain => json!({
                "iss": iss, "sub": sub, "aud": client, "client_id": client,
                "iat": now, "exp": exp, "scope": self.scope(),
            }),
            Shape::Google => json!({
                "iss": iss, "azp": client, "aud": client, "sub": sub,
                "scope": self.scope(), "email": EMAIL, "email_verified": true,
                "iat": now, "exp": exp,
            }),
            Shape::Microsoft => json!({
                // Graph's audience; kept short (no nbf, oid, appid…) so that the details
                // pane shows the claims that matter at 30 rows.
                "aud": "00000003-0000-0000-c000-000000000000", "iss": iss,
                "iat": now, "exp": exp, "name": NAME, "preferred_username": EMAIL,
                "scp": "User.Read profile openid email", "sub": sub,
                "tid": MICROSOFT_TENANT_ID, "ver": "2.0",
            }),
            Shape::Auth0 => json!({
                "iss": iss, "sub": sub, "aud": [AUTH0_AUDIENCE, format!("{iss}userinfo")],
                "iat": now, "exp": exp, "scope": self.scope(), "azp": client,
            }),
        }
    }

    /// The id token's claims; `nonce` when the login sent one.
    pub fn id_claims(
        self,
        base: &str,
        client: &str,
        now: i64,
        exp: i64,
        nonce: Option<&str>,
    ) -> Value {
        let mut claims = json!({
            "iss": self.issuer(base), "sub": self.subject(), "aud": client,
            "iat": now, "exp": exp, "email": EMAIL, "name": NAME,
        });
        match self {
            Shape::Google => {
                claims["azp"] = client.into();
                claims["email_verified"] = true.into();
            }
            Shape::Microsoft => {
                claims["tid"] = MICROSOFT_TENANT_ID.into();
                claims["preferred_username"] = EMAIL.into();
                claims["ver"] = "2.0".into();
            }
            Shape::Auth0 => {
                claims["nickname"] = "dana".into();
                claims["email_verified"] = true.into();
            }
            Shape::Plain => {}
        }
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        claims
    }

    /// Fields beyond RFC 6749's in a success response.
    pub fn extra_fields(self, body: &mut Value, lifetime: i64) {
        if self == Shape::Microsoft {
            // How long the token works while Entra is unreachable (providers.md 2.3).
            body["ext_expires_in"] = lifetime.into();
        }
    }

    /// The answer to a refresh token that is unknown, revoked or reused, in the provider's
    /// words and status (providers.md 1.4, 2.4, 3.4).
    pub fn dead_refresh_token(self, base: &str, now: i64) -> (u16, Value) {
        match self {
            Shape::Plain => (
                400,
                json!({"error": "invalid_grant", "error_description": "unknown, expired or revoked refresh token"}),
            ),
            Shape::Google => (
                400,
                json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
            ),
            Shape::Microsoft => {
                let trace = "6e94ade5-10de-4d67-909a-14d845813500";
                let stamp = crate::clock::rfc3339(now);
                (
                    400,
                    json!({
                        "error": "invalid_grant",
                        "error_description": format!("AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.\r\nTrace ID: {trace}\r\nTimestamp: {stamp}"),
                        "error_codes": [70008],
                        "timestamp": stamp,
                        "trace_id": trace,
                        "correlation_id": "0e87b495-1e24-4882-be85-d012c216f4f6",
                        "error_uri": format!("{base}/error?code=70008"),
                    }),
                )
            }
            Shape::Auth0 => (
                403,
                json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}),
            ),
        }
    }
}

/// What the userinfo endpoint says about the holder of a token with subject `sub`.
pub fn userinfo(sub: &str) -> Value {
    json!({"sub": sub, "name": NAME, "email": EMAIL, "email_verified": true})
}
