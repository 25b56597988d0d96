//! `tokdash login NAME`: the device flow, or the browser login (see `browser_login.rs` for how
//! it is shown and finished on a terminal), for a shell over SSH.

use super::{Context, find_profile};
use crate::clock;
use crate::config::LoginMethod;
use crate::engine::{Engine, EngineError, LoginPrompt};
use crate::failure::CmdResult;
use crate::qr;
use crate::store::TokenRecord;
use std::io::Write;

/// The command line's say in the login.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoginFlags {
    /// `--device` / `--browser`.
    pub method: Option<LoginMethod>,
    pub port: Option<u16>,
    pub no_open: bool,
}

pub fn login(ctx: &Context, name: &str, flags: LoginFlags) -> CmdResult {
    let engine = ctx.engine()?;
    find_profile(engine.config(), name)?;
    super::warn_about(engine.config(), &[name]);
    let runtime = ctx.runtime()?;
    let record = run(&runtime, &engine, name, flags, PromptTo::Stdout)?;
    println!(
        "{name}: logged in; expires in {}, {} refresh token",
        clock::expires_in(record.expires_at, clock::now()),
        if record.has_refresh_token() {
            "with a"
        } else {
            "no"
        }
    );
    Ok(())
}

/// Where a login's prompt goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptTo {
    /// `tokdash login`: the terminal.
    Stdout,
    /// A command whose stdout belongs to another program (`kube-credential`: kubectl reads
    /// stdout; stderr reaches the user). No QR code there.
    Stderr,
}

impl PromptTo {
    pub fn writer(self) -> Box<dyn Write> {
        match self {
            PromptTo::Stdout => Box::new(std::io::stdout().lock()),
            PromptTo::Stderr => Box::new(std::io::stderr().lock()),
        }
    }
}

/// Logs in by the profile's method (or the flags'): the device flow, or the browser login with
/// its pasted address read from stdin.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    engine: &Engine,
    name: &str,
    flags: LoginFlags,
    to: PromptTo,
) -> Result<TokenRecord, EngineError> {
    let method = runtime.block_on(engine.login_method(name, flags.method))?;
    let show_qr = to == PromptTo::Stdout && terminal_width().is_some_and(|w| w >= 60);
    match method {
        LoginMethod::Device => runtime.block_on(engine.login(name, |prompt| {
            let _ = show_prompt(&mut to.writer(), name, &prompt, show_qr);
        })),
        LoginMethod::Browser => {
            super::browser_login::run(runtime, engine, name, flags, show_qr, to)
        }
    }
}

/// The terminal's width when stdout is one; a QR code is only printed where it fits.
fn terminal_width() -> Option<u16> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size().ok().map(|(w, _)| w)
}

/// What the user needs to approve the login: the URL, the code, and the QR code where it fits.
fn show_prompt(
    out: &mut impl Write,
    name: &str,
    prompt: &LoginPrompt,
    show_qr: bool,
) -> std::io::Result<()> {
    writeln!(
        out,
        "To log in to {name}, open on any device with a browser:"
    )?;
    writeln!(out)?;
    writeln!(out, "    {}", prompt.verification_uri)?;
    writeln!(out)?;
    writeln!(out, "and enter the code:  {}", prompt.user_code)?;
    if let Some(complete) = &prompt.verification_uri_complete {
        writeln!(out, "(or open {complete})")?;
    }
    if let Some(message) = &prompt.message {
        writeln!(out, "{message}")?;
    }
    if show_qr {
        let target = prompt
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&prompt.verification_uri);
        if let Some(lines) = qr::render(target) {
            writeln!(out)?;
            for line in lines {
                writeln!(out, "    {line}")?;
            }
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "Waiting for approval (the code expires in {})…",
        clock::short_duration(prompt.expires_at - clock::now())
    )?;
    out.flush()
}
