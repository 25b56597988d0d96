//! What serde cannot check: required keys per provider, keys that do not apply, URLs, durations,
//! profile names. Each error points at the offending key, or at the profile's header when a key
//! is missing.

use super::raw::{RawConfig, RawProfile, RawSettings, RawStore};
use super::{
    AuthMethod, BaoSettings, BaoTokenSource, BrowserLogin, Config, ConfigError, ConfigWarning,
    DEFAULT_GIT_USERNAME, DEFAULT_LOCK_TTL, EndpointOverrides, Grant, KubeToken, LoginLimits,
    LoginMethod, Profile, ProviderConfig, ProviderKind, SecretSource, Settings, StoreSettings,
    duration,
};
use crate::name_index::NameIndex;
use crate::secret::Secret;
use crate::urls;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

struct Ctx<'a> {
    path: &'a Path,
    source: &'a str,
}

impl Ctx<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Result<T, ConfigError> {
        Err(ConfigError::at(self.path, self.source, Some(span), message))
    }
}

pub fn validate(path: &Path, source: &str, raw: RawConfig) -> Result<Config, ConfigError> {
    let ctx = Ctx { path, source };
    let settings = settings(&ctx, raw.settings.unwrap_or_default())?;
    let store = match raw.store {
        Some(s) => store(&ctx, s)?,
        None => StoreSettings::Files,
    };
    let mut warnings = Vec::new();
    let mut profiles = Vec::with_capacity(raw.profiles.len());
    for (name, body) in raw.profiles {
        let profile = profile(&ctx, &settings, name, body)?;
        if matches!(profile.client_secret, SecretSource::Literal(_)) {
            warnings.push(ConfigWarning {
                profiles: vec![profile.name.clone()],
                message: format!(
                    "profile {} writes its client secret in the config; prefer client_secret_env or client_secret_cmd",
                    profile.name
                ),
            });
        }
        profiles.push(Arc::new(profile));
    }
    Ok(Config {
        path: path.to_path_buf(),
        settings,
        store,
        index: NameIndex::new(profiles.iter().map(|p| p.name.as_str())),
        profiles,
        warnings,
    })
}

fn settings(ctx: &Ctx, raw: RawSettings) -> Result<Settings, ConfigError> {
    let mut s = Settings::default();
    if let Some(d) = raw.refresh_ahead {
        s.refresh_ahead = parse_duration(ctx, &d)?;
    }
    if let Some(d) = raw.timeout {
        s.timeout = parse_duration(ctx, &d)?;
        if s.timeout.is_zero() {
            return ctx.err(d.span(), "timeout must be more than zero");
        }
    }
    if let Some(b) = raw.auto_refresh {
        s.auto_refresh = b;
    }
    if let Some(n) = raw.max_concurrency {
        match usize::try_from(*n.get_ref()) {
            Ok(v @ 1..=1024) => s.max_concurrency = v,
            _ => return ctx.err(n.span(), "max_concurrency must be between 1 and 1024"),
        }
    }
    if let Some(d) = raw.login_warning {
        s.login_warning = parse_duration(ctx, &d)?;
    }
    if let Some(file) = raw.ca_file {
        let path = PathBuf::from(file.get_ref());
        if !path.is_file() {
            return ctx.err(
                file.span(),
                format!("ca_file {} does not exist or is not a file", path.display()),
            );
        }
        s.ca_file = Some(path);
    }
    Ok(s)
}

/// `[store]`: `backend = "files"` (the default) takes no other key; `"openbao"` needs `address`
/// and takes the rest.
fn store(ctx: &Ctx, raw: Spanned<RawStore>) -> Result<StoreSettings, ConfigError> {
    let span = raw.span();
    let raw = raw.into_inner();
    let backend = raw.backend.as_ref().map(|b| b.get_ref().as_str());
    match backend {
        None | Some("files") => {
            let given = [
                ("address", raw.address.as_ref().map(Spanned::span)),
                ("mount", raw.mount.as_ref().map(Spanned::span)),
                ("prefix", raw.prefix.as_ref().map(Spanned::span)),
                ("token_env", raw.token_env.as_ref().map(Spanned::span)),
                ("token_file", raw.token_file.as_ref().map(Spanned::span)),
                ("namespace", raw.namespace.as_ref().map(Spanned::span)),
                ("ca_file", raw.ca_file.as_ref().map(Spanned::span)),
                ("lock_ttl", raw.lock_ttl.as_ref().map(Spanned::span)),
            ];
            if let Some((key, Some(at))) = given.into_iter().find(|(_, s)| s.is_some()) {
                return ctx.err(
                    at,
                    format!("{key} applies to a team store only; add backend = \"openbao\""),
                );
            }
            return Ok(StoreSettings::Files);
        }
        Some("openbao") => {}
        Some(other) => {
            let at = raw.backend.as_ref().map(Spanned::span).unwrap_or(span);
            return ctx.err(
                at,
                format!("unknown store backend `{other}`; use \"files\" or \"openbao\""),
            );
        }
    }
    let Some(address) = raw.address else {
        return ctx.err(span, "a team store needs address = \"https://…:8200\"");
    };
    let checked =
        urls::check_endpoint(address.get_ref()).or_else(|m| ctx.err(address.span(), m))?;
    let segment = |value: Option<Spanned<String>>, default: &str, key: &str| {
        let Some(v) = value else {
            return Ok(default.to_string());
        };
        let text = v.get_ref().trim_matches('/').to_string();
        let bad = text.is_empty()
            || text.split('/').any(|part| {
                part.is_empty() || part == "." || part == ".." || part.starts_with('.')
            })
            || text
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '?' | '#' | '%'));
        if bad {
            return ctx.err(
                v.span(),
                format!("{key} must be a path of names (letters, digits, `-`, `_`, `.`, not starting with `.`) separated by `/`"),
            );
        }
        Ok(text)
    };
    let mount = segment(raw.mount, "secret", "mount")?;
    let prefix = segment(raw.prefix, "tokdash", "prefix")?;
    let token = match (raw.token_env, raw.token_file) {
        (Some(_), Some(file)) => {
            return ctx.err(file.span(), "give token_env or token_file, not both");
        }
        (Some(env), None) if env.get_ref().is_empty() => {
            return ctx.err(env.span(), "token_env must name a variable");
        }
        (Some(env), None) => BaoTokenSource::Env(env.into_inner()),
        (None, Some(file)) => BaoTokenSource::File(PathBuf::from(file.into_inner())),
        (None, None) => BaoTokenSource::Default,
    };
    let namespace = match raw.namespace {
        Some(ns) if ns.get_ref().trim_matches('/').is_empty() => {
            return ctx.err(ns.span(), "namespace must not be empty");
        }
        Some(ns) => Some(ns.into_inner().trim_matches('/').to_string()),
        None => None,
    };
    let ca_file = match raw.ca_file {
        Some(file) => {
            let path = PathBuf::from(file.get_ref());
            if !path.is_file() {
                return ctx.err(
                    file.span(),
                    format!("ca_file {} does not exist or is not a file", path.display()),
                );
            }
            Some(path)
        }
        None => None,
    };
    let lock_ttl = match raw.lock_ttl {
        Some(d) => {
            let ttl = parse_duration(ctx, &d)?;
            if ttl < Duration::from_secs(1) {
                return ctx.err(d.span(), "lock_ttl must be at least 1s");
            }
            ttl
        }
        None => DEFAULT_LOCK_TTL,
    };
    Ok(StoreSettings::OpenBao(BaoSettings {
        address: checked.trim_end_matches('/').to_string(),
        mount,
        prefix,
        token,
        namespace,
        ca_file,
        lock_ttl,
    }))
}

fn parse_duration(ctx: &Ctx, text: &Spanned<String>) -> Result<std::time::Duration, ConfigError> {
    duration::parse(text.get_ref()).or_else(|m| ctx.err(text.span(), m))
}

/// Names become file names in the store: letters, digits, `.`, `_`, `-`, not starting with `.`.
pub fn is_valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn profile(
    ctx: &Ctx,
    settings: &Settings,
    name: Spanned<String>,
    body: Spanned<RawProfile>,
) -> Result<Profile, ConfigError> {
    let header = body.span();
    let p = body.into_inner();
    let name_span = name.span();
    let name = name.into_inner();
    if !is_valid_profile_name(&name) {
        return ctx.err(
            name_span,
            format!(
                "profile name `{name}` may hold only letters, digits, `.`, `_` and `-`, and may not start with `.`"
            ),
        );
    }
    let missing = |key: &str, why: &str| {
        ConfigError::at(
            ctx.path,
            ctx.source,
            Some(header.clone()),
            format!("profile {name}: missing key `{key}`{why}"),
        )
    };

    let Some(provider_text) = &p.provider else {
        return Err(missing(
            "provider",
            " (google, auth0, microsoft, oidc or oauth2)",
        ));
    };
    let Some(kind) = ProviderKind::parse(provider_text.get_ref()) else {
        return ctx.err(
            provider_text.span(),
            format!(
                "unknown provider `{}`; expected one of google, auth0, microsoft, oidc, oauth2",
                provider_text.get_ref()
            ),
        );
    };
    reject_foreign_keys(ctx, &name, kind, &p)?;

    let client_id = p
        .client_id
        .as_ref()
        .map(|c| c.get_ref().clone())
        .ok_or_else(|| missing("client_id", ""))?;

    let provider = match kind {
        ProviderKind::Google => ProviderConfig::Google,
        ProviderKind::Auth0 => {
            let domain = p
                .domain
                .as_ref()
                .ok_or_else(|| missing("domain", " (like \"example.eu.auth0.com\")"))?;
            let d = domain.get_ref();
            if d.contains("://") || d.contains('/') || d.is_empty() {
                return ctx.err(domain.span(), "domain is a host name like \"example.eu.auth0.com\", without https:// or a path");
            }
            ProviderConfig::Auth0 {
                domain: d.clone(),
                audience: p.audience.as_ref().map(|a| a.get_ref().clone()),
            }
        }
        ProviderKind::Microsoft => {
            let tenant = p.tenant.as_ref().ok_or_else(|| {
                missing(
                    "tenant",
                    " (a domain, a tenant GUID, \"organizations\" or \"common\")",
                )
            })?;
            let authority = match &p.authority {
                Some(a) => url_key(ctx, a)?.trim_end_matches('/').to_string(),
                None => crate::provider::microsoft::DEFAULT_AUTHORITY.to_string(),
            };
            ProviderConfig::Microsoft {
                tenant: tenant.get_ref().clone(),
                authority,
            }
        }
        ProviderKind::Oidc => {
            let issuer = p.issuer.as_ref().ok_or_else(|| {
                missing("issuer", " (endpoints come from its discovery document)")
            })?;
            ProviderConfig::Oidc {
                issuer: url_key(ctx, issuer)?,
            }
        }
        ProviderKind::OAuth2 => {
            if p.token_url.is_none() {
                return Err(missing("token_url", " (oauth2 profiles have no discovery)"));
            }
            ProviderConfig::OAuth2
        }
    };

    let endpoints = EndpointOverrides {
        token_url: p.token_url.as_ref().map(|u| url_key(ctx, u)).transpose()?,
        revocation_url: p
            .revocation_url
            .as_ref()
            .map(|u| url_key(ctx, u))
            .transpose()?,
        device_authorization_url: p
            .device_authorization_url
            .as_ref()
            .map(|u| url_key(ctx, u))
            .transpose()?,
        userinfo_url: p
            .userinfo_url
            .as_ref()
            .map(|u| url_key(ctx, u))
            .transpose()?,
        authorization_url: p
            .authorization_url
            .as_ref()
            .map(|u| url_key(ctx, u))
            .transpose()?,
    };
    let login = match &p.login {
        None => None,
        Some(l) => Some(match l.get_ref().as_str() {
            "device" => LoginMethod::Device,
            "browser" => LoginMethod::Browser,
            other => {
                return ctx.err(
                    l.span(),
                    format!("profile {name}: unknown login `{other}`; expected \"device\" or \"browser\""),
                );
            }
        }),
    };
    let browser = browser_login(ctx, &name, &p)?;

    let client_secret = secret_source(ctx, &name, &p)?;
    let grant = match &p.grant {
        None => Grant::RefreshToken,
        Some(g) => match g.get_ref().as_str() {
            "refresh_token" => Grant::RefreshToken,
            "client_credentials" => Grant::ClientCredentials,
            other => {
                return ctx.err(
                    g.span(),
                    format!("unknown grant `{other}`; expected \"refresh_token\" or \"client_credentials\""),
                );
            }
        },
    };
    let auth_method = match &p.auth_method {
        None if client_secret.is_configured() => AuthMethod::ClientSecretPost,
        None => AuthMethod::None,
        Some(m) => {
            let method = match m.get_ref().as_str() {
                "client_secret_post" => AuthMethod::ClientSecretPost,
                "client_secret_basic" => AuthMethod::ClientSecretBasic,
                "none" => AuthMethod::None,
                other => {
                    return ctx.err(
                        m.span(),
                        format!(
                            "unknown auth_method `{other}`; expected \"client_secret_post\", \"client_secret_basic\" or \"none\""
                        ),
                    );
                }
            };
            if method == AuthMethod::None && client_secret.is_configured() {
                return ctx.err(
                    m.span(),
                    format!("profile {name}: auth_method = \"none\" (a public client) but a client secret is configured; remove one of them"),
                );
            }
            if method != AuthMethod::None && !client_secret.is_configured() {
                return ctx.err(
                    m.span(),
                    format!("profile {name}: auth_method = \"{}\" needs a client secret (client_secret_env, client_secret_cmd or client_secret)", method.as_str()),
                );
            }
            method
        }
    };
    if grant == Grant::ClientCredentials && !client_secret.is_configured() {
        return Err(missing(
            "client_secret_env",
            " (grant = \"client_credentials\" needs a client secret: client_secret_env, client_secret_cmd or client_secret)",
        ));
    }

    let refresh_ahead = match &p.refresh_ahead {
        Some(d) => parse_duration(ctx, d)?,
        None => settings.refresh_ahead,
    };
    let login_limits = login_limits(ctx, kind, &p)?;
    let kube_token = match &p.kube_token {
        None => None,
        Some(k) => Some(match k.get_ref().as_str() {
            "id_token" => KubeToken::IdToken,
            "access_token" => KubeToken::AccessToken,
            other => {
                return ctx.err(
                    k.span(),
                    format!("profile {name}: unknown kube_token `{other}`; expected \"id_token\" or \"access_token\""),
                );
            }
        }),
    };
    let git_username = match &p.git_username {
        None => DEFAULT_GIT_USERNAME.to_string(),
        Some(u) => {
            let user = u.get_ref();
            if user.is_empty() || user.contains(['\n', '\r', '\0']) {
                return ctx.err(
                    u.span(),
                    format!("profile {name}: git_username must be one non-empty line"),
                );
            }
            user.clone()
        }
    };
    let token_files = super::TokenFiles {
        access_token: token_file(
            ctx,
            &name,
            "access_token_file",
            p.access_token_file.as_ref(),
        )?,
        id_token: token_file(ctx, &name, "id_token_file", p.id_token_file.as_ref())?,
    };
    let on_refresh = match &p.on_refresh {
        None => None,
        Some(cmd) => {
            if cmd
                .get_ref()
                .first()
                .is_none_or(|program| program.is_empty())
            {
                return ctx.err(
                    cmd.span(),
                    format!("profile {name}: on_refresh is a program and its arguments, like [\"systemctl\", \"--user\", \"reload\", \"app\"] (run without a shell)"),
                );
            }
            Some(cmd.get_ref().clone())
        }
    };
    let mut scopes = p.scopes.clone().unwrap_or_default();
    if kind == ProviderKind::Microsoft && grant == Grant::RefreshToken {
        crate::provider::microsoft::ask_for_refresh_token(&mut scopes);
    }

    Ok(Profile {
        name,
        provider,
        client_id,
        client_secret,
        scopes,
        grant,
        auth_method,
        refresh_ahead,
        endpoints,
        login,
        browser,
        login_limits,
        kube_token,
        git_username,
        token_files,
        on_refresh,
    })
}

/// `redirect_uri`, `redirect_port` and `require_iss`. The URI must be loopback `http`: tokdash
/// listens there itself (RFC 8252 §7.3).
fn browser_login(ctx: &Ctx, name: &str, p: &RawProfile) -> Result<BrowserLogin, ConfigError> {
    let redirect_uri = match &p.redirect_uri {
        None => None,
        Some(u) => Some(
            crate::oauth::loopback::check_redirect_uri(u.get_ref())
                .or_else(|m| ctx.err(u.span(), format!("profile {name}: {m}")))?,
        ),
    };
    let redirect_port = match &p.redirect_port {
        None => None,
        Some(n) => match u16::try_from(*n.get_ref()) {
            Ok(port @ 1..) => Some(port),
            _ => {
                return ctx.err(
                    n.span(),
                    format!("profile {name}: redirect_port must be between 1 and 65535"),
                );
            }
        },
    };
    Ok(BrowserLogin {
        redirect_uri,
        redirect_port,
        require_iss: p.require_iss.unwrap_or(true),
    })
}

/// A token file's path: absolute, in an existing directory that only its owner (you, or root)
/// can write. A directory others can write (`/tmp` included, sticky bit or not) would let them
/// put a link or a file of their own where tokdash writes the token.
fn token_file(
    ctx: &Ctx,
    name: &str,
    key: &str,
    value: Option<&Spanned<String>>,
) -> Result<Option<PathBuf>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let path = PathBuf::from(value.get_ref());
    let fix =
        "choose a directory only you can write, like ~/.local/state/tokdash-out (mkdir -m 700)";
    let dir = match path.parent() {
        Some(dir) if path.is_absolute() && path.file_name().is_some() => dir,
        _ => {
            return ctx.err(
                value.span(),
                format!("profile {name}: {key} must be an absolute path to a file, like \"/home/me/.local/state/tokdash-out/{name}.token\""),
            );
        }
    };
    match directory_problem(dir) {
        None => Ok(Some(path)),
        Some(problem) => ctx.err(
            value.span(),
            format!(
                "profile {name}: {key}: the directory {} {problem}; {fix}",
                dir.display()
            ),
        ),
    }
}

/// Why tokdash will not write a token file in `dir`, if it will not.
#[cfg(unix)]
fn directory_problem(dir: &Path) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => return Some("is not a directory".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some("does not exist".into());
        }
        Err(e) => return Some(format!("cannot be read ({e})")),
    };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(format!(
            "can be written by other users (mode {mode:04o}), who could put a link or a file of their own where the token goes"
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me && meta.uid() != 0 {
        return Some(format!(
            "belongs to another user (uid {}), who could replace the token file",
            meta.uid()
        ));
    }
    None
}

#[cfg(not(unix))]
fn directory_problem(_: &Path) -> Option<String> {
    None
}

/// `refresh_token_lifetime` and `refresh_token_idle`, or the provider's documented idle limit
/// when the profile sets none (`provider::documented_refresh_token_idle`).
fn login_limits(ctx: &Ctx, kind: ProviderKind, p: &RawProfile) -> Result<LoginLimits, ConfigError> {
    let positive = |d: &Spanned<String>, key: &str| -> Result<Duration, ConfigError> {
        let value = parse_duration(ctx, d)?;
        if value.is_zero() {
            return ctx.err(d.span(), format!("{key} must be more than zero"));
        }
        Ok(value)
    };
    let lifetime = match &p.refresh_token_lifetime {
        Some(d) => Some(positive(d, "refresh_token_lifetime")?),
        None => None,
    };
    Ok(match &p.refresh_token_idle {
        Some(d) => LoginLimits {
            lifetime,
            idle: Some(positive(d, "refresh_token_idle")?),
            idle_is_provider_default: false,
        },
        None => {
            let idle = crate::provider::documented_refresh_token_idle(kind);
            LoginLimits {
                lifetime,
                idle,
                idle_is_provider_default: idle.is_some(),
            }
        }
    })
}

fn secret_source(ctx: &Ctx, name: &str, p: &RawProfile) -> Result<SecretSource, ConfigError> {
    let mut given: Vec<(std::ops::Range<usize>, SecretSource)> = Vec::new();
    if let Some(s) = &p.client_secret {
        given.push((
            s.span(),
            SecretSource::Literal(Secret::new(s.get_ref().clone())),
        ));
    }
    if let Some(v) = &p.client_secret_env {
        if v.get_ref().is_empty() {
            return ctx.err(
                v.span(),
                "client_secret_env names an environment variable and cannot be empty",
            );
        }
        given.push((v.span(), SecretSource::Env(v.get_ref().clone())));
    }
    if let Some(cmd) = &p.client_secret_cmd {
        if cmd.get_ref().is_empty() || cmd.get_ref()[0].is_empty() {
            return ctx.err(cmd.span(), "client_secret_cmd is a program and its arguments, like [\"pass\", \"show\", \"google\"]");
        }
        given.push((cmd.span(), SecretSource::Command(cmd.get_ref().clone())));
    }
    match given.len() {
        0 => Ok(SecretSource::Absent),
        1 => Ok(given.pop().map(|(_, s)| s).unwrap_or(SecretSource::Absent)),
        _ => ctx.err(
            given[1].0.clone(),
            format!("profile {name}: give only one of client_secret, client_secret_env and client_secret_cmd"),
        ),
    }
}

/// Keys that belong to another provider are mistakes worth pointing out, not silently ignored.
fn reject_foreign_keys(
    ctx: &Ctx,
    name: &str,
    kind: ProviderKind,
    p: &RawProfile,
) -> Result<(), ConfigError> {
    type Check<'a> = (&'a str, Option<std::ops::Range<usize>>, &'a [ProviderKind]);
    let checks: [Check; 5] = [
        (
            "domain",
            p.domain.as_ref().map(|s| s.span()),
            &[ProviderKind::Auth0],
        ),
        (
            "audience",
            p.audience.as_ref().map(|s| s.span()),
            &[ProviderKind::Auth0],
        ),
        (
            "tenant",
            p.tenant.as_ref().map(|s| s.span()),
            &[ProviderKind::Microsoft],
        ),
        (
            "authority",
            p.authority.as_ref().map(|s| s.span()),
            &[ProviderKind::Microsoft],
        ),
        (
            "issuer",
            p.issuer.as_ref().map(|s| s.span()),
            &[ProviderKind::Oidc],
        ),
    ];
    for (key, span, allowed) in checks {
        if let Some(span) = span
            && !allowed.contains(&kind)
        {
            return ctx.err(
                span,
                format!(
                    "profile {name}: key `{key}` is for provider {}, not {}",
                    allowed[0].as_str(),
                    kind.as_str()
                ),
            );
        }
    }
    Ok(())
}

fn url_key(ctx: &Ctx, value: &Spanned<String>) -> Result<String, ConfigError> {
    urls::check_endpoint(value.get_ref()).or_else(|m| ctx.err(value.span(), m))
}
