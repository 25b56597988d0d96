//! The terminal guard: raw mode and the alternate screen while the dashboard runs, and the
//! terminal given back on every way out. `ratatui::init` installs a panic hook that restores
//! before the panic message prints; `Drop` covers errors and normal exits; signals (SIGTERM,
//! SIGHUP from a dropped SSH session) become a quit message in the runner, so they end here too.

use ratatui::DefaultTerminal;

pub struct TerminalGuard {
    pub terminal: DefaultTerminal,
}

impl TerminalGuard {
    pub fn enter() -> std::io::Result<TerminalGuard> {
        let terminal = ratatui::try_init()?;
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // Best effort: after SIGHUP the terminal may be gone, and then there is nothing to restore.
        let _ = ratatui::try_restore();
        // ratatui's restore leaves the cursor as it was; the shell wants it back.
        let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Show);
    }
}

/// OSC 52: asks the terminal (and tmux, and an SSH client's terminal) to set the clipboard.
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}
