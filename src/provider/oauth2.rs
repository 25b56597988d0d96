//! Plain OAuth 2.0: every endpoint is written in the profile (`token_url` is required).

use super::{Endpoints, Origin, Origins, RevocationStyle};

pub fn endpoints() -> Endpoints {
    Endpoints {
        token_url: String::new(),
        revocation_url: None,
        device_authorization_url: None,
        userinfo_url: None,
        authorization_url: None,
        issuer: None,
        iss_parameter_supported: false,
        revocation_style: RevocationStyle::Rfc7009,
        origins: Origins::all(Origin::Config),
        source: "the profile".into(),
    }
}
