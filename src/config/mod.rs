//! `profiles.toml` → a validated [`Config`]. Every error names the file, line and column.
//!
//! Reading happens in two steps: serde into [`raw`] shapes that keep spans, then [`validate`]
//! checks what serde cannot (required keys per provider, URLs, durations, names).

mod duration;
mod error;
mod index;
mod raw;
mod secret_source;
mod validate;

pub use duration::parse as parse_duration;
pub use error::{ConfigError, line_column};
pub use secret_source::{SecretError, SecretSource};
pub use validate::is_valid_profile_name;

use crate::name_index::NameIndex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(300);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
pub const DEFAULT_MAX_CONCURRENCY: usize = 8;
/// How long before the login (the refresh token) ends the dashboard starts to say so.
pub const DEFAULT_LOGIN_WARNING: Duration = Duration::from_secs(7 * 86_400);

/// A warning about the config, and the profiles it concerns: it is said where it applies (by
/// `config check`, and by the commands that use one of those profiles), not by every command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub profiles: Vec<String>,
    pub message: String,
}

impl ConfigWarning {
    pub fn applies_to(&self, names: &[&str]) -> bool {
        self.profiles.iter().any(|p| names.contains(&p.as_str()))
    }
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub settings: Settings,
    /// `[store]`: the local file store, or a team store on OpenBao.
    pub store: StoreSettings,
    /// In the order of the file. Shared, not copied, by the dashboard's rows.
    pub profiles: Vec<Arc<Profile>>,
    /// Things worth saying that do not stop the program (a literal client secret, say).
    pub warnings: Vec<ConfigWarning>,
    /// `profiles` by name.
    pub index: NameIndex,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub refresh_ahead: Duration,
    pub auto_refresh: bool,
    pub max_concurrency: usize,
    pub timeout: Duration,
    pub ca_file: Option<PathBuf>,
    /// Say when the login ends once less than this is left.
    pub login_warning: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            auto_refresh: true,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            timeout: DEFAULT_TIMEOUT,
            ca_file: None,
            login_warning: DEFAULT_LOGIN_WARNING,
        }
    }
}

/// Where the records live (`[store]`, SPEC.md "Team store").
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StoreSettings {
    /// The local file store (`<data dir>/tokens`, or `--store DIR`).
    #[default]
    Files,
    /// A KV v2 mount on OpenBao (or Vault), shared by every host of a team.
    OpenBao(BaoSettings),
}

/// How long a lease whose holder vanished keeps its profile locked, by default.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(60);

/// `[store]` with `backend = "openbao"`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct BaoSettings {
    /// `https://host:port` (or `http://` to loopback), no trailing slash.
    pub address: String,
    /// The KV v2 mount, without slashes.
    pub mount: String,
    /// The folder under the mount that holds this team's entries, without outer slashes.
    pub prefix: String,
    pub token: BaoTokenSource,
    pub namespace: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub lock_ttl: Duration,
}

/// Where the server token comes from; never the config itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaoTokenSource {
    /// `token_file`: its first line.
    File(PathBuf),
    /// `token_env`: this variable.
    Env(String),
    /// `BAO_TOKEN`, else `VAULT_TOKEN`.
    Default,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Google,
    Auth0,
    Microsoft,
    Oidc,
    OAuth2,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::Google,
        ProviderKind::Auth0,
        ProviderKind::Microsoft,
        ProviderKind::Oidc,
        ProviderKind::OAuth2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Google => "google",
            ProviderKind::Auth0 => "auth0",
            ProviderKind::Microsoft => "microsoft",
            ProviderKind::Oidc => "oidc",
            ProviderKind::OAuth2 => "oauth2",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// What identifies the authorization server, per provider.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderConfig {
    Google,
    Auth0 {
        domain: String,
        audience: Option<String>,
    },
    Microsoft {
        tenant: String,
        authority: String,
    },
    Oidc {
        issuer: String,
    },
    OAuth2,
}

impl ProviderConfig {
    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderConfig::Google => ProviderKind::Google,
            ProviderConfig::Auth0 { .. } => ProviderKind::Auth0,
            ProviderConfig::Microsoft { .. } => ProviderKind::Microsoft,
            ProviderConfig::Oidc { .. } => ProviderKind::Oidc,
            ProviderConfig::OAuth2 => ProviderKind::OAuth2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    RefreshToken,
    ClientCredentials,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretPost,
    ClientSecretBasic,
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::None => "none",
        }
    }
}

/// Endpoints written in the profile; each overrides the provider's default or discovery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointOverrides {
    pub token_url: Option<String>,
    pub revocation_url: Option<String>,
    pub device_authorization_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub authorization_url: Option<String>,
}

/// How `login` gets the first tokens (SPEC.md "Login").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// The device authorization grant (RFC 8628).
    Device,
    /// The authorization code grant with PKCE and a loopback redirect.
    Browser,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Device => "device",
            LoginMethod::Browser => "browser",
        }
    }
}

/// The browser login's settings (SPEC.md "Login").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserLogin {
    /// `redirect_uri`: a loopback `http` URI, checked; `None`: the provider's default.
    pub redirect_uri: Option<String>,
    /// `redirect_port`: the port to listen on when the URI has none.
    pub redirect_port: Option<u16>,
    /// `require_iss`: whether an advertised RFC 9207 `iss` must come (default true).
    pub require_iss: bool,
}

impl Default for BrowserLogin {
    fn default() -> Self {
        BrowserLogin {
            redirect_uri: None,
            redirect_port: None,
            require_iss: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub provider: ProviderConfig,
    pub client_id: String,
    pub client_secret: SecretSource,
    pub scopes: Vec<String>,
    pub grant: Grant,
    pub auth_method: AuthMethod,
    pub refresh_ahead: Duration,
    pub endpoints: EndpointOverrides,
    /// `login`: `None` chooses by the endpoints (device when there is a device endpoint).
    pub login: Option<LoginMethod>,
    pub browser: BrowserLogin,
    /// How long the login (the refresh token family) may live, where the config or a sourced
    /// provider default says (SPEC.md "Refresh-token lifetime").
    pub login_limits: LoginLimits,
    /// Which token `kube-credential` hands to kubectl; `None`: the id token when the record
    /// holds one, else the access token.
    pub kube_token: Option<KubeToken>,
    /// The `username` `git-credential` answers (default [`DEFAULT_GIT_USERNAME`]).
    pub git_username: String,
    /// Files rewritten with the token after every new token is stored (SPEC.md "Tokens where
    /// they are used"); their directories were checked when the config was loaded.
    pub token_files: TokenFiles,
    /// `on_refresh`: a program and its arguments, run without a shell after a new token is
    /// stored.
    pub on_refresh: Option<Vec<String>>,
}

/// `access_token_file` and `id_token_file`: absolute paths in directories only their owner can
/// write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFiles {
    pub access_token: Option<PathBuf>,
    pub id_token: Option<PathBuf>,
}

impl TokenFiles {
    /// No file to write after a refresh.
    pub fn is_empty(&self) -> bool {
        self.access_token.is_none() && self.id_token.is_none()
    }
}

/// What git hosts that take an OAuth access token as the password expect as the user name.
pub const DEFAULT_GIT_USERNAME: &str = "oauth2";

/// The token a Kubernetes API server is given (`kube_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeToken {
    /// What an API server's OIDC authenticator checks.
    IdToken,
    AccessToken,
}

/// The limits on a login that come from the config (or a provider's documented default), beside
/// those a token response gives (kept in the record).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginLimits {
    /// `refresh_token_lifetime`: absolute, from the login or import that began the family.
    pub lifetime: Option<Duration>,
    /// `refresh_token_idle`: sliding, from the last refresh (or the login before any).
    pub idle: Option<Duration>,
    /// The idle limit is the provider's documented default, not the profile's own key.
    pub idle_is_provider_default: bool,
}

impl Config {
    /// Reads and validates the config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = read_source(path)?;
        Ok(Self::parse(path, &source)?.with_permission_warning(path))
    }

    /// Reads the config for a command that uses the profiles `names` only: from their sections
    /// alone when `index_dir` holds an index of this very file (see `index.rs`), else the whole
    /// file, which is then indexed for the next command. What the command sees of its profiles
    /// is the same either way; the other profiles are absent from a config read by its index.
    pub fn load_for(
        path: &Path,
        names: &[&str],
        index_dir: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let source = read_source(path)?;
        let Some(dir) = index_dir else {
            return Ok(Self::parse(path, &source)?.with_permission_warning(path));
        };
        let index = index::IndexFile::new(dir, path, &source);
        let sections = index.read();
        if let Some(text) = sections.and_then(|s| s.document(&source, names)) {
            // A section that no longer validates alone (a token file's directory changed
            // since, say) is read again with the whole file, whose error names the right line.
            if let Ok(config) = Self::parse(path, &text) {
                tracing::debug!(
                    "config: {names:?} read through the index of {}",
                    path.display()
                );
                return Ok(config.with_permission_warning(path));
            }
        }
        let raw = parse_raw(path, &source)?;
        let sections = index::IndexFile::sections_of(&source, &raw);
        let config = validate::validate(path, &source, raw)?;
        if let Some(sections) = sections {
            index.write(&sections);
        }
        Ok(config.with_permission_warning(path))
    }

    /// Validates config text; `path` is used in messages only.
    pub fn parse(path: &Path, source: &str) -> Result<Config, ConfigError> {
        validate::validate(path, source, parse_raw(path, source)?)
    }

    /// A literal client secret in a file other users can read is worth a warning.
    fn with_permission_warning(mut self, path: &Path) -> Config {
        let with_literal_secrets: Vec<String> = self
            .profiles
            .iter()
            .filter(|p| matches!(p.client_secret, SecretSource::Literal(_)))
            .map(|p| p.name.clone())
            .collect();
        if !with_literal_secrets.is_empty() && readable_by_others(path) {
            self.warnings.push(ConfigWarning {
                profiles: with_literal_secrets,
                message: format!(
                    "{} holds a client secret and is readable by other users; run: chmod 600 {}",
                    path.display(),
                    path.display()
                ),
            });
        }
        self
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        let i = self.index.find(name, |i| &self.profiles[i].name)?;
        Some(&self.profiles[i])
    }

    pub fn names(&self) -> Vec<&str> {
        self.profiles.iter().map(|p| p.name.as_str()).collect()
    }
}

fn read_source(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_path_buf(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => {
                "no such config file; write a starter with: tokdash config init [--provider google|microsoft|auth0|oidc|oauth2] (or pass --config FILE)".into()
            }
            _ => format!("cannot read the config file: {e}"),
        },
    })
}

/// The file as written, with spans, before validation.
fn parse_raw(path: &Path, source: &str) -> Result<raw::RawConfig, ConfigError> {
    toml::from_str(source).map_err(|e| {
        ConfigError::at(
            path,
            source,
            e.span(),
            e.message().trim_end().replace('\n', "; "),
        )
    })
}

#[cfg(unix)]
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

#[cfg(not(unix))]
fn readable_by_others(_: &Path) -> bool {
    false
}
