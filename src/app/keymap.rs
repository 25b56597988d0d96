//! Keys to actions: one table, [`BINDINGS`], read by `update` (which key does what, in which
//! mode), by the help popup, the footer and the details pane's hint (how the keys are written).
//! A new key is one entry here and one arm in `update::keys::on_action`.

use super::state::Mode;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for. The mode decides: `Enter` opens the details in the table and closes
/// them in the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Move(Move),
    OpenDetails,
    CloseDetails,
    Reveal,
    Refresh,
    RefreshAll,
    /// Asks for a confirmation first.
    Revoke,
    Login,
    Copy,
    ToggleAutoRefresh,
    StartFilter,
    /// Clears the filter and returns to the table.
    ClearFilter,
    /// Leaves the filter as typed and returns to the table.
    KeepFilter,
    FilterType(char),
    FilterBackspace,
    ToggleLog,
    Help,
    CloseHelp,
    ConfirmRevoke,
    KeepTokens,
    CancelLogin,
    PasteType(char),
    PasteBackspace,
    PasteSubmit,
    Quit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    Top,
    Bottom,
    PageUp,
    PageDown,
}

/// Where a binding applies. The details pane also takes the table's keys, after its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Every mode, before anything else.
    Global,
    Table,
    Details,
    Filter,
    ConfirmRevoke,
    Help,
    Login,
    BrowserLogin,
}

impl Context {
    /// The contexts to look in, in order, for a key pressed in `mode`.
    fn lookup(mode: &Mode) -> &'static [Context] {
        match mode {
            Mode::Table => &[Context::Global, Context::Table],
            Mode::Details => &[Context::Global, Context::Details, Context::Table],
            Mode::Filter => &[Context::Global, Context::Filter],
            Mode::ConfirmRevoke { .. } => &[Context::Global, Context::ConfirmRevoke],
            Mode::Help => &[Context::Global, Context::Help],
            Mode::Login { .. } => &[Context::Global, Context::Login],
            Mode::BrowserLogin { .. } => &[Context::Global, Context::BrowserLogin],
        }
    }
}

/// Which key presses a binding takes. Letters match whatever the modifiers (a `G` comes with
/// Shift), except for `Ctrl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Is(KeyCode),
    Ctrl(char),
    /// Any character (the filter's text): the action gets it.
    AnyChar,
    /// Any key at all.
    Any,
}

impl Key {
    fn matches(self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Key::Is(code) => key.code == code,
            Key::Ctrl(c) => ctrl && key.code == KeyCode::Char(c),
            Key::AnyChar => matches!(key.code, KeyCode::Char(_)),
            Key::Any => true,
        }
    }
}

/// A key and a word for it, as the footer and the details hint write them (`r refresh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub keys: &'static str,
    pub word: &'static str,
}

/// One thing the user can do: the keys that do it and how the screen names them.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub context: Context,
    pub keys: &'static [(Key, Action)],
    /// The help popup's line: the keys as written, and what they do (`None`: not in the help).
    pub help: Option<(&'static str, &'static str)>,
    /// In the footer, when the terminal is wide enough for all of them.
    pub footer: &'static [Hint],
    /// In the footer of a narrow terminal.
    pub narrow: Option<Hint>,
    /// In the hint at the bottom of the details pane.
    pub details: Option<Hint>,
}

const fn bind(context: Context, keys: &'static [(Key, Action)]) -> Binding {
    Binding {
        context,
        keys,
        help: None,
        footer: &[],
        narrow: None,
        details: None,
    }
}

const fn hint(keys: &'static str, word: &'static str) -> Hint {
    Hint { keys, word }
}

impl Binding {
    const fn help(mut self, keys: &'static str, what: &'static str) -> Binding {
        self.help = Some((keys, what));
        self
    }

    const fn footer(mut self, hints: &'static [Hint]) -> Binding {
        self.footer = hints;
        self
    }

    const fn narrow(mut self, hint: Hint) -> Binding {
        self.narrow = Some(hint);
        self
    }

    const fn details(mut self, hint: Hint) -> Binding {
        self.details = Some(hint);
        self
    }
}

const fn ch(c: char) -> Key {
    Key::Is(KeyCode::Char(c))
}

const fn code(code: KeyCode) -> Key {
    Key::Is(code)
}

use Action as A;
use Context as C;

/// Every key of the dashboard, in the order the help and the footer show them.
pub const BINDINGS: &[Binding] = &[
    bind(C::Global, &[(Key::Ctrl('c'), A::Quit)]),
    // The details pane's own keys come before the table's, which it also takes.
    bind(
        C::Details,
        &[
            (code(KeyCode::Esc), A::CloseDetails),
            (code(KeyCode::Enter), A::CloseDetails),
        ],
    )
    .details(hint("Esc", "close")),
    bind(
        C::Table,
        &[
            (code(KeyCode::Up), A::Move(Move::Up)),
            (ch('k'), A::Move(Move::Up)),
            (code(KeyCode::Down), A::Move(Move::Down)),
            (ch('j'), A::Move(Move::Down)),
            (ch('g'), A::Move(Move::Top)),
            (code(KeyCode::Home), A::Move(Move::Top)),
            (ch('G'), A::Move(Move::Bottom)),
            (code(KeyCode::End), A::Move(Move::Bottom)),
            (code(KeyCode::PageUp), A::Move(Move::PageUp)),
            (code(KeyCode::PageDown), A::Move(Move::PageDown)),
        ],
    )
    .help("↑ ↓ j k g G PgUp PgDn", "move")
    .footer(&[hint("↑↓", "move")]),
    bind(C::Table, &[(code(KeyCode::Enter), A::OpenDetails)])
        .help("Enter", "details of the selected profile")
        .footer(&[hint("⏎", "details")])
        .narrow(hint("⏎", "details")),
    bind(C::Table, &[(ch('r'), A::Refresh), (ch('R'), A::RefreshAll)])
        .help("r / R", "refresh the selected profile / all profiles")
        .footer(&[hint("r", "refresh"), hint("R", "all")])
        .narrow(hint("r/R", "refresh"))
        .details(hint("r", "refresh")),
    bind(C::Table, &[(ch('x'), A::Revoke)])
        .help("x", "revoke the selected profile's tokens (asks y/n)")
        .footer(&[hint("x", "revoke")])
        .narrow(hint("x", "revoke"))
        .details(hint("x", "revoke")),
    bind(C::Table, &[(ch('l'), A::Login)])
        .help("l", "log in: device flow, or browser")
        .footer(&[hint("l", "login")])
        .narrow(hint("l", "login")),
    bind(C::Table, &[(ch('c'), A::Copy)])
        .help("c", "copy the access token (OSC 52, works over SSH)")
        .footer(&[hint("c", "copy")])
        .narrow(hint("c", "copy"))
        .details(hint("c", "copy")),
    bind(C::Table, &[(ch('v'), A::Reveal)])
        .help("v", "reveal / mask the token in the details")
        .details(hint("v", "reveal/mask")),
    bind(C::Table, &[(ch('a'), A::ToggleAutoRefresh)])
        .help("a", "auto-refresh on / off")
        .footer(&[hint("a", "auto")]),
    bind(C::Table, &[(ch('/'), A::StartFilter)])
        .help("/", "filter as you type; Enter keeps, Esc clears")
        .footer(&[hint("/", "filter")])
        .narrow(hint("/", "filter")),
    // Esc in the table clears a filter kept with Enter (the footer says so while one is kept).
    bind(C::Table, &[(code(KeyCode::Esc), A::ClearFilter)]),
    bind(C::Table, &[(ch('L'), A::ToggleLog)])
        .help("L", "event log on / off")
        .footer(&[hint("L", "log")]),
    bind(C::Table, &[(ch('?'), A::Help)])
        .help("?", "this help")
        .footer(&[hint("?", "help")])
        .narrow(hint("?", "help")),
    bind(C::Table, &[(ch('q'), A::Quit)])
        .help("q  Ctrl-C", "quit")
        .footer(&[hint("q", "quit")])
        .narrow(hint("q", "quit")),
    bind(
        C::Filter,
        &[
            (code(KeyCode::Enter), A::KeepFilter),
            (code(KeyCode::Esc), A::ClearFilter),
            (code(KeyCode::Backspace), A::FilterBackspace),
            (Key::AnyChar, A::FilterType(' ')),
        ],
    )
    .footer(&[hint("⏎", "keep"), hint("Esc", "clear")]),
    bind(
        C::ConfirmRevoke,
        &[
            (ch('y'), A::ConfirmRevoke),
            (ch('Y'), A::ConfirmRevoke),
            (Key::Any, A::KeepTokens),
        ],
    ),
    // Any key closes the help; q also quits.
    bind(C::Help, &[(ch('q'), A::Quit), (Key::Any, A::CloseHelp)]),
    bind(
        C::Login,
        &[
            (code(KeyCode::Esc), A::CancelLogin),
            (ch('q'), A::CancelLogin),
        ],
    ),
    // Every character goes into the field for the pasted address, `q` included.
    bind(
        C::BrowserLogin,
        &[
            (code(KeyCode::Esc), A::CancelLogin),
            (code(KeyCode::Enter), A::PasteSubmit),
            (code(KeyCode::Backspace), A::PasteBackspace),
            (Key::AnyChar, A::PasteType(' ')),
        ],
    ),
];

/// What `key` does in `mode`, if anything.
pub fn action(mode: &Mode, key: &KeyEvent) -> Option<Action> {
    for &context in Context::lookup(mode) {
        for binding in BINDINGS.iter().filter(|b| b.context == context) {
            if let Some(&(_, action)) = binding.keys.iter().find(|(k, _)| k.matches(key)) {
                return Some(match (action, key.code) {
                    (A::FilterType(_), KeyCode::Char(c)) => A::FilterType(c),
                    (A::PasteType(_), KeyCode::Char(c)) => A::PasteType(c),
                    _ => action,
                });
            }
        }
    }
    None
}

/// The help popup's lines: keys as written, and what they do.
pub fn help_lines() -> impl Iterator<Item = (&'static str, &'static str)> {
    BINDINGS.iter().filter_map(|b| b.help)
}

/// The hints of `context` as one line (`r refresh  R all  …`), each binding's from `pick`.
fn hints<I: IntoIterator<Item = &'static Hint>>(
    context: Context,
    pick: impl Fn(&'static Binding) -> I,
) -> String {
    BINDINGS
        .iter()
        .filter(|b| b.context == context)
        .flat_map(pick)
        .map(|h| format!("{} {}", h.keys, h.word))
        .collect::<Vec<_>>()
        .join("  ")
}

/// The footer's keys: all of them when they fit in `width`, else the essential ones.
pub fn footer_keys(width: u16) -> String {
    let wide = hints(Context::Table, |b| b.footer);
    if (width as usize) < wide.chars().count() {
        hints(Context::Table, |b| b.narrow.as_ref())
    } else {
        wide
    }
}

/// The footer while typing a filter.
pub fn filter_keys() -> String {
    hints(Context::Filter, |b| b.footer)
}

/// The hint at the bottom of the details pane: its own keys, then the table's it takes.
pub fn details_keys() -> String {
    [Context::Details, Context::Table]
        .into_iter()
        .map(|c| hints(c, |b| b.details.as_ref()))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(mode: &Mode, code: KeyCode) -> Option<Action> {
        action(mode, &KeyEvent::from(code))
    }

    #[test]
    fn the_mode_decides_what_a_key_does() {
        assert_eq!(press(&Mode::Table, KeyCode::Enter), Some(A::OpenDetails));
        assert_eq!(press(&Mode::Details, KeyCode::Enter), Some(A::CloseDetails));
        assert_eq!(press(&Mode::Details, KeyCode::Char('r')), Some(A::Refresh));
        assert_eq!(
            press(&Mode::Filter, KeyCode::Char('r')),
            Some(A::FilterType('r'))
        );
        assert_eq!(press(&Mode::Help, KeyCode::Char('r')), Some(A::CloseHelp));
        assert_eq!(press(&Mode::Help, KeyCode::Char('q')), Some(A::Quit));
        let login = Mode::Login {
            name: "a".into(),
            prompt: None,
        };
        assert_eq!(press(&login, KeyCode::Char('r')), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in [Mode::Table, Mode::Filter, Mode::Help, login] {
            assert_eq!(action(&mode, &ctrl_c), Some(A::Quit), "{mode:?}");
        }
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in BINDINGS[i..].iter().filter(|b| b.context == a.context) {
                for (j, (ka, _)) in a.keys.iter().enumerate() {
                    let skip = if std::ptr::eq(a, b) { j + 1 } else { 0 };
                    assert!(
                        !b.keys[skip..].iter().any(|(kb, _)| kb == ka),
                        "{ka:?} twice in {:?}",
                        a.context
                    );
                }
            }
        }
    }

    #[test]
    fn the_screen_names_keys_from_the_table() {
        assert!(footer_keys(200).contains("r refresh  R all"));
        assert!(footer_keys(80).contains("r/R refresh") && footer_keys(80).ends_with("q quit"));
        assert!(footer_keys(80).chars().count() <= 80);
        assert_eq!(filter_keys(), "⏎ keep  Esc clear");
        assert!(details_keys().starts_with("Esc close  r refresh"));
        assert!(help_lines().any(|(k, _)| k == "r / R"));
    }
}
