//! The rendered screen, read back from ratatui's `TestBackend`: text, and colour where it
//! carries meaning.

use crate::app::{LoginPrompt, Mode, Msg, State, WorkerEvent, update};
use crate::config::Config;
use crate::secret::Secret;
use crate::store::TokenRecord;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use std::path::Path;

const NOW: i64 = 1_700_000_000;

fn state(width: u16, height: u16) -> State {
    let src = r#"
[profiles.google-prod]
provider = "google"
client_id = "c"
[profiles.auth0-staging]
provider = "auth0"
domain = "t.auth0.com"
client_id = "c"
[profiles.legacy]
provider = "oauth2"
token_url = "https://a.example.com/t"
client_id = "c"
"#;
    let config = Config::parse(Path::new("/home/ops/.config/tokdash/profiles.toml"), src).unwrap();
    let mut s = State::new(&config, NOW, width, height);
    s.auto_refresh = false;
    let expired = TokenRecord {
        access_token: Some(Secret::new("opaque")),
        refresh_token: Some(Secret::new("r")),
        expires_at: Some(NOW - 180),
        generation: 1,
        ..Default::default()
    };
    update(
        &mut s,
        Msg::worker(WorkerEvent::StoreChanged(vec![
            ("google-prod".into(), Some(valid().meta())),
            ("auth0-staging".into(), Some(expired.meta())),
        ])),
    );
    s
}

/// google-prod's record as stored: a JWT access token good for 42m 10s.
fn valid() -> TokenRecord {
    let claims = serde_json::json!({"sub": "ops@example.com", "exp": NOW + 2530});
    TokenRecord {
        access_token: Some(Secret::new(crate::jwt::encode_unsigned(&claims))),
        refresh_token: Some(Secret::new("RT-SECRET-VALUE")),
        scope: Some("openid email".into()),
        expires_at: Some(NOW + 42 * 60 + 10),
        last_refresh: Some(NOW - 182),
        generation: 1,
        ..Default::default()
    }
}

/// Enter on the selected row (google-prod); the token values stay with the worker.
fn open_details(state: &mut State) {
    update(state, Msg::Key(KeyEvent::from(KeyCode::Enter)));
    assert_eq!(state.mode, Mode::Details);
}

/// The worker's answer with google-prod's record.
fn details_loaded(state: &mut State) {
    update(
        state,
        Msg::worker(WorkerEvent::DetailsLoaded {
            name: "google-prod".into(),
            generation: Some(1),
            record: Ok(Some(valid())),
        }),
    );
}

fn draw(state: &State) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(state.width, state.height)).unwrap();
    terminal.draw(|f| super::render(f, state)).unwrap();
    terminal.backend().buffer().clone()
}

fn lines(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

fn text(buf: &Buffer) -> String {
    lines(buf).join("\n")
}

/// The colour of the first cell of `word` on the line that contains `line_has`.
fn fg_of(buf: &Buffer, line_has: &str, word: &str) -> Color {
    let lines = lines(buf);
    let y = lines.iter().position(|l| l.contains(line_has)).unwrap();
    let x = lines[y]
        .chars()
        .collect::<Vec<_>>()
        .windows(word.chars().count())
        .position(|w| w.iter().collect::<String>() == word)
        .unwrap();
    buf[(x as u16, y as u16)].fg
}

#[test]
fn the_table_at_120x30_has_every_column() {
    let buf = draw(&state(120, 30));
    let t = text(&buf);
    assert!(lines(&buf)[0].contains("/home/ops/.config/tokdash/profiles.toml"));
    assert!(
        lines(&buf)[0].contains("1 valid")
            && lines(&buf)[0].contains("1 expired")
            && lines(&buf)[0].contains("1 needs_login")
    );
    let header = &lines(&buf)[1];
    for col in [
        "NAME",
        "PROVIDER",
        "STATUS",
        "EXPIRES IN",
        "LAST REFRESH",
        "MESSAGE",
    ] {
        assert!(header.contains(col), "{col} in {header}");
    }
    assert!(t.contains("42m 10s"), "{t}");
    assert!(t.contains("expired 3m 00s ago"));
    assert!(t.contains("3m 02s ago"));
    assert!(lines(&buf)[29].contains("q quit"));
}

#[test]
fn at_80x24_last_refresh_gives_way_and_everything_else_fits() {
    let buf = draw(&state(80, 24));
    let header = &lines(&buf)[1];
    assert!(!header.contains("LAST REFRESH"));
    for col in ["NAME", "PROVIDER", "STATUS", "EXPIRES IN", "MESSAGE"] {
        assert!(header.contains(col), "{col} in {header}");
    }
    assert!(text(&buf).contains("google-prod") && text(&buf).contains("42m 10s"));
    assert!(
        lines(&buf)[23].contains("? help"),
        "the footer fits: {}",
        lines(&buf)[23]
    );
}

#[test]
fn status_colours_carry_meaning_and_no_color_removes_them() {
    let s = state(120, 30);
    let buf = draw(&s);
    assert_eq!(fg_of(&buf, "google-prod", "valid"), Color::Green);
    assert_eq!(fg_of(&buf, "auth0-staging", "expired"), Color::Red);
    assert_eq!(fg_of(&buf, "legacy", "needs_login"), Color::Magenta);
    let mut plain = s.clone();
    plain.color = false;
    let buf = draw(&plain);
    assert_eq!(fg_of(&buf, "google-prod", "valid"), Color::Reset);
    assert!(text(&buf).contains("needs_login"), "the words still say it");
}

#[test]
fn the_countdown_moves_with_the_clock() {
    let mut s = state(120, 30);
    update(&mut s, Msg::Tick(NOW + 1));
    assert!(text(&draw(&s)).contains("42m 09s"));
}

#[test]
fn details_mask_the_token_until_v_and_mark_claims_unverified() {
    let mut s = state(120, 40);
    open_details(&mut s);
    details_loaded(&mut s);
    let t = text(&draw(&s));
    assert!(t.contains("NOT verified"), "{t}");
    assert!(t.contains("ops@example.com"));
    assert!(!t.contains("RT-SECRET-VALUE"));
    assert!(t.contains("(15 chars)"), "the refresh token, masked: {t}");
    let jwt = valid().access_token.unwrap().expose().to_string();
    assert!(!t.contains(&jwt[..20]));
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Char('v'))));
    assert!(text(&draw(&s)).contains(&jwt[..20]));
}

#[test]
fn details_show_the_row_at_once_and_the_tokens_once_read() {
    let mut s = state(120, 40);
    open_details(&mut s);
    let t = text(&draw(&s));
    assert!(t.contains("openid email"), "the granted scopes: {t}");
    assert!(t.contains("42m 10s") && t.contains("3m 02s ago"), "{t}");
    let token_lines: Vec<&str> = t.lines().filter(|l| l.contains(" token ")).collect();
    assert!(
        token_lines
            .iter()
            .filter(|l| l.contains("loading…"))
            .count()
            == 2,
        "access and refresh tokens on their way: {token_lines:?}"
    );
    assert!(!t.contains("NOT verified"), "no claims before the token");
    details_loaded(&mut s);
    let t = text(&draw(&s));
    assert!(!t.contains("loading…") && t.contains("NOT verified"), "{t}");
}

#[test]
fn details_of_a_store_that_cannot_be_read_say_so() {
    let mut s = state(120, 40);
    open_details(&mut s);
    update(
        &mut s,
        Msg::worker(WorkerEvent::DetailsLoaded {
            name: "google-prod".into(),
            generation: Some(1),
            record: Err("permission denied".into()),
        }),
    );
    let t = text(&draw(&s));
    assert!(t.contains("cannot read it: permission denied"), "{t}");
}

#[test]
fn help_fits_an_80x24_terminal_whole() {
    let mut s = state(80, 24);
    s.mode = Mode::Help;
    let t = text(&draw(&s));
    assert!(
        t.contains("any key closes") && t.contains("refreshing"),
        "{t}"
    );
}

#[test]
fn help_lists_every_key() {
    let mut s = state(100, 40);
    s.mode = Mode::Help;
    let t = text(&draw(&s));
    for k in [
        "Enter",
        "r / R",
        "revoke",
        "OSC 52",
        "auto-refresh",
        "filter",
        "event log",
        "quit",
    ] {
        assert!(t.contains(k), "{k}");
    }
}

#[test]
fn login_popup_shows_url_code_countdown_and_a_qr_when_it_fits() {
    let mut s = state(100, 50);
    s.mode = Mode::Login {
        name: "legacy".into(),
        prompt: Some(LoginPrompt {
            verification_uri: "https://idp.example.com/device".into(),
            verification_uri_complete: Some(
                "https://idp.example.com/device?user_code=WDJB-MJHT".into(),
            ),
            user_code: "WDJB-MJHT".into(),
            expires_at: NOW + 600,
            message: None,
        }),
    };
    let t = text(&draw(&s));
    assert!(t.contains("https://idp.example.com/device") && t.contains("WDJB-MJHT"));
    assert!(t.contains("10m 00s"));
    assert!(t.contains('▀') || t.contains('▄'), "a QR code is drawn");
    s.height = 24;
    let t = text(&draw(&s));
    assert!(
        t.contains("WDJB-MJHT") && !t.contains('▄'),
        "no QR where it does not fit"
    );
}

#[test]
fn the_event_log_shows_timestamped_events() {
    let mut s = state(100, 30);
    s.show_log = true;
    update(
        &mut s,
        Msg::worker(WorkerEvent::RefreshFailed {
            name: "legacy".into(),
            error: "timeout".into(),
            transient: true,
            retry_after: None,
            record: None,
        }),
    );
    let t = text(&draw(&s));
    assert!(t.contains("event log"));
    let secs = NOW.rem_euclid(86_400);
    assert!(
        t.contains(&format!(
            "{:02}:{:02}:{:02} legacy timeout (will retry)",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )),
        "{t}"
    );
}

#[test]
fn ten_thousand_profiles_build_only_the_visible_rows() {
    let mut src = String::new();
    for i in 0..10_000 {
        src.push_str(&format!(
            "[profiles.p{i:05}]\nprovider = \"google\"\nclient_id = \"c\"\n"
        ));
    }
    let config = Config::parse(Path::new("p.toml"), &src).unwrap();
    let mut s = State::new(&config, NOW, 120, 30);
    update(
        &mut s,
        Msg::Key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char('G'),
        )),
    );
    let t = text(&draw(&s));
    assert!(t.contains("p09999") && !t.contains("p00000"));
}

#[test]
fn a_profile_that_cannot_refresh_by_itself_says_what_to_do() {
    let mut s = state(120, 30);
    let row = |s: &State, name: &str| {
        let lines = lines(&draw(s));
        lines.into_iter().find(|l| l.contains(name)).unwrap()
    };
    let legacy = row(&s, "legacy");
    assert!(
        legacy.contains("no token yet: press l to log in"),
        "{legacy}"
    );
    assert!(
        !row(&s, "google-prod").contains("press l"),
        "a valid profile needs no hint"
    );

    // An access token that expired, and no refresh token to get another.
    let stuck = TokenRecord {
        access_token: Some(Secret::new("opaque")),
        expires_at: Some(NOW - 60),
        generation: 1,
        ..Default::default()
    };
    update(
        &mut s,
        Msg::worker(WorkerEvent::StoreChanged(vec![(
            "legacy".into(),
            Some(stuck.meta()),
        )])),
    );
    let legacy = row(&s, "legacy");
    assert!(legacy.contains("expired"), "{legacy}");
    assert!(
        legacy.contains("no usable refresh token: press l to log in"),
        "{legacy}"
    );
}

#[test]
fn a_refused_record_is_an_error_row_in_the_stores_words_without_a_login_hint() {
    let mut s = state(120, 30);
    let problem = "/s/legacy.json: the token record is not valid (not JSON at line 1 column 1); it was left as it is";
    update(
        &mut s,
        Msg::worker(WorkerEvent::RecordsUnusable(vec![(
            "legacy".into(),
            problem.into(),
        )])),
    );
    let buf = draw(&s);
    let legacy = lines(&buf)
        .into_iter()
        .find(|l| l.contains("legacy"))
        .unwrap();
    assert!(legacy.contains(" error "), "{legacy}");
    assert!(
        legacy.contains("/s/legacy.json: the token record is not valid"),
        "{legacy}"
    );
    assert!(!legacy.contains("press l"), "{legacy}");
    assert_eq!(fg_of(&buf, "legacy", "error"), Color::LightRed);
    assert!(lines(&buf)[0].contains("1 error"), "{}", lines(&buf)[0]);
}

#[test]
fn a_row_says_what_is_being_done_to_it() {
    let mut s = state(120, 30);
    let line = |s: &State, name: &str| {
        lines(&draw(s))
            .into_iter()
            .find(|l| l.contains(name))
            .unwrap()
    };
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Char('x'))));
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Char('y'))));
    let google = line(&s, "google-prod");
    assert!(
        google.contains(" valid ") && google.contains("revoking…"),
        "{google}"
    );
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Char('G'))));
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Char('l'))));
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Esc)));
    let legacy = line(&s, "legacy");
    assert!(legacy.contains("login cancelled"), "{legacy}");
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Char('k'))));
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Char('r'))));
    let auth0 = line(&s, "auth0-staging");
    assert!(
        auth0.contains(" refreshing ") && auth0.contains("refreshing…"),
        "{auth0}"
    );
}

const DAY: i64 = 86_400;

/// google-prod's login ends in 2d 4h (inside the 7-day warning); auth0-staging's ended 3h ago.
fn logins_ending(width: u16, height: u16) -> State {
    let mut s = state(width, height);
    let mut google = valid();
    google.generation = 2;
    google.refresh_expires_at = Some(NOW + 2 * DAY + 4 * 3600);
    let auth0 = TokenRecord {
        access_token: Some(Secret::new("opaque")),
        refresh_token: Some(Secret::new("r")),
        expires_at: Some(NOW - 180),
        refresh_expires_at: Some(NOW - 3 * 3600),
        generation: 2,
        ..Default::default()
    };
    update(
        &mut s,
        Msg::worker(WorkerEvent::StoreChanged(vec![
            ("google-prod".into(), Some(google.meta())),
            ("auth0-staging".into(), Some(auth0.meta())),
        ])),
    );
    s
}

fn row_line(buf: &Buffer, name: &str) -> String {
    lines(buf).into_iter().find(|l| l.contains(name)).unwrap()
}

#[test]
fn below_140_columns_the_message_says_when_the_login_ends() {
    for (width, height) in [(80, 24), (100, 30), (120, 30)] {
        let buf = draw(&logins_ending(width, height));
        assert!(!lines(&buf)[1].contains("LOGIN ENDS"), "{width}");
        let google = row_line(&buf, "google-prod");
        assert!(google.contains("login ends in 2d 4h"), "{width}: {google}");
        let auth0 = row_line(&buf, "auth0-staging");
        assert!(auth0.contains("needs_login"), "{width}: {auth0}");
        assert!(auth0.contains("login ended 3h 00m ago"), "{width}: {auth0}");
        assert_eq!(fg_of(&buf, "google-prod", "login ends"), Color::Yellow);
        assert_eq!(fg_of(&buf, "auth0-staging", "login ended"), Color::Red);
        // Outside the warning (legacy has no login at all) nothing is added.
        assert!(!row_line(&buf, "legacy").contains("login end"));
    }
    let buf = draw(&logins_ending(80, 24));
    assert!(
        lines(&buf)[23].contains("? help"),
        "the footer is unchanged"
    );
}

#[test]
fn from_140_columns_a_login_ends_column_says_it() {
    let buf = draw(&logins_ending(140, 30));
    let header = &lines(&buf)[1];
    for col in [
        "NAME",
        "PROVIDER",
        "STATUS",
        "EXPIRES IN",
        "LAST REFRESH",
        "LOGIN ENDS",
        "MESSAGE",
    ] {
        assert!(header.contains(col), "{col} in {header}");
    }
    let column = header.find("LOGIN ENDS").unwrap();
    let google = row_line(&buf, "google-prod");
    assert_eq!(&google[column..column + 8], "in 2d 4h", "{google}");
    assert!(!google.contains("login ends"), "not twice: {google}");
    assert!(google.contains("updated by another process"), "{google}");
    let auth0 = row_line(&buf, "auth0-staging");
    assert!(auth0.contains("ended 3h 00m ago"), "{auth0}");
    assert_eq!(fg_of(&buf, "google-prod", "in 2d 4h"), Color::Yellow);
    assert_eq!(fg_of(&buf, "auth0-staging", "ended 3h"), Color::Red);
    // A login far from its end leaves the cell blank.
    let s = state(140, 30);
    let buf = draw(&s);
    let column = lines(&buf)[1].find("LOGIN ENDS").unwrap();
    let google = row_line(&buf, "google-prod");
    assert_eq!(google[column..column + 17].trim(), "", "{google}");
}

#[test]
fn login_end_colours_go_under_no_color_and_the_words_stay() {
    for width in [100, 140] {
        let mut s = logins_ending(width, 30);
        s.color = false;
        let buf = draw(&s);
        let soon = if width >= 140 {
            "in 2d 4h"
        } else {
            "login ends"
        };
        let ended = if width >= 140 {
            "ended 3h"
        } else {
            "login ended"
        };
        assert_eq!(fg_of(&buf, "google-prod", soon), Color::Reset);
        assert_eq!(fg_of(&buf, "auth0-staging", ended), Color::Reset);
        let y = lines(&buf)
            .iter()
            .position(|l| l.contains("auth0-staging"))
            .unwrap();
        let x = row_line(&buf, "auth0-staging").find(ended).unwrap();
        assert!(
            buf[(x as u16, y as u16)]
                .modifier
                .contains(ratatui::style::Modifier::BOLD),
            "an ended login stands out without colour"
        );
        assert!(text(&buf).contains("2d 4h") && text(&buf).contains("3h 00m ago"));
    }
}

#[test]
fn a_failure_message_wins_over_the_end_of_the_login() {
    let mut s = logins_ending(100, 30);
    update(&mut s, Msg::Key(KeyEvent::from(KeyCode::Char('r'))));
    update(
        &mut s,
        Msg::worker(WorkerEvent::RefreshFailed {
            name: "google-prod".into(),
            error: "timed out after 30s".into(),
            transient: true,
            retry_after: None,
            record: None,
        }),
    );
    let google = row_line(&draw(&s), "google-prod");
    assert!(google.contains("timed out after 30s"), "{google}");
    assert!(!google.contains("login ends"), "{google}");
}

#[test]
fn details_always_say_when_the_login_ends_and_by_which_limit() {
    let mut s = logins_ending(120, 40);
    open_details(&mut s);
    let buf = draw(&s);
    let t = text(&buf);
    assert!(
        t.contains("login ends    2023-11-17T02:13:20Z  (in 2d 4h; the provider's figure)"),
        "{t}"
    );
    assert_eq!(fg_of(&buf, "login ends", "2023-11-17"), Color::Yellow);
    // Far from its end: shown all the same, without colour; google's idle default sets it.
    let mut s = state(120, 40);
    open_details(&mut s);
    let t = text(&draw(&s));
    let line = t.lines().find(|l| l.contains("login ends")).unwrap();
    assert!(
        line.contains("refresh_token_idle, the provider's default"),
        "{line}"
    );
    // No record (legacy): unknown.
    ch_down_to(&mut s, "legacy");
    let t = text(&draw(&s));
    assert!(
        t.lines().any(|l| l.contains("login ends    unknown")),
        "{t}"
    );
}

/// Moves the selection (in the details pane) down to `name`.
fn ch_down_to(s: &mut State, name: &str) {
    while s.selected_row().unwrap().name() != name {
        update(s, Msg::Key(KeyEvent::from(KeyCode::Down)));
    }
}

#[test]
fn rows_say_the_store_is_being_read_until_its_first_answer() {
    let src = "[profiles.b]\nprovider = \"google\"\nclient_id = \"c\"\n";
    let config = Config::parse(Path::new("p.toml"), src).unwrap();
    let mut s = State::new(&config, NOW, 120, 30);
    let before = text(&draw(&s));
    assert!(before.contains("reading the store…"), "{before}");
    assert!(!before.contains("needs_login"), "{before}");
    update(&mut s, Msg::worker(WorkerEvent::StoreChanged(Vec::new())));
    let after = text(&draw(&s));
    assert!(!after.contains("reading the store"), "{after}");
    assert!(after.contains("1 needs_login"), "{after}");
    assert!(after.contains("no token yet: press l to log in"), "{after}");
}
