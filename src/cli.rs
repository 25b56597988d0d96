//! The command line (clap derive) and the dispatch to one function per subcommand.

use crate::commands;
use crate::failure::CmdResult;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tokdash",
    version,
    about = "A terminal dashboard for OAuth 2.0 tokens"
)]
pub struct Cli {
    /// Config file [default: <config dir>/profiles.toml]
    #[arg(long, global = true, env = "TOKDASH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Token store directory [default: <data dir>/tokens]
    #[arg(long, global = true, env = "TOKDASH_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The dashboard on an embedded loopback token server with sample profiles
    Demo,
    /// List profiles with their status
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print a valid access token, refreshing first if needed; stdout holds the token only
    Token {
        name: String,
        /// Refresh first when less than this is left (instead of the refresh_ahead rule)
        #[arg(long, value_parser = crate::config::parse_duration, value_name = "D")]
        min_valid: Option<std::time::Duration>,
        /// bare: the token alone; header: `Authorization: Bearer <token>`; json: with its expiry
        #[arg(long, value_enum, default_value_t = commands::TokenFormat::Bare)]
        format: commands::TokenFormat,
    },
    /// What needs a person: needs_login, revoked, error, or a login ending soon (exit 1 if any)
    Health {
        /// A login ending within this needs a person (default: settings.login_warning)
        #[arg(long, value_parser = crate::config::parse_duration)]
        within: Option<std::time::Duration>,
        #[arg(long)]
        json: bool,
    },
    /// Refresh profiles now
    Refresh {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        names: Vec<String>,
        /// Every profile whose access token is due (expired, missing, or within its refresh margin)
        #[arg(long)]
        all: bool,
        /// With --all: every profile, due or not
        #[arg(long, requires = "all")]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a profile's tokens at the provider
    Revoke {
        name: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Refresh every profile ahead of expiry without a terminal (the dashboard's auto-refresh,
    /// token files and hooks), until SIGTERM or SIGINT; one line per event on stderr
    Agent,
    /// Log in: the device authorization grant (RFC 8628), or the authorization code grant with
    /// PKCE in a browser, finished through a loopback listener (also over `ssh -L`) or by pasting
    /// the address the browser ended on
    Login {
        name: String,
        /// The device flow, whatever the profile's `login` says
        #[arg(long, conflicts_with = "browser")]
        device: bool,
        /// The browser login (authorization code with PKCE), whatever the profile's `login` says
        #[arg(long)]
        browser: bool,
        /// The browser login listens on this loopback port (for `ssh -L PORT:127.0.0.1:PORT`)
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
        /// Do not open a browser on this machine; print the URL only
        #[arg(long)]
        no_open: bool,
    },
    /// Store a token endpoint response (JSON) read from stdin
    Import { name: String },
    /// Call the userinfo URL with the access token; on 401 refresh once and retry
    Check { name: String },
    /// Run a program (no shell) with the access token in its environment; exit as it did
    #[command(
        after_help = "The program's exit status is tokdash's: 127 when it is not found, 126 when it cannot be run, 128+N when signal N ended it (as shells report it)."
    )]
    Exec {
        name: String,
        /// The environment variable that holds the token
        #[arg(long = "env", value_name = "VAR", default_value = commands::EXEC_DEFAULT_VAR)]
        var: String,
        /// Refresh first when less than this is left (instead of the refresh_ahead rule)
        #[arg(long, value_parser = crate::config::parse_duration, value_name = "D")]
        min_valid: Option<std::time::Duration>,
        /// The program and its arguments, after `--`
        #[arg(last = true, required = true, value_name = "PROGRAM")]
        command: Vec<std::ffi::OsString>,
    },
    /// Send an API request with the access token; on 401 refresh once and send it again
    #[command(
        after_help = "The response body goes to stdout. Exit 0 on 2xx, 1 otherwise (the status on stderr). Plain http:// only to loopback; redirects are not followed (a 3xx is the answer), so the token never goes to another origin."
    )]
    Call {
        name: String,
        #[command(flatten)]
        request: commands::CallArgs,
    },
    /// Print shell completions (profile names included) for bash, zsh or fish
    #[command(
        after_help = "bash: tokdash completions bash > ~/.local/share/bash-completion/completions/tokdash\nzsh:  tokdash completions zsh > \"${fpath[1]}/_tokdash\"\nfish: tokdash completions fish > ~/.config/fish/completions/tokdash.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: commands::CompletionShell,
    },
    /// The profile names, one a line (for the completion scripts)
    #[command(name = "_names", hide = true)]
    Names,
    /// kubectl exec credential plugin: an ExecCredential on stdout (KUBERNETES_EXEC_INFO says
    /// which apiVersion and whether a login may run)
    KubeCredential {
        name: String,
        /// Refresh first when less than this is left of the token given (instead of the
        /// refresh_ahead rule)
        #[arg(long, value_parser = crate::config::parse_duration, value_name = "D")]
        min_valid: Option<std::time::Duration>,
    },
    /// git credential helper: credential.helper = "!tokdash git-credential NAME"
    GitCredential {
        name: String,
        /// get (answers username, password, password_expiry_utc); store and erase change nothing
        action: String,
        /// Refresh first when less than this is left (instead of the refresh_ahead rule)
        #[arg(long, value_parser = crate::config::parse_duration, value_name = "D")]
        min_valid: Option<std::time::Duration>,
    },
    /// Config commands
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Team store commands
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy local records into the team store of [store], each under its lease; a profile whose
    /// team record is as new or newer is skipped (one line per profile)
    Migrate {
        /// The local store to copy from (e.g. ~/.local/share/tokdash/tokens)
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Only these profiles [default: every record in DIR]
        names: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config and print each profile's endpoints
    Check,
    /// Write a commented starter config with one profile to the config path (never over an
    /// existing file), and say what to fill in
    Init {
        /// The starter profile's provider
        #[arg(long, value_enum, default_value_t = commands::StarterProvider::Oidc)]
        provider: commands::StarterProvider,
    },
}

pub fn run(cli: Cli) -> CmdResult {
    if let Some(Command::Demo) = cli.command {
        // The demo touches no user file, not even the log.
        return commands::demo();
    }
    if let Some(Command::Completions { shell }) = cli.command {
        // Needs no config, store or log.
        return commands::completions(shell);
    }
    if let Some(Command::Config(ConfigCommand::Init { provider })) = cli.command {
        // Writes the config: there is none to read yet, and no store or log is needed.
        return commands::config_init(cli.config.as_deref(), provider);
    }
    // The dashboard and the agent run for hours and must never wait on the disk; a command's
    // log lines are written as they come.
    let log_writes = match cli.command {
        None | Some(Command::Agent) => crate::logging::LogWrites::Background,
        Some(_) => crate::logging::LogWrites::Direct,
    };
    let ctx = commands::Context::new(cli.config.as_deref(), cli.store.as_deref(), log_writes)?;
    let result = dispatch(&ctx, cli.command);
    if let Err(f) = &result
        && !f.message.is_empty()
    {
        tracing::warn!(code = f.code, "{}", f.message);
    }
    result
}

fn dispatch(ctx: &commands::Context, command: Option<Command>) -> CmdResult {
    match command {
        None => commands::dashboard(ctx),
        Some(Command::Demo) => commands::demo(),
        Some(Command::List { json }) => commands::list(ctx, json),
        Some(Command::Health { within, json }) => commands::health(ctx, within, json),
        Some(Command::Token {
            name,
            min_valid,
            format,
        }) => commands::token(ctx, &name, min_valid, format),
        Some(Command::Refresh {
            names,
            all,
            force,
            json,
        }) => commands::refresh(ctx, &names, all, force, json),
        Some(Command::Revoke { name, yes }) => commands::revoke(ctx, &name, yes),
        Some(Command::Agent) => commands::agent(ctx),
        Some(Command::Login {
            name,
            device,
            browser,
            port,
            no_open,
        }) => {
            let method = match (device, browser) {
                (true, _) => Some(crate::config::LoginMethod::Device),
                (_, true) => Some(crate::config::LoginMethod::Browser),
                _ => None,
            };
            commands::login(
                ctx,
                &name,
                commands::LoginFlags {
                    method,
                    port,
                    no_open,
                },
            )
        }
        Some(Command::Import { name }) => commands::import(ctx, &name),
        Some(Command::Check { name }) => commands::check(ctx, &name),
        Some(Command::Exec {
            name,
            var,
            min_valid,
            command,
        }) => commands::exec(ctx, &name, &var, min_valid, &command),
        Some(Command::Call { name, request }) => commands::call(ctx, &name, request),
        Some(Command::Completions { shell }) => commands::completions(shell),
        Some(Command::Names) => commands::names(ctx),
        Some(Command::KubeCredential { name, min_valid }) => {
            commands::kube_credential(ctx, &name, min_valid)
        }
        Some(Command::GitCredential {
            name,
            action,
            min_valid,
        }) => commands::git_credential(ctx, &name, &action, min_valid),
        Some(Command::Config(ConfigCommand::Check)) => commands::config_check(ctx),
        Some(Command::Config(ConfigCommand::Init { provider })) => {
            commands::config_init(Some(&ctx.paths.config), provider)
        }
        Some(Command::Store(StoreCommand::Migrate { from, names })) => {
            commands::store_migrate(ctx, &from, &names)
        }
    }
}
