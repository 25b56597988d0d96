//! `tokdash revoke NAME [--yes]`.

use super::{Context, find_profile, warn_about};
use crate::failure::{CmdResult, Failure};
use std::io::{BufRead, IsTerminal};

pub fn revoke(ctx: &Context, name: &str, yes: bool) -> CmdResult {
    let engine = ctx.engine_for(name)?;
    let profile = find_profile(engine.config(), name)?;
    warn_about(engine.config(), &[name]);
    if !yes
        && !confirm(&format!(
            "Revoke the tokens of {name} at {}? [y/N] ",
            profile.provider.kind().as_str()
        ))?
    {
        return Err(Failure::failed(format!("{name}: not revoked")));
    }
    let outcome = ctx.runtime()?.block_on(engine.revoke(name))?;
    println!(
        "{name}: revoked ({}){}",
        outcome.revoked.join(", "),
        if outcome.already_dead {
            "; the provider says it was already dead"
        } else {
            ""
        }
    );
    Ok(())
}

fn confirm(question: &str) -> Result<bool, Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::usage(
            "revoke asks for confirmation; pass --yes when stdin is not a terminal",
        ));
    }
    eprint!("{question}");
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
