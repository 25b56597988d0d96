//! `tokdash login NAME`: the device flow on the command line, for a shell over SSH.

use super::{Context, find_profile};
use crate::clock;
use crate::failure::CmdResult;
use crate::qr;

pub fn login(ctx: &Context, name: &str) -> CmdResult {
    let engine = ctx.engine()?;
    find_profile(engine.config(), name)?;
    super::warn_about(engine.config(), &[name]);
    let show_qr = terminal_width().is_some_and(|w| w >= 60);
    let record = ctx.runtime()?.block_on(engine.login(name, |prompt| {
        println!("To log in to {name}, open on any device with a browser:");
        println!();
        println!("    {}", prompt.verification_uri);
        println!();
        println!("and enter the code:  {}", prompt.user_code);
        if let Some(complete) = &prompt.verification_uri_complete {
            println!("(or open {complete})");
        }
        if let Some(message) = &prompt.message {
            println!("{message}");
        }
        if show_qr {
            let target = prompt
                .verification_uri_complete
                .as_deref()
                .unwrap_or(&prompt.verification_uri);
            if let Some(lines) = qr::render(target) {
                println!();
                for line in lines {
                    println!("    {line}");
                }
            }
        }
        println!();
        println!(
            "Waiting for approval (the code expires in {})…",
            clock::short_duration(prompt.expires_at - clock::now())
        );
    }))?;
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

/// The terminal's width when stdout is one; a QR code is only printed where it fits.
fn terminal_width() -> Option<u16> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size().ok().map(|(w, _)| w)
}
