//! `tokdash completions bash|zsh|fish`: clap_complete's static script for the commands and
//! flags, and a small shell function that completes profile names from the hidden
//! `tokdash _names` (clap_complete's dynamic completion is still unstable). Which commands take
//! a profile, and which flags take a value, is read from the command line's own definition, so a
//! new command with a `name` argument is completed without a change here.

use super::Context;
use crate::failure::{CmdResult, Failure};
use clap::CommandFactory;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

pub fn completions(shell: CompletionShell) -> CmdResult {
    let text = script(shell);
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(|e| Failure::failed(format!("completions: cannot write: {e}")))
}

/// `tokdash _names`: the config's profile names, one a line, for the completion scripts.
pub fn names(ctx: &Context) -> CmdResult {
    let config = ctx.config()?;
    let mut out = std::io::stdout().lock();
    for name in config.names() {
        writeln!(out, "{name}").map_err(|e| Failure::failed(format!("_names: {e}")))?;
    }
    Ok(())
}

/// The whole script for `shell`.
pub fn script(shell: CompletionShell) -> String {
    let mut cli = crate::cli::Cli::command();
    let mut generated = Vec::new();
    let target = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(target, &mut cli, "tokdash", &mut generated);
    let generated = String::from_utf8_lossy(&generated).into_owned();
    let takes = profile_commands(&cli);
    match shell {
        CompletionShell::Bash => format!("{generated}\n{}", bash_names(&cli, &takes)),
        CompletionShell::Zsh => zsh_with_names(&generated),
        CompletionShell::Fish => format!("{generated}\n{}", fish_names(&takes)),
    }
}

/// A command's arguments that name profiles: `name` (one) or `names` (several).
#[derive(Debug)]
struct Takes {
    command: String,
    many: bool,
}

fn profile_commands(cli: &clap::Command) -> Vec<Takes> {
    cli.get_subcommands()
        .filter(|c| !c.is_hide_set())
        .filter_map(|c| {
            c.get_positionals()
                .find_map(|a| match a.get_id().as_str() {
                    "name" => Some(false),
                    "names" => Some(true),
                    _ => None,
                })
                .map(|many| Takes {
                    command: c.get_name().to_string(),
                    many,
                })
        })
        .collect()
}

/// Every flag that takes a value, in any command (`--format`, `-X`…), as a bash `case` pattern:
/// the word after it is that value, not a positional argument.
fn value_flags(cli: &clap::Command) -> String {
    let mut flags: Vec<String> = Vec::new();
    let commands = std::iter::once(cli).chain(cli.get_subcommands());
    for command in commands {
        for arg in command.get_arguments() {
            if arg.is_positional() || !arg.get_action().takes_values() {
                continue;
            }
            if let Some(long) = arg.get_long() {
                flags.push(format!("--{long}"));
            }
            if let Some(short) = arg.get_short() {
                flags.push(format!("-{short}"));
            }
        }
    }
    flags.sort();
    flags.dedup();
    flags.join("|")
}

fn bash_names(cli: &clap::Command, takes: &[Takes]) -> String {
    let one: Vec<&str> = takes
        .iter()
        .filter(|t| !t.many)
        .map(|t| t.command.as_str())
        .collect();
    let many: Vec<&str> = takes
        .iter()
        .filter(|t| t.many)
        .map(|t| t.command.as_str())
        .collect();
    // `case` needs at least one pattern per arm. The loop below ends past COMP_CWORD when the
    // word being completed is a flag's value, or before it after `--`: no names then.
    let or_none = |v: Vec<&str>| {
        if v.is_empty() {
            "_tokdash_no_such_command_".to_string()
        } else {
            v.join("|")
        }
    };
    format!(
        r#"# Profile names, from `tokdash _names` (the config's names; --config on the line is used).
_tokdash_with_names() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    local i word sub="" npos=0 config=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$word" in
            --) break ;;
            --config) config=(--config "${{COMP_WORDS[i+1]}}"); ((i++)); continue ;;
            {value_flags}) ((i++)); continue ;;
            -*) continue ;;
        esac
        if [[ -z "$sub" ]]; then sub="$word"; else ((npos++)); fi
    done
    if [[ "$cur" != -* && $i -eq COMP_CWORD ]]; then
        case "$sub" in
            {one}) if [[ $npos -eq 0 ]]; then
                    COMPREPLY=($(compgen -W "$(tokdash "${{config[@]}}" _names 2>/dev/null)" -- "$cur"))
                    return 0
                fi ;;
            {many})
                COMPREPLY=($(compgen -W "$(tokdash "${{config[@]}}" _names 2>/dev/null)" -- "$cur"))
                return 0 ;;
        esac
    fi
    _tokdash "$@"
}}
complete -F _tokdash_with_names -o bashdefault -o default tokdash
"#,
        value_flags = value_flags(cli),
        one = or_none(one),
        many = or_none(many),
    )
}

/// clap_complete's zsh script completes a `name` argument with `_default`; here it completes
/// with the profile names, from a function defined before the script may call `_tokdash`.
fn zsh_with_names(generated: &str) -> String {
    let helper = r#"
_tokdash_names() {
    local -a names
    names=(${(f)"$(tokdash _names 2>/dev/null)"})
    _describe -t profiles 'profile' names
}
"#;
    let mut out = String::new();
    for (i, line) in generated.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("':name") || trimmed.starts_with("'*::names") {
            out.push_str(&line.replacen(":_default'", ":_tokdash_names'", 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
        if i == 0 {
            out.push_str(helper);
        }
    }
    out
}

fn fish_names(takes: &[Takes]) -> String {
    let commands: Vec<&str> = takes.iter().map(|t| t.command.as_str()).collect();
    format!(
        "# Profile names, from `tokdash _names`.\ncomplete -c tokdash -n \"__fish_seen_subcommand_from {}\" -a \"(tokdash _names 2>/dev/null)\" -d profile\n",
        commands.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_that_takes_a_profile_is_found() {
        let cli = crate::cli::Cli::command();
        let found: Vec<String> = profile_commands(&cli)
            .into_iter()
            .map(|t| t.command)
            .collect();
        for command in [
            "token", "refresh", "revoke", "login", "import", "check", "exec", "call",
        ] {
            assert!(found.iter().any(|c| c == command), "{command}: {found:?}");
        }
        assert!(!found.iter().any(|c| c == "list"), "{found:?}");
    }

    #[test]
    fn zsh_completes_names_with_the_helper() {
        let text = script(CompletionShell::Zsh);
        assert!(text.starts_with("#compdef tokdash\n"), "{text}");
        assert!(text.contains(":_tokdash_names'"), "{text}");
        assert!(!text.contains("':name:_default'"), "{text}");
    }
}
