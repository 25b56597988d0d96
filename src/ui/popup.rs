//! Windows over the table: details, help, revoke confirmation, device login.

use super::theme;
use crate::app::keymap;
use crate::app::{LoginPrompt, State};
use crate::clock;
use crate::secret::Secret;
use crate::store::TokenRecord;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

fn centered(frame: &Frame, width_pct: u16, height: u16) -> Rect {
    let area = frame.area();
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Percentage(width_pct)])
        .flex(Flex::Center)
        .areas(v);
    h
}

fn window(frame: &mut Frame, area: Rect, title: &str, lines: Vec<Line>) {
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(format!(" {title} "));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn field<'a>(label: &str, value: impl Into<String>) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{label:<14}"), theme::bold()),
        Span::raw(value.into()),
    ])
}

/// Where the details' token values stand: the worker reads them from the store when the pane
/// opens, while the rest of the pane comes from the row.
enum Values<'a> {
    Loading,
    Unreadable(&'a str),
    Loaded(&'a TokenRecord),
}

impl<'a> Values<'a> {
    fn of(state: &'a State, name: &str) -> Values<'a> {
        let held = state.details.as_ref().filter(|d| d.name == name);
        match held.and_then(|d| d.record.as_ref()) {
            None => Values::Loading,
            Some(Err(e)) => Values::Unreadable(e),
            Some(Ok(record)) => Values::Loaded(record),
        }
    }

    /// A token's value, masked unless revealed, once read; before that, whether there is one
    /// (`stored`, from the row) and that it is on its way.
    fn text(
        &self,
        token: fn(&TokenRecord) -> Option<&Secret>,
        stored: bool,
        reveal: bool,
    ) -> String {
        match self {
            Values::Loaded(record) => match token(record) {
                None => "-".into(),
                Some(s) if reveal => s.expose().to_string(),
                Some(s) => s.masked(),
            },
            _ if !stored => "-".into(),
            Values::Loading => "loading…".into(),
            Values::Unreadable(e) => format!("cannot read it: {e}"),
        }
    }
}

pub fn details(frame: &mut Frame, state: &State) {
    let Some(row) = state.selected_row() else {
        return;
    };
    let p = &row.profile;
    let now = state.now;
    let status = row.status(now);
    let mut lines = vec![
        Line::from(vec![
            Span::styled(p.name.clone(), theme::bold()),
            Span::raw(format!("  {}  ", p.provider.kind().as_str())),
            Span::styled(status.as_str(), theme::status(status, state.color)),
        ]),
        Line::raw(""),
    ];
    match &row.endpoints {
        None => lines.push(field("endpoints", "resolving…")),
        Some(Err(e)) => lines.push(field("endpoints", format!("cannot resolve: {e}"))),
        Some(Ok(e)) => {
            let none = |u: &Option<String>| u.clone().unwrap_or_else(|| "(none)".into());
            lines.push(field("token", e.token_url.clone()));
            lines.push(field("revocation", none(&e.revocation_url)));
            lines.push(field("device", none(&e.device_authorization_url)));
            lines.push(field("userinfo", none(&e.userinfo_url)));
        }
    }
    lines.push(field(
        "client",
        format!(
            "{}  ({}, secret {})",
            p.client_id,
            p.auth_method.as_str(),
            p.client_secret.describe()
        ),
    ));
    lines.push(field(
        "scopes",
        if p.scopes.is_empty() {
            "(as granted)".into()
        } else {
            p.scopes.join(" ")
        },
    ));
    let record = row.record.clone().unwrap_or_default();
    let values = Values::of(state, row.name());
    lines.push(field(
        "granted",
        record.scope.clone().unwrap_or_else(|| "-".into()),
    ));
    lines.push(field(
        "token type",
        record.token_type.clone().unwrap_or_else(|| "-".into()),
    ));
    lines.push(field(
        "access token",
        format!(
            "{}   (v {})",
            values.text(
                |r| r.access_token.as_ref(),
                record.has_access_token,
                state.reveal
            ),
            if state.reveal { "masks" } else { "reveals" }
        ),
    ));
    lines.push(field(
        "refresh token",
        values.text(
            |r| r.refresh_token.as_ref(),
            record.has_refresh_token,
            false,
        ),
    ));
    lines.push(field(
        "expires",
        match record.expires_at {
            Some(at) => format!(
                "{}  ({})",
                clock::rfc3339(at),
                clock::expires_in(Some(at), now)
            ),
            None => "unknown".into(),
        },
    ));
    lines.push(field("last refresh", clock::ago(record.last_refresh, now)));
    lines.push(login_ends_line(state, row, &record));
    let loaded = match values {
        Values::Loaded(loaded) => Some(loaded),
        _ => None,
    };
    for (label, token) in [
        ("access JWT", loaded.and_then(|r| r.access_token.as_ref())),
        ("id token", loaded.and_then(|r| r.id_token.as_ref())),
    ] {
        if let Some((_, claims)) = token.and_then(|t| crate::jwt::decode(t.expose())) {
            lines.push(Line::styled(
                format!("{label} claims (decoded, NOT verified)"),
                theme::bold(),
            ));
            for (k, v) in claims.iter() {
                lines.push(Line::raw(format!("  {k}: {v}")));
            }
        }
    }
    if let Some(err) = &record.last_error {
        lines.push(Line::styled("last error", theme::bold()));
        lines.push(Line::raw(format!(
            "  {} ({})",
            err.message,
            clock::ago(Some(err.at), now)
        )));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(keymap::details_keys(), theme::dim()));
    let area = centered(frame, 94, frame.area().height.saturating_sub(2));
    window(frame, area, "details", lines);
}

/// `login ends    2026-12-08T10:00:00Z  (in 6d 23h; refresh_token_idle)`, always shown, and in
/// the warning colours once inside `settings.login_warning`; `unknown` when no limit is known.
fn login_ends_line<'a>(
    state: &State,
    row: &crate::app::Row,
    record: &crate::store::RecordMeta,
) -> Line<'a> {
    let limits = &row.profile.login_limits;
    let Some((at, limit)) = crate::status::login_end(record, limits) else {
        return field("login ends", "unknown");
    };
    let now = state.now;
    let style = if row.login_ends_soon(now, state.login_warning).is_some() {
        theme::login_end(at - now, state.color)
    } else {
        ratatui::style::Style::new()
    };
    Line::from(vec![
        Span::styled(format!("{:<14}", "login ends"), theme::bold()),
        Span::styled(
            format!(
                "{}  ({}; {})",
                clock::rfc3339(at),
                super::table::login_end_words(at, now),
                limit.describe(limits)
            ),
            style,
        ),
    ])
}

pub fn help(frame: &mut Frame, state: &State) {
    let mut lines: Vec<Line> = keymap::help_lines()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(format!("{keys:<22}"), theme::bold()),
                Span::raw(what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    // One line, so that the help fits a 24-line terminal.
    let mut statuses = vec![Span::styled("statuses: ", theme::bold())];
    for s in crate::status::Status::ALL {
        statuses.push(Span::styled(s.as_str(), theme::status(s, state.color)));
        statuses.push(Span::raw(" "));
    }
    lines.push(Line::from(statuses));
    lines.push(Line::styled("any key closes", theme::dim()));
    // 90% of an 80-column terminal leaves 70 columns inside: every line above fits unwrapped.
    let area = centered(frame, 90, lines.len() as u16 + 2);
    window(frame, area, "help", lines);
}

pub fn confirm_revoke(frame: &mut Frame, name: &str) {
    let lines = vec![
        Line::raw(format!("Revoke the tokens of {name} at the provider?")),
        Line::raw("The refresh token stops working; you will need to log in again."),
        Line::raw(""),
        Line::styled("y revoke    n / Esc keep", theme::bold()),
    ];
    let area = centered(frame, 70, 6);
    window(frame, area, "revoke", lines);
}

pub fn login(frame: &mut Frame, state: &State, name: &str, prompt: Option<&LoginPrompt>) {
    let Some(prompt) = prompt else {
        let area = centered(frame, 60, 5);
        window(
            frame,
            area,
            &format!("log in: {name}"),
            vec![
                Line::raw("asking the provider for a code…"),
                Line::styled("Esc cancel", theme::dim()),
            ],
        );
        return;
    };
    let mut lines = vec![
        Line::raw("On any device with a browser, open"),
        Line::styled(format!("  {}", prompt.verification_uri), theme::bold()),
        Line::raw("and enter the code"),
        Line::styled(format!("  {}", prompt.user_code), theme::bold()),
    ];
    if let Some(complete) = &prompt.verification_uri_complete {
        lines.push(Line::raw(format!("or open {complete}")));
    }
    if let Some(m) = &prompt.message {
        lines.push(Line::styled(m.clone(), theme::dim()));
    }
    lines.push(Line::raw(format!(
        "the code expires in {}; waiting for approval…   Esc cancel",
        clock::short_duration(prompt.expires_at - state.now)
    )));
    let qr_target = prompt
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&prompt.verification_uri);
    let qr = crate::qr::render(qr_target);
    let room = frame.area().height as usize;
    if let Some(qr) = qr.filter(|q| q.len() + lines.len() + 3 <= room) {
        lines.push(Line::raw(""));
        lines.extend(qr.into_iter().map(Line::raw));
    }
    let area = centered(frame, 90, lines.len() as u16 + 2);
    window(frame, area, &format!("log in: {name}"), lines);
}

/// The browser login: the whole URL, wrapped, with no border beside it so that a mouse selection
/// (in tmux too) takes the URL and nothing else; the QR code where it fits; the port to forward;
/// the field for the pasted address; the time left.
///
/// ```text
/// ── log in: NAME (browser) ─────────────────────────────
/// Open in a browser (select with the mouse, or scan the QR code):
/// https://idp.example.com/authorize?response_type=code&client_id=…
/// …&code_challenge_method=S256
///
/// over SSH, forward the port first:  ssh -L 8484:127.0.0.1:8484 <this host>
/// or paste the address the browser ended on, then Enter:
/// > http://127.0.0.1:8484/callback?code=…▏
/// gives up in 9m 41s   Enter submit   Esc cancel
/// ───────────────────────────────────────────────────────
/// ```
pub fn browser_login(
    frame: &mut Frame,
    state: &State,
    name: &str,
    prompt: &crate::app::BrowserPrompt,
    input: &str,
    note: Option<&str>,
) {
    let area = frame.area();
    let width = area.width.max(1) as usize;
    let url_lines = prompt.url.chars().count().div_ceil(width);
    let mut lines = vec![Line::raw(
        "Open in a browser (select it with the mouse, or scan the QR code):",
    )];
    // The URL as chunks of the full width: wrapping by words would split it at `&` and `=`.
    let chars: Vec<char> = prompt.url.chars().collect();
    for chunk in chars.chunks(width) {
        lines.push(Line::styled(
            chunk.iter().collect::<String>(),
            theme::bold(),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw(format!(
        "over SSH, forward the port first:  {}",
        prompt.ssh_forward()
    )));
    lines.push(Line::raw(
        "or paste the address the browser ended on, then Enter:",
    ));
    // The end of a long paste, so the cursor stays in sight.
    let room = width.saturating_sub(3);
    let shown: String = {
        let typed: Vec<char> = input.chars().collect();
        typed[typed.len().saturating_sub(room)..].iter().collect()
    };
    lines.push(Line::from(vec![
        Span::styled("> ", theme::bold()),
        Span::raw(shown),
        Span::raw("▏"),
    ]));
    if let Some(note) = note {
        lines.push(Line::styled(note.to_string(), theme::bold()));
    }
    lines.push(Line::styled(
        format!(
            "gives up in {}   Enter submit   Esc cancel",
            clock::short_duration(prompt.expires_at - state.now)
        ),
        theme::dim(),
    ));
    let rows = area.height as usize;
    if let Some(qr) = crate::qr::render(&prompt.url).filter(|q| q.len() + lines.len() + 2 <= rows) {
        let at = 1 + url_lines + 1;
        for (i, line) in qr.into_iter().enumerate() {
            lines.insert(at + i, Line::raw(line));
        }
    }
    let height = (lines.len() as u16 + 2).min(area.height);
    let [v] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    frame.render_widget(Clear, v);
    let block = Block::new()
        .borders(ratatui::widgets::Borders::TOP | ratatui::widgets::Borders::BOTTOM)
        .title(format!(" log in: {name} (browser) "));
    frame.render_widget(Paragraph::new(lines).block(block), v);
}
