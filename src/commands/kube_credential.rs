//! `tokdash kube-credential NAME`: the kubectl exec credential plugin (`users[].user.exec` in a
//! kubeconfig).
//!
//! kubectl sets `KUBERNETES_EXEC_INFO` (an `ExecCredential` with `spec.interactive`) and reads
//! stdout as one `ExecCredential` of the same `apiVersion`: nothing else may go there. Messages,
//! and an interactive login's prompt, go to stderr, which kubectl shows the user.
//! Without `KUBERNETES_EXEC_INFO` (run by hand; kubectl always sets it) the answer is `v1` and the
//! session counts as not interactive.

use super::{Context, warn_about};
use crate::clock;
use crate::config::KubeToken;
use crate::engine::{AccessToken, Engine, ErrorKind};
use crate::failure::{CmdResult, Failure};
use serde_json::{Value, json};
use std::io::Write;

const EXEC_INFO: &str = "KUBERNETES_EXEC_INFO";
const API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// What kubectl asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct ExecInfo {
    pub api_version: &'static str,
    pub interactive: bool,
}

/// Reads `KUBERNETES_EXEC_INFO`; `None` (unset) means `v1`, not interactive.
pub fn parse_exec_info(text: Option<&str>) -> Result<ExecInfo, String> {
    let Some(text) = text else {
        return Ok(ExecInfo {
            api_version: API_VERSIONS[0],
            interactive: false,
        });
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("{EXEC_INFO} is not JSON ({e})"))?;
    let kind = value.get("kind").and_then(Value::as_str);
    if kind != Some("ExecCredential") {
        return Err(format!(
            "{EXEC_INFO} is not an ExecCredential (kind {})",
            kind.map_or("missing".to_string(), |k| format!("`{k}`"))
        ));
    }
    let asked = value.get("apiVersion").and_then(Value::as_str);
    let api_version = API_VERSIONS
        .into_iter()
        .find(|v| Some(*v) == asked)
        .ok_or_else(|| {
            format!(
                "{EXEC_INFO} has apiVersion {}; tokdash answers {} or {}",
                asked.map_or("missing".to_string(), |a| format!("`{a}`")),
                API_VERSIONS[0],
                API_VERSIONS[1]
            )
        })?;
    let interactive = match value.pointer("/spec/interactive") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(format!(
                "{EXEC_INFO} has a spec.interactive that is not true or false"
            ));
        }
    };
    Ok(ExecInfo {
        api_version,
        interactive,
    })
}

pub fn kube_credential(
    ctx: &Context,
    name: &str,
    min_valid: Option<std::time::Duration>,
) -> CmdResult {
    let raw = std::env::var(EXEC_INFO).ok();
    let info =
        parse_exec_info(raw.as_deref()).map_err(|e| Failure::usage(format!("{name}: {e}")))?;
    let engine = ctx.engine_for(name)?;
    warn_about(engine.config(), &[name]);
    let rt = ctx.runtime()?;
    let token = match rt.block_on(token_for_kube(&engine, name, min_valid)) {
        Ok(token) => token,
        Err(e) if matches!(e.kind, ErrorKind::NeedsLogin | ErrorKind::NothingToActWith) => {
            if !info.interactive {
                // The engine's hint already says `run: tokdash login NAME`.
                return Err(e.into());
            }
            eprintln!("tokdash: {e}");
            // By the profile's login method: a browser profile's address may be pasted on
            // stdin, which kubectl hands to an interactive plugin.
            let flags = super::login::LoginFlags::default();
            super::login::run(&rt, &engine, name, flags, super::login::PromptTo::Stderr)?;
            eprintln!("tokdash: {name}: logged in");
            rt.block_on(token_for_kube(&engine, name, min_valid))?
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(e) = &token.failed_refresh {
        let left = clock::expires_in(token.expires_at, clock::now());
        eprintln!("tokdash: warning: {e}; giving the current token (expires in {left})");
    }
    let mut status = json!({ "token": token.token.expose() });
    if let Some(at) = token.expires_at {
        status["expirationTimestamp"] = json!(clock::rfc3339(at));
    }
    let answer = json!({
        "kind": "ExecCredential",
        "apiVersion": info.api_version,
        "status": status,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{answer}")
        .map_err(|e| Failure::failed(format!("{name}: cannot write the credential: {e}")))
}

/// The token kubectl is given: `kube_token`, or the id token when the record holds one.
async fn token_for_kube(
    engine: &Engine,
    name: &str,
    min_valid: Option<std::time::Duration>,
) -> Result<AccessToken, crate::engine::EngineError> {
    let choice = match engine.profile(name)?.kube_token {
        Some(choice) => choice,
        None => match engine.load(name).await? {
            Some(r) if r.id_token.is_some() => KubeToken::IdToken,
            _ => KubeToken::AccessToken,
        },
    };
    match choice {
        KubeToken::IdToken => engine.id_token_with(name, min_valid).await,
        KubeToken::AccessToken => engine.access_token_with(name, min_valid).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_info_both_versions_and_interactive() {
        for v in API_VERSIONS {
            let text = format!(
                r#"{{"kind":"ExecCredential","apiVersion":"{v}","spec":{{"interactive":true}}}}"#
            );
            assert_eq!(
                parse_exec_info(Some(&text)),
                Ok(ExecInfo {
                    api_version: v,
                    interactive: true
                })
            );
        }
        assert_eq!(parse_exec_info(None).unwrap().api_version, API_VERSIONS[0]);
        assert!(!parse_exec_info(None).unwrap().interactive);
    }

    #[test]
    fn malformed_exec_info_is_refused() {
        for bad in [
            "",
            "not json",
            "[]",
            r#"{"kind":"Foo","apiVersion":"client.authentication.k8s.io/v1"}"#,
            r#"{"apiVersion":"client.authentication.k8s.io/v1"}"#,
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1alpha1"}"#,
            r#"{"kind":"ExecCredential"}"#,
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"yes"}}"#,
        ] {
            let e = parse_exec_info(Some(bad)).expect_err(bad);
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
