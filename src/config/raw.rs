//! The config file exactly as written: serde shapes with spans, before any validation.
//! Every field is optional here so that `validate` can say precisely what is missing and where.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub settings: Option<RawSettings>,
    pub store: Option<Spanned<RawStore>>,
    #[serde(default)]
    pub profiles: IndexMap<Spanned<String>, Spanned<RawProfile>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub refresh_ahead: Option<Spanned<String>>,
    pub auto_refresh: Option<bool>,
    pub max_concurrency: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub login_warning: Option<Spanned<String>>,
}

/// `[store]`: where the records live (SPEC.md "Team store").
#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub backend: Option<Spanned<String>>,
    pub address: Option<Spanned<String>>,
    pub mount: Option<Spanned<String>>,
    pub prefix: Option<Spanned<String>>,
    pub token_env: Option<Spanned<String>>,
    pub token_file: Option<Spanned<String>>,
    pub namespace: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub lock_ttl: Option<Spanned<String>>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    pub provider: Option<Spanned<String>>,
    pub client_id: Option<Spanned<String>>,
    pub client_secret: Option<Spanned<String>>,
    pub client_secret_env: Option<Spanned<String>>,
    pub client_secret_cmd: Option<Spanned<Vec<String>>>,
    pub scopes: Option<Vec<String>>,
    pub domain: Option<Spanned<String>>,
    pub audience: Option<Spanned<String>>,
    pub tenant: Option<Spanned<String>>,
    pub authority: Option<Spanned<String>>,
    pub issuer: Option<Spanned<String>>,
    pub token_url: Option<Spanned<String>>,
    pub revocation_url: Option<Spanned<String>>,
    pub device_authorization_url: Option<Spanned<String>>,
    pub userinfo_url: Option<Spanned<String>>,
    pub authorization_url: Option<Spanned<String>>,
    pub login: Option<Spanned<String>>,
    pub redirect_uri: Option<Spanned<String>>,
    pub redirect_port: Option<Spanned<i64>>,
    pub require_iss: Option<bool>,
    pub grant: Option<Spanned<String>>,
    pub auth_method: Option<Spanned<String>>,
    pub refresh_ahead: Option<Spanned<String>>,
    pub refresh_token_lifetime: Option<Spanned<String>>,
    pub refresh_token_idle: Option<Spanned<String>>,
    pub kube_token: Option<Spanned<String>>,
    pub git_username: Option<Spanned<String>>,
    pub access_token_file: Option<Spanned<String>>,
    pub id_token_file: Option<Spanned<String>>,
    pub on_refresh: Option<Spanned<Vec<String>>>,
}

impl RawConfig {
    /// Everything but the profiles is the same (what every command reads, whichever profile
    /// it uses).
    pub fn same_shared(&self, other: &RawConfig) -> bool {
        // Every field named, so that a new top-level table cannot be forgotten here.
        let RawConfig {
            settings,
            store,
            profiles: _,
        } = self;
        *settings == other.settings && *store == other.store
    }

    pub fn profile(&self, name: &str) -> Option<&RawProfile> {
        self.profiles
            .iter()
            .find(|(key, _)| key.get_ref() == name)
            .map(|(_, body)| body.get_ref())
    }
}
