//! Everything the dashboard shows, and nothing it does not need to show.

use super::msg::{BrowserPrompt, LoginPrompt};
use crate::config::{Config, Profile};
use crate::name_index::NameIndex;
use crate::provider::Endpoints;
use crate::schedule::Schedule;
use crate::status::{Status, login_ends_at, profile_status};
use crate::store::{RecordMeta, TokenRecord};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// What the rows, the header and a key say before the first poll of the store has answered.
pub const READING_THE_STORE: &str = "reading the store…";

/// The event log keeps this many lines.
pub const LOG_CAPACITY: usize = 500;

#[derive(Debug, Clone)]
pub struct Row {
    pub profile: Arc<Profile>,
    /// What the store holds for this profile, without the token values (`None`: nothing, or
    /// nothing usable: see `problem`).
    pub record: Option<RecordMeta>,
    /// The store refuses this profile's record (not JSON, a link…): its words, shown as the
    /// row's message until a poll finds the record readable again. Nothing is done with the
    /// profile meanwhile.
    pub problem: Option<String>,
    /// The request in flight for this profile, if any: one at a time.
    pub activity: Activity,
    /// How the last request or outside change ended, for the MESSAGE column (`None`: nothing
    /// happened to the row yet, and the column shows the record's last error or a hint).
    pub message: Option<String>,
    /// `message` tells of a failure (a refresh, revocation or login that failed): it then wins
    /// over the login's end in the MESSAGE column, while a success ("refreshed") gives way.
    pub message_is_error: bool,
    /// A token file or `on_refresh` warning that came while a refresh or login was in flight:
    /// it becomes the message when that ends, instead of "refreshed".
    pub warning: Option<String>,
    /// When auto-refresh next tries this profile.
    pub schedule: Schedule,
    pub endpoints: Option<Result<Endpoints, String>>,
}

/// What is being done to a row. A refresh takes the STATUS column (`refreshing`, which SPEC
/// lists as the dashboard's own status); a revocation or a login, which may wait ten minutes
/// for a person to approve it, leave the status saying what the tokens are (`valid`,
/// `needs_login`) and show in the MESSAGE column instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activity {
    #[default]
    Idle,
    /// `auto`: the schedule started it, not a key.
    Refreshing {
        auto: bool,
    },
    Revoking,
    LoggingIn,
}

impl Activity {
    pub fn is_idle(self) -> bool {
        self == Activity::Idle
    }

    /// The MESSAGE column while it lasts.
    pub fn text(self) -> Option<&'static str> {
        match self {
            Activity::Idle => None,
            Activity::Refreshing { auto: false } => Some("refreshing…"),
            Activity::Refreshing { auto: true } => Some("auto-refreshing…"),
            Activity::Revoking => Some("revoking…"),
            Activity::LoggingIn => Some("logging in…"),
        }
    }
}

impl Row {
    /// A refresh or login ended well: its words, unless a token file or hook failed meanwhile,
    /// which then is the message (as a failure: the user has something to fix).
    pub fn finish_with(&mut self, text: &str) {
        match self.warning.take() {
            Some(warning) => {
                self.message = Some(warning);
                self.message_is_error = true;
            }
            None => {
                self.message = Some(text.into());
                self.message_is_error = false;
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.profile.name
    }

    pub fn status(&self, now: i64) -> Status {
        if matches!(self.activity, Activity::Refreshing { .. }) {
            return Status::Refreshing;
        }
        if self.problem.is_some() {
            return Status::Error;
        }
        profile_status(self.record.as_ref(), &self.profile, now)
    }

    /// When the login ends (unix seconds), once that is inside the warning window: less than
    /// `warning` seconds left, or already over. `None` outside it, or when no end is known.
    pub fn login_ends_soon(&self, now: i64, warning: i64) -> Option<i64> {
        let at = login_ends_at(self.record.as_ref()?, &self.profile.login_limits)?;
        (at.saturating_sub(now) < warning).then_some(at)
    }

    pub fn generation(&self) -> Option<u64> {
        self.record.as_ref().map(|r| r.generation)
    }
}

/// The open details pane's profile: the only one whose token values the dashboard holds. The
/// worker reads them from the store when the pane opens on a profile and again when the
/// profile's record changes; they are dropped when the pane closes.
#[derive(Debug, Clone)]
pub struct Details {
    pub name: String,
    /// The row's generation when the values were asked for: the answer to that request, and no
    /// earlier one, fills `record`.
    pub generation: Option<u64>,
    /// `None` while the worker reads the store; `Err` when it could not. A profile with no record
    /// on disk has a default (empty) one here.
    pub record: Option<Result<TokenRecord, String>>,
}

impl Details {
    pub fn asked(name: String, generation: Option<u64>) -> Details {
        Details {
            name,
            generation,
            record: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Info,
    Good,
    Bad,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: i64,
    pub profile: String,
    pub text: String,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Table,
    /// Typing a filter after `/`.
    Filter,
    Details,
    ConfirmRevoke {
        name: String,
    },
    Help,
    Login {
        name: String,
        prompt: Option<LoginPrompt>,
    },
    /// A browser login under way: the URL to open, and a field for the pasted address.
    BrowserLogin {
        name: String,
        prompt: BrowserPrompt,
        /// What is typed (pasted) so far.
        input: String,
        /// Why the last paste was not taken.
        note: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct State {
    pub config_path: String,
    /// Where the records are, when that is worth a word (a team store): in the header.
    pub store: Option<String>,
    pub rows: Vec<Row>,
    /// `rows` by name (the config's index: rows are in the config's order).
    pub index: NameIndex,
    /// Indices into `rows` that pass the filter, in display order.
    pub visible: Vec<usize>,
    /// Position in `visible`.
    pub selected: usize,
    /// First visible position shown in the table.
    pub offset: usize,
    pub filter: String,
    pub mode: Mode,
    /// Set exactly while `mode` is `Details` (see `update::details::sync_details`).
    pub details: Option<Details>,
    pub auto_refresh: bool,
    pub reveal: bool,
    pub show_log: bool,
    pub log: VecDeque<Event>,
    pub now: i64,
    pub width: u16,
    pub height: u16,
    pub quit: bool,
    /// Something on screen changed since the last draw.
    pub dirty: bool,
    /// Shown once in the footer (a copy, a refusal), cleared by the next key.
    pub flash: Option<String>,
    /// Colours on; off under `NO_COLOR` (status words still say everything).
    pub color: bool,
    /// `settings.login_warning` in seconds: a login ending sooner than this is shown.
    pub login_warning: i64,
    /// The first poll of the store has answered. Until then no row's record is known: the
    /// table says the store is being read rather than `needs_login`, the schedule starts
    /// nothing, and keys that act on a record wait (the first frame is drawn before the disk
    /// or the team store is read).
    pub store_read: bool,
}

impl State {
    pub fn new(config: &Config, now: i64, width: u16, height: u16) -> State {
        let rows: Vec<Row> = config
            .profiles
            .iter()
            .map(|p| Row {
                profile: p.clone(),
                record: None,
                problem: None,
                activity: Activity::Idle,
                message: None,
                message_is_error: false,
                warning: None,
                schedule: Schedule::default(),
                endpoints: None,
            })
            .collect();
        let index = config.index.clone();
        let mut state = State {
            config_path: config.path.display().to_string(),
            store: None,
            visible: (0..rows.len()).collect(),
            rows,
            index,
            selected: 0,
            offset: 0,
            filter: String::new(),
            mode: Mode::Table,
            details: None,
            auto_refresh: config.settings.auto_refresh,
            reveal: false,
            show_log: false,
            log: VecDeque::new(),
            now,
            width,
            height,
            quit: false,
            dirty: true,
            flash: None,
            color: true,
            login_warning: i64::try_from(config.settings.login_warning.as_secs())
                .unwrap_or(i64::MAX),
            store_read: false,
        };
        for w in &config.warnings {
            state.push_event("config", w.message.clone(), EventKind::Bad);
        }
        state
    }

    pub fn selected_row(&self) -> Option<&Row> {
        self.visible.get(self.selected).map(|&i| &self.rows[i])
    }

    pub fn row(&self, name: &str) -> Option<&Row> {
        let i = self.index.find(name, |i| &self.rows[i].profile.name)?;
        self.rows.get(i)
    }

    pub fn row_mut(&mut self, name: &str) -> Option<&mut Row> {
        let i = self.index.find(name, |i| &self.rows[i].profile.name)?;
        self.rows.get_mut(i)
    }

    pub fn push_event(&mut self, profile: &str, text: String, kind: EventKind) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(Event {
            at: self.now,
            profile: profile.to_string(),
            text,
            kind,
        });
    }

    /// Rows of the table that fit on screen (see `ui::layout`).
    pub fn table_height(&self) -> usize {
        crate::ui::table_body_height(self.height, self.show_log) as usize
    }

    /// Counts by status, for the header.
    pub fn counts(&self) -> Vec<(Status, usize)> {
        let mut counts: HashMap<Status, usize> = HashMap::new();
        for row in &self.rows {
            *counts.entry(row.status(self.now)).or_default() += 1;
        }
        let mut v: Vec<(Status, usize)> = counts.into_iter().collect();
        v.sort();
        v
    }
}
