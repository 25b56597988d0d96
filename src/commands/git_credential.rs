//! `tokdash git-credential NAME ACTION`: a git credential helper
//! (`credential.helper = "!tokdash git-credential NAME"`; git appends the action).
//!
//! git writes `key=value` lines on stdin until a blank line or EOF (`protocol`, `host`, `path`,
//! and from git 2.46 `capability[]`, `wwwauth[]`…); unknown attributes are ignored, as
//! gitcredentials(7) asks. `get` answers `username`, `password` (the access token, refreshed first
//! when due) and `password_expiry_utc` (git 2.41+ drops the password then; older gits ignore the
//! line). `store` and `erase`, and any action git may add later, change nothing: the tokens are
//! tokdash's to manage.

use super::{Context, find_profile, warn_about};
use crate::clock;
use crate::failure::{CmdResult, Failure};
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// More than git ever sends for one credential; a larger input is read no further.
const INPUT_LIMIT: u64 = 64 * 1024;

/// The attributes git sent, the last value of each key.
pub fn parse_request(input: impl BufRead) -> HashMap<String, String> {
    let mut attrs = HashMap::new();
    for line in input.take(INPUT_LIMIT).lines() {
        let Ok(line) = line else { break };
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once('=') {
            attrs.insert(key.to_string(), value.to_string());
        }
    }
    attrs
}

pub fn git_credential(
    ctx: &Context,
    name: &str,
    action: &str,
    min_valid: Option<std::time::Duration>,
) -> CmdResult {
    let request = parse_request(std::io::stdin().lock());
    if action != "get" {
        // store, erase: nothing to keep or forget. Other actions are ignored, as git asks.
        return Ok(());
    }
    let engine = ctx.engine_for(name)?;
    let profile = find_profile(engine.config(), name)?;
    let username = profile.git_username.clone();
    warn_about(engine.config(), &[name]);
    refuse_cleartext(name, &request)?;
    let token = ctx
        .runtime()?
        .block_on(engine.access_token_with(name, min_valid))?;
    if let Some(e) = &token.failed_refresh {
        let left = clock::expires_in(token.expires_at, clock::now());
        eprintln!("tokdash: warning: {e}; giving the current access token (expires in {left})");
    }
    let mut answer = format!("username={username}\npassword={}\n", token.token.expose());
    if let Some(at) = token.expires_at {
        answer.push_str(&format!("password_expiry_utc={at}\n"));
    }
    let mut out = std::io::stdout().lock();
    out.write_all(answer.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::failed(format!("{name}: cannot write the credential: {e}")))
}

/// Like `tokdash call`, no token goes over plain `http://` to a host that is not loopback.
fn refuse_cleartext(name: &str, request: &HashMap<String, String>) -> CmdResult {
    if request.get("protocol").map(String::as_str) != Some("http") {
        return Ok(());
    }
    let host = request.get("host").map(String::as_str).unwrap_or_default();
    if is_loopback_host(host) {
        return Ok(());
    }
    Err(Failure::failed(format!(
        "{name}: refusing to give a token for plain http://{host} (not loopback); use https"
    )))
}

/// `127.0.0.1:8080`, `localhost`, `[::1]:443`…: the host part, without its port.
fn is_loopback_host(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_until_a_blank_line_and_ignores_what_it_does_not_know() {
        let input = "capability[]=authtype\nprotocol=https\nhost=git.example.com\nwwwauth[]=Basic realm=\"x\"\nnonsense\n\nafter=blank\n";
        let attrs = parse_request(input.as_bytes());
        assert_eq!(attrs["protocol"], "https");
        assert_eq!(attrs["host"], "git.example.com");
        assert_eq!(attrs["wwwauth[]"], "Basic realm=\"x\"");
        assert!(!attrs.contains_key("after"));
        assert!(parse_request(&b""[..]).is_empty());
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let req = |p: &str, h: &str| {
            HashMap::from([
                ("protocol".to_string(), p.to_string()),
                ("host".to_string(), h.to_string()),
            ])
        };
        assert!(refuse_cleartext("p", &req("http", "127.0.0.1:8080")).is_ok());
        assert!(refuse_cleartext("p", &req("http", "localhost")).is_ok());
        assert!(refuse_cleartext("p", &req("http", "[::1]:80")).is_ok());
        assert!(refuse_cleartext("p", &req("https", "git.example.com")).is_ok());
        assert!(refuse_cleartext("p", &req("http", "git.example.com")).is_err());
        assert!(refuse_cleartext("p", &req("http", "127.0.0.1.evil.com")).is_err());
    }
}
