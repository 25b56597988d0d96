//! Where a client secret comes from. Resolved only when a request needs it, never stored.

use crate::secret::Secret;
use std::process::Command;

#[derive(Debug, Clone)]
pub enum SecretSource {
    /// A public client (`auth_method = "none"`) or no secret configured.
    Absent,
    /// Written in the config file (discouraged).
    Literal(Secret),
    /// Read from this environment variable at the time of the request.
    Env(String),
    /// The first line this program prints (argv, run without a shell).
    Command(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the environment variable {0} that client_secret_env names is not set")]
    EnvMissing(String),
    #[error("client_secret_cmd `{program}` could not run: {reason}")]
    CommandFailed { program: String, reason: String },
}

impl SecretSource {
    pub fn is_configured(&self) -> bool {
        !matches!(self, SecretSource::Absent)
    }

    pub fn describe(&self) -> String {
        match self {
            SecretSource::Absent => "none".into(),
            SecretSource::Literal(_) => "written in the config (client_secret)".into(),
            SecretSource::Env(var) => format!("from ${var}"),
            SecretSource::Command(argv) => format!("from `{}`", argv.join(" ")),
        }
    }

    /// Whether resolving may block (it runs a command); the others only read memory.
    pub fn may_block(&self) -> bool {
        matches!(self, SecretSource::Command(_))
    }

    /// Blocking when [`may_block`](Self::may_block): call it from a blocking context then.
    pub fn resolve(&self) -> Result<Option<Secret>, SecretError> {
        match self {
            SecretSource::Absent => Ok(None),
            SecretSource::Literal(s) => Ok(Some(s.clone())),
            SecretSource::Env(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| Some(Secret::new(v)))
                .ok_or_else(|| SecretError::EnvMissing(var.clone())),
            SecretSource::Command(argv) => run_secret_command(argv).map(Some),
        }
    }
}

fn run_secret_command(argv: &[String]) -> Result<Secret, SecretError> {
    let program = argv.first().cloned().unwrap_or_default();
    let failed = |reason: String| SecretError::CommandFailed {
        program: program.clone(),
        reason,
    };
    let output = Command::new(&program)
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        // Its stderr is not repeated: a password manager may print hints we should not log.
        return Err(failed(format!("it exited with {}", output.status)));
    }
    let text =
        String::from_utf8(output.stdout).map_err(|_| failed("its output is not UTF-8".into()))?;
    let first_line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if first_line.is_empty() {
        return Err(failed("it printed nothing".into()));
    }
    Ok(Secret::new(first_line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_gives_its_first_line() {
        let src = SecretSource::Command(vec!["printf".into(), "s3cret\nsecond\n".into()]);
        assert_eq!(src.resolve().unwrap().unwrap().expose(), "s3cret");
    }

    #[test]
    fn failing_command_is_an_error_without_its_output() {
        let src = SecretSource::Command(vec!["false".into()]);
        let e = src.resolve().unwrap_err().to_string();
        assert!(e.contains("`false`"), "{e}");
    }

    #[test]
    fn missing_env_names_the_variable() {
        let src = SecretSource::Env("TOKDASH_TEST_SURELY_UNSET_VAR".into());
        assert!(
            src.resolve()
                .unwrap_err()
                .to_string()
                .contains("TOKDASH_TEST_SURELY_UNSET_VAR")
        );
    }
}
