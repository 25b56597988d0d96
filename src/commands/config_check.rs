//! `tokdash config check`: validates the config and prints what each profile resolves to.

use super::Context;
use crate::config::{Grant, Profile, ProviderConfig};
use crate::failure::{CmdResult, Failure};
use crate::provider;
use crate::store::Backend;
use std::sync::Arc;

/// Validates the config, then resolves every profile's endpoints (OIDC discovery included, so
/// this is also the way to see that an issuer answers).
pub fn config_check(ctx: &Context) -> CmdResult {
    let config = Arc::new(ctx.config()?);
    super::warn_about(&config, &config.names());
    println!(
        "{}: ok, {} profile(s)",
        config.path.display(),
        config.profiles.len()
    );
    let needs_discovery = config
        .profiles
        .iter()
        .any(|p| provider::static_endpoints(p).is_none());
    let engine = if needs_discovery {
        Some(ctx.engine_on(config.clone(), Backend::Files(ctx.local_store()?))?)
    } else {
        None
    };
    let runtime = ctx.runtime()?;
    let mut failed = Vec::new();
    for profile in &config.profiles {
        println!();
        print!("{}", describe(profile));
        let resolved = match (provider::static_endpoints(profile), &engine) {
            (Some(e), _) => Ok(e),
            (None, Some(engine)) => runtime
                .block_on(engine.endpoints(profile))
                .map_err(|e| e.message),
            (None, None) => Err("no engine".into()),
        };
        match resolved {
            Ok(e) => print!("{}", endpoint_lines(&e)),
            Err(why) => {
                if let ProviderConfig::Oidc { issuer } = &profile.provider {
                    println!(
                        "  endpoints:      from discovery at {}, or RFC 8414 metadata at {}",
                        provider::oidc::discovery_url(issuer),
                        provider::oidc::metadata_url(issuer)
                    );
                }
                println!("  error:          {why}");
                failed.push(profile.name.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{}: cannot resolve the endpoints (see above)",
            failed.join(", ")
        )))
    }
}

fn describe(p: &Profile) -> String {
    let mut s = format!(
        "[{}]\n  provider:       {}\n",
        p.name,
        p.provider.kind().as_str()
    );
    match &p.provider {
        ProviderConfig::Auth0 { domain, audience } => {
            s.push_str(&format!("  domain:         {domain}\n"));
            if let Some(a) = audience {
                s.push_str(&format!("  audience:       {a}\n"));
            }
        }
        ProviderConfig::Microsoft { tenant, authority } => {
            s.push_str(&format!(
                "  tenant:         {tenant}\n  authority:      {authority}\n"
            ));
        }
        ProviderConfig::Oidc { issuer } => s.push_str(&format!("  issuer:         {issuer}\n")),
        ProviderConfig::Google | ProviderConfig::OAuth2 => {}
    }
    s.push_str(&format!("  client_id:      {}\n", p.client_id));
    s.push_str(&format!(
        "  client secret:  {}\n",
        p.client_secret.describe()
    ));
    s.push_str(&format!("  auth_method:    {}\n", p.auth_method.as_str()));
    let grant = match p.grant {
        Grant::RefreshToken => "refresh_token",
        Grant::ClientCredentials => "client_credentials",
    };
    s.push_str(&format!("  grant:          {grant}\n"));
    s.push_str(&format!(
        "  scopes:         {}\n",
        if p.scopes.is_empty() {
            "(as granted)".into()
        } else {
            p.scopes.join(" ")
        }
    ));
    s.push_str(&format!(
        "  refresh_ahead:  {}\n",
        humantime::format_duration(p.refresh_ahead)
    ));
    s.push_str(&login_limit_lines(p));
    s
}

/// The limits on the login that come from the config, or from the provider's documented default
/// (marked as such); those a token response gives are learnt at the first login or refresh.
fn login_limit_lines(p: &Profile) -> String {
    let limits = &p.login_limits;
    let mut s = String::new();
    if let Some(lifetime) = limits.lifetime {
        s.push_str(&format!(
            "  refresh_token_lifetime: {}\n",
            as_written(lifetime)
        ));
    }
    if let Some(idle) = limits.idle {
        s.push_str(&format!(
            "  refresh_token_idle:     {}{}\n",
            as_written(idle),
            if limits.idle_is_provider_default {
                format!(" ({} default)", p.provider.kind().as_str())
            } else {
                String::new()
            }
        ));
    }
    s
}

/// One line per endpoint, each saying where its URL came from, then where they came from as a
/// whole.
pub fn endpoint_lines(e: &provider::Endpoints) -> String {
    let line = |label: &str, url: Option<&String>, origin: provider::Origin| match url {
        Some(url) => format!("  {label:<16}{url}  ({})\n", origin.label()),
        None => format!("  {label:<16}(none)\n"),
    };
    [
        line("token:", Some(&e.token_url), e.origins.token),
        line(
            "revocation:",
            e.revocation_url.as_ref(),
            e.origins.revocation,
        ),
        line(
            "device:",
            e.device_authorization_url.as_ref(),
            e.origins.device_authorization,
        ),
        line("userinfo:", e.userinfo_url.as_ref(), e.origins.userinfo),
        line(
            "authorization:",
            e.authorization_url.as_ref(),
            e.origins.authorization,
        ),
        format!("  (from {})\n", e.source),
    ]
    .concat()
}

/// A duration as a config would write it: whole days as `90d` (humantime would say
/// `2months 29days 13h…`), anything else as humantime writes it.
fn as_written(d: std::time::Duration) -> String {
    match d.as_secs() {
        secs if secs > 0 && secs % 86_400 == 0 => format!("{}d", secs / 86_400),
        _ => humantime::format_duration(d).to_string(),
    }
}
