//! `tokdash login NAME --browser` on a terminal: the URL and its QR code, the `ssh -L` line, a
//! local browser opened where there is one, and the pasted address read from stdin. A paste that
//! is not this login's callback is one line on stderr, and the user may paste again; the login
//! goes on until it is finished or its ten minutes are up.

use super::LoginFlags;
use super::login::PromptTo;
use crate::engine::{BrowserEvent, BrowserOptions, BrowserPrompt, Engine, EngineError};
use crate::qr;
use crate::store::TokenRecord;
use std::io::{BufRead, Write};
use std::time::Duration;
use tokio::sync::mpsc;

/// Tests shorten the ten minutes with it (seconds); not documented for users.
const LIMIT_VAR: &str = "TOKDASH_BROWSER_LOGIN_LIMIT";

pub fn run(
    runtime: &tokio::runtime::Runtime,
    engine: &Engine,
    name: &str,
    flags: LoginFlags,
    show_qr: bool,
    to: PromptTo,
) -> Result<TokenRecord, EngineError> {
    let (paste_tx, pasted) = mpsc::unbounded_channel();
    let options = BrowserOptions {
        port: flags.port,
        limit: std::env::var(LIMIT_VAR)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs),
    };
    let open = !flags.no_open && may_open_browser(&|k| std::env::var_os(k));
    let mut reader = Some(paste_tx);
    runtime.block_on(
        engine.browser_login(name, options, pasted, |event| match event {
            BrowserEvent::Prompt(prompt) => {
                let opened = open && open_browser(&prompt.url);
                let _ = show(&mut to.writer(), name, &prompt, show_qr, opened);
                // Read pastes only once the prompt is out: the reader thread blocks on stdin for
                // the rest of the command, and ends with the process.
                if let Some(tx) = reader.take() {
                    std::thread::spawn(move || read_pastes(tx));
                }
            }
            BrowserEvent::Rejected(why) => {
                eprintln!("tokdash: {name}: {why}");
            }
        }),
    )
}

/// One line at a time from stdin; EOF closes the channel (the listener may still finish).
fn read_pastes(tx: mpsc::UnboundedSender<String>) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        if tx.send(line).is_err() {
            break;
        }
    }
}

/// A browser is opened for the user only on this machine's own display: not over SSH (it would
/// open on a screen nobody is looking at, or fail), and only with a display.
pub fn may_open_browser(env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if set("SSH_CONNECTION") || set("SSH_TTY") {
        return false;
    }
    cfg!(target_os = "macos") || set("DISPLAY") || set("WAYLAND_DISPLAY")
}

fn open_browser(url: &str) -> bool {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

fn show(
    out: &mut impl Write,
    name: &str,
    prompt: &BrowserPrompt,
    show_qr: bool,
    opened: bool,
) -> std::io::Result<()> {
    if opened {
        writeln!(
            out,
            "To log in to {name}, finish in the browser just opened, or open:"
        )?;
    } else {
        writeln!(out, "To log in to {name}, open in a browser:")?;
    }
    writeln!(out)?;
    writeln!(out, "{}", prompt.url)?;
    writeln!(out)?;
    if show_qr && let Some(lines) = qr::render(&prompt.url) {
        for line in lines {
            writeln!(out, "    {line}")?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "The browser is sent back to {} when you are done.",
        prompt.redirect_uri
    )?;
    writeln!(
        out,
        "On another machine over SSH, forward the port first:   {}",
        prompt.ssh_forward()
    )?;
    writeln!(
        out,
        "or, if that page fails to load, paste its address here and press Enter (the login gives up in {}):",
        crate::clock::short_duration(prompt.expires_at - crate::clock::now())
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::may_open_browser;
    use std::ffi::OsString;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| {
            vars.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn a_browser_opens_only_on_a_local_display() {
        if cfg!(target_os = "macos") {
            return;
        }
        assert!(may_open_browser(&env(&[("DISPLAY", ":0")])));
        assert!(may_open_browser(&env(&[("WAYLAND_DISPLAY", "wayland-0")])));
        assert!(!may_open_browser(&env(&[])));
        assert!(!may_open_browser(&env(&[
            ("DISPLAY", ":0"),
            ("SSH_CONNECTION", "1.2.3.4 5 6.7.8.9 22")
        ])));
        assert!(!may_open_browser(&env(&[
            ("DISPLAY", ":0"),
            ("SSH_TTY", "/dev/pts/1")
        ])));
    }
}
