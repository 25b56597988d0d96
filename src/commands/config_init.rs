//! `tokdash config init [--provider NAME]`: a commented starter config with one profile, written
//! where tokdash will look for it, never over an existing file; then what to fill in.
//!
//! The templates are `starter/*.toml` (one per provider, after a shared `[settings]`), written in
//! the words of profiles.example.toml; a unit test parses each one as it is written.

use crate::failure::{CmdResult, Failure};
use std::io::Write;
use std::path::Path;

/// The provider of the starter profile. `oidc` by default: any OpenID Connect server
/// (Keycloak, Okta, Dex, Authentik…) works with an issuer and a client id alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StarterProvider {
    Google,
    Microsoft,
    Auth0,
    #[default]
    Oidc,
    Oauth2,
}

const SETTINGS: &str = include_str!("starter/settings.toml");

/// One provider's starter: the profile's table, its name, and what the user must fill in.
pub struct Starter {
    pub name: &'static str,
    pub profile: &'static str,
    /// `(key, where its value comes from)`.
    pub fill: &'static [(&'static str, &'static str)],
}

impl StarterProvider {
    pub fn starter(self) -> Starter {
        match self {
            StarterProvider::Google => Starter {
                name: "google",
                profile: include_str!("starter/google.toml"),
                fill: &[
                    (
                        "client_id",
                        "Google Cloud console > APIs & Services > Credentials > Create credentials > OAuth client ID; type \"TVs and Limited Input devices\" for the device flow",
                    ),
                    (
                        "client_secret_env",
                        "export GOOGLE_CLIENT_SECRET=<the client's secret> in the shell that runs tokdash",
                    ),
                ],
            },
            StarterProvider::Microsoft => Starter {
                name: "entra",
                profile: include_str!("starter/microsoft.toml"),
                fill: &[
                    (
                        "client_id",
                        "Entra admin centre > App registrations > New registration: the Application (client) ID; under Authentication, allow public client flows (device flow)",
                    ),
                    (
                        "tenant",
                        "the same page's Directory (tenant) ID, or your domain; \"organizations\" works for any work account",
                    ),
                ],
            },
            StarterProvider::Auth0 => Starter {
                name: "auth0",
                profile: include_str!("starter/auth0.toml"),
                fill: &[
                    (
                        "domain",
                        "Auth0 dashboard > Applications > your application > Settings: Domain",
                    ),
                    (
                        "client_id",
                        "the same page's Client ID (a Native application with the Device Code grant enabled under Advanced Settings > Grant Types)",
                    ),
                ],
            },
            StarterProvider::Oidc => Starter {
                name: "oidc",
                profile: include_str!("starter/oidc.toml"),
                fill: &[
                    (
                        "issuer",
                        "your identity provider's issuer URL, the one whose /.well-known/openid-configuration answers (Keycloak: https://HOST/realms/REALM)",
                    ),
                    (
                        "client_id",
                        "a client registered there for tokdash (a public client with the device authorization grant on)",
                    ),
                ],
            },
            StarterProvider::Oauth2 => Starter {
                name: "oauth2",
                profile: include_str!("starter/oauth2.toml"),
                fill: &[
                    (
                        "token_url",
                        "the authorization server's token endpoint (its documentation)",
                    ),
                    (
                        "device_authorization_url",
                        "its device authorization endpoint (RFC 8628), for tokdash login",
                    ),
                    ("client_id", "a client registered there for tokdash"),
                ],
            },
        }
    }
}

/// The whole file for `provider`.
pub fn text(provider: StarterProvider) -> String {
    format!("{SETTINGS}{}", provider.starter().profile)
}

pub fn config_init(config: Option<&Path>, provider: StarterProvider) -> CmdResult {
    let path = crate::paths::Paths::config_path(config).map_err(Failure::usage)?;
    let starter = provider.starter();
    write_new(&path, &text(provider))?;
    let mut out = String::new();
    out.push_str(&format!(
        "wrote {} with one profile, `{}` (provider {}).\n\nFill in, replacing REPLACE-ME:\n",
        path.display(),
        starter.name,
        provider_word(provider)
    ));
    for (key, source) in starter.fill {
        out.push_str(&format!("  {key}\n      {source}\n"));
    }
    let login = format!("tokdash login {}", starter.name);
    out.push_str(&format!(
        "\nThen:\n  {:<29}validates the file and shows the endpoints\n  {login:<29}gets the first token\n  {:<29}the dashboard\n",
        "tokdash config check", "tokdash",
    ));
    if provider == StarterProvider::Oidc {
        out.push_str("\n(oidc is the default; --provider google|microsoft|auth0|oidc|oauth2 chooses another.)\n");
    }
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .map_err(|e| Failure::failed(format!("config init: cannot write: {e}")))
}

fn provider_word(p: StarterProvider) -> &'static str {
    match p {
        StarterProvider::Google => "google",
        StarterProvider::Microsoft => "microsoft",
        StarterProvider::Auth0 => "auth0",
        StarterProvider::Oidc => "oidc",
        StarterProvider::Oauth2 => "oauth2",
    }
}

/// Creates `path` (and its directory) with `text`; an existing file is never touched, whatever
/// happens (`create_new` decides, so two runs at once cannot both write).
fn write_new(path: &Path, text: &str) -> CmdResult {
    let cannot = |what: &str, e: std::io::Error| {
        Failure::usage(format!(
            "config init: cannot {what} {}: {e}",
            path.display()
        ))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| cannot("create the directory of", e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // The config may come to hold a client secret: readable by its owner alone.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Failure::usage(format!(
                "{} already exists; config init never writes over a config (edit it, or pass --config FILE to start another)",
                path.display()
            )));
        }
        Err(e) => return Err(cannot("create", e)),
    };
    if let Err(e) = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
    {
        // Ours alone (create_new): a half-written starter is worse than none.
        let _ = std::fs::remove_file(path);
        return Err(cannot("write", e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ProviderKind};
    use clap::ValueEnum;

    #[test]
    fn every_starter_parses_as_written_with_its_provider() {
        for p in StarterProvider::value_variants() {
            let config = Config::parse(Path::new("starter.toml"), &text(*p))
                .unwrap_or_else(|e| panic!("{p:?}: {e}"));
            let starter = p.starter();
            let profile = config.profile(starter.name).expect("the named profile");
            assert_eq!(
                Some(profile.provider.kind()),
                ProviderKind::parse(provider_word(*p))
            );
            assert_eq!(config.profiles.len(), 1);
        }
    }

    #[test]
    fn every_key_written_is_commented_and_every_placeholder_named() {
        for p in StarterProvider::value_variants() {
            let text = text(*p);
            for line in text.lines() {
                let code = line.trim_start();
                if code.contains(" = ") && !code.starts_with('#') {
                    assert!(line.contains(" # "), "{p:?}: `{line}` has no comment");
                }
            }
            // What must be replaced is what the command says to fill in.
            for line in text
                .lines()
                .filter(|l| l.contains("REPLACE-ME") && !l.starts_with('#'))
            {
                let key = line.split(" = ").next().unwrap_or("").trim();
                assert!(
                    p.starter().fill.iter().any(|(k, _)| *k == key),
                    "{p:?}: {key} holds a placeholder but is not in the list to fill in"
                );
            }
        }
    }
}
