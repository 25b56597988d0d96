//! How a command ends badly: one line on stderr and an exit code (SPEC.md "Command line").
//! `1`: the provider or the network refused or failed, or the profile has nothing to act with.
//! `2`: usage, config or store error, including `import` input that is not a token response.

use crate::config::ConfigError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    /// Already in the form `<profile>: <what happened> (...)`, without the `tokdash: ` prefix.
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// An exit code whose reasons were already printed.
    pub fn silent(code: u8) -> Self {
        Failure {
            code,
            message: String::new(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::usage(e.to_string())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::usage(e.to_string())
    }
}

pub type CmdResult = Result<(), Failure>;
