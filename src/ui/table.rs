//! The profile table. Only the rows that fit are built, so ten thousand profiles cost what
//! thirty do. Columns give way on narrow terminals: LOGIN ENDS first (its words then go to the
//! MESSAGE column), then LAST REFRESH, then PROVIDER.

use super::theme;
use crate::app::State;
use crate::clock;
use crate::status::{self, Status};
use crate::summary::Column;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

/// The columns that fit `width`: `list`'s columns, fewer when narrow, LOGIN ENDS (before
/// MESSAGE) when wide.
fn columns(width: u16) -> Vec<Column> {
    let shown = |c: &Column| match c {
        Column::Provider => width >= 70,
        Column::LastRefresh => width >= 100,
        _ => true,
    };
    let mut cols: Vec<Column> = Column::ALL.into_iter().filter(shown).collect();
    if width >= WIDE {
        cols.insert(cols.len() - 1, Column::LoginEnds);
    }
    cols
}

/// From this width the table has a LOGIN ENDS column: below it, 80 to 139 columns keep their
/// layout and the MESSAGE column says when the login ends.
pub const WIDE: u16 = 140;

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    if state.rows.is_empty() {
        let text = format!(
            "No profiles in {}. Add one (see profiles.example.toml), or try: tokdash demo",
            state.config_path
        );
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let name_width = state
        .rows
        .iter()
        .map(|r| r.name().chars().count())
        .max()
        .unwrap_or(4)
        .clamp(8, 28) as u16;
    let cols = columns(area.width);
    let widths: Vec<Constraint> = cols
        .iter()
        .map(|c| match c {
            Column::Name => Constraint::Length(name_width),
            Column::Provider => Constraint::Length(9),
            Column::Status => Constraint::Length(11),
            Column::ExpiresIn => Constraint::Length(18),
            Column::LastRefresh => Constraint::Length(12),
            // `ended 23h 59m ago`
            Column::LoginEnds => Constraint::Length(17),
            Column::Message => Constraint::Fill(1),
        })
        .collect();
    let header = Row::new(cols.iter().map(|c| Cell::from(c.title()))).style(theme::bold());

    let height = area.height.saturating_sub(1) as usize;
    let end = (state.offset + height).min(state.visible.len());
    let now = state.now;
    let login_column = cols.contains(&Column::LoginEnds);
    let rows = state.visible[state.offset.min(end)..end]
        .iter()
        .enumerate()
        .map(|(pos, &i)| {
            let row = &state.rows[i];
            if !state.store_read {
                return unread_row(row, &cols, state.offset + pos == state.selected);
            }
            let status = row.status(now);
            let record = row.record.as_ref();
            let login_ends = row.login_ends_soon(now, state.login_warning);
            let cells = cols.iter().map(|c| match c {
                Column::Name => Cell::from(row.name().to_string()),
                Column::Provider => Cell::from(row.profile.provider.kind().as_str()),
                Column::Status => Cell::from(Span::styled(
                    if record.is_some_and(|r| r.unsynced) {
                        // Newer here than in the team store (kept in this host's spill).
                        format!("{} unsynced", status.as_str())
                    } else {
                        status.as_str().to_string()
                    },
                    theme::status(status, state.color),
                )),
                Column::ExpiresIn => Cell::from(match record.filter(|r| r.has_access_token) {
                    Some(r) => clock::expires_in(r.expires_at, now),
                    None => "-".into(),
                }),
                Column::LastRefresh => {
                    Cell::from(clock::ago(record.and_then(|r| r.last_refresh), now))
                }
                Column::LoginEnds => match login_ends {
                    Some(at) => Cell::from(Span::styled(
                        login_end_words(at, now),
                        theme::login_end(at - now, state.color),
                    )),
                    None => Cell::from(""),
                },
                Column::Message => {
                    let (text, style) = message(
                        row,
                        status,
                        login_ends.filter(|_| !login_column),
                        now,
                        state.color,
                    );
                    Cell::from(Span::styled(text, style))
                }
            });
            let mut r = Row::new(cells);
            if state.offset + pos == state.selected {
                r = r.style(theme::selected());
            }
            r
        });
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, area);
}

/// A row before the store is read: its name and provider, and no word about its tokens that
/// the store might contradict a moment later.
fn unread_row<'a>(row: &crate::app::Row, cols: &[Column], selected: bool) -> Row<'a> {
    let cells = cols.iter().map(|c| match c {
        Column::Name => Cell::from(row.name().to_string()),
        Column::Provider => Cell::from(row.profile.provider.kind().as_str()),
        Column::Message => Cell::from(crate::app::READING_THE_STORE),
        _ => Cell::from(""),
    });
    let r = Row::new(cells);
    if selected {
        r.style(theme::selected())
    } else {
        r
    }
}

/// `in 2d 4h`, `ended 3h ago`: the LOGIN ENDS column.
pub fn login_end_words(at: i64, now: i64) -> String {
    if at > now {
        format!("in {}", clock::short_duration(at - now))
    } else {
        format!("ended {} ago", clock::short_duration(now - at))
    }
}

/// The problem of a record the store refuses; else what is being done to the row; else a
/// failure (the last thing done to it, or the record's last error); else, when the table has no
/// LOGIN ENDS column, the end of a login inside its warning window (`login_ends`); else how the
/// last thing done to it ended; else, when nothing happened to it yet, what the user can do
/// about a profile that cannot refresh by itself.
fn message(
    row: &crate::app::Row,
    status: Status,
    login_ends: Option<i64>,
    now: i64,
    color: bool,
) -> (String, Style) {
    let plain = |text: String| (text, Style::new());
    // A refused record is the row's whole story until it is fixed, in the words `list` uses.
    if let Some(problem) = &row.problem {
        return plain(problem.clone());
    }
    if let Some(doing) = row.activity.text() {
        return plain(doing.into());
    }
    let last_error = row
        .record
        .as_ref()
        .and_then(|r| r.last_error.as_ref())
        .map(|e| &e.message);
    let said = row.message.as_ref().or(last_error);
    let failed = if row.message.is_some() {
        row.message_is_error
    } else {
        last_error.is_some()
    };
    if let Some(said) = said.filter(|_| failed) {
        return plain(said.clone());
    }
    if let Some(at) = login_ends {
        let style = theme::login_end(at - now, color);
        return if at > now {
            (format!("login ends {}", login_end_words(at, now)), style)
        } else {
            (
                format!("login {}: press l to log in", login_end_words(at, now)),
                style,
            )
        };
    }
    if let Some(said) = said {
        return plain(said.clone());
    }
    let stuck = matches!(
        status,
        Status::Expired | Status::Expiring | Status::NeedsLogin | Status::Revoked
    ) && !status::can_refresh(row.record.as_ref(), row.profile.grant);
    plain(match (stuck, row.record.is_some()) {
        (true, true) => "no usable refresh token: press l to log in".into(),
        (true, false) => "no token yet: press l to log in".into(),
        (false, _) => String::new(),
    })
}
