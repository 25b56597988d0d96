//! `update()` transition by transition: no terminal, no runtime, no network.

use super::*;
use crate::config::Config;
use crate::engine::RefreshOutcome;
use crate::secret::Secret;
use crate::status::Status;
use crate::store::{RecordMeta, Standing, TokenRecord};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::path::Path;

const NOW: i64 = 1_000_000;

fn config() -> Config {
    let src = r#"
[profiles.alpha]
provider = "oauth2"
token_url = "https://a.example.com/t"
client_id = "c"
refresh_ahead = "5m"
[profiles.beta]
provider = "google"
client_id = "c"
[profiles.gamma]
provider = "auth0"
domain = "t.auth0.com"
client_id = "c"
[profiles.robot]
provider = "oauth2"
token_url = "https://a.example.com/t"
client_id = "c"
client_secret_env = "X"
grant = "client_credentials"
"#;
    Config::parse(Path::new("p.toml"), src).unwrap()
}

/// A record as the store holds it, token values included.
fn stored(expires_in: i64) -> TokenRecord {
    TokenRecord {
        access_token: Some(Secret::new("AT")),
        refresh_token: Some(Secret::new("RT")),
        expires_at: Some(NOW + expires_in),
        generation: 1,
        ..Default::default()
    }
}

/// The same record as the worker reports it for the table.
fn record(expires_in: i64) -> RecordMeta {
    stored(expires_in).meta()
}

/// A state with alpha valid for an hour, beta and gamma with no token, robot with none.
fn state() -> State {
    let mut s = State::new(&config(), NOW, 100, 30);
    s.auto_refresh = false;
    stored_now(&mut s, "alpha", record(3600));
    s
}

fn key(state: &mut State, code: KeyCode) -> Vec<Effect> {
    update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(state: &mut State, c: char) -> Vec<Effect> {
    key(state, KeyCode::Char(c))
}

fn row<'a>(s: &'a State, name: &str) -> &'a Row {
    s.row(name).unwrap()
}

#[test]
fn moving_stays_within_the_list() {
    let mut s = state();
    ch(&mut s, 'k');
    assert_eq!(s.selected, 0);
    ch(&mut s, 'j');
    ch(&mut s, 'j');
    assert_eq!(s.selected_row().unwrap().name(), "gamma");
    ch(&mut s, 'G');
    assert_eq!(s.selected, 3);
    key(&mut s, KeyCode::Down);
    assert_eq!(s.selected, 3);
    ch(&mut s, 'g');
    assert_eq!(s.selected, 0);
    key(&mut s, KeyCode::PageDown);
    assert_eq!(s.selected, 3);
}

#[test]
fn r_refreshes_the_selected_profile_with_the_generation_it_shows() {
    let mut s = state();
    let effects = ch(&mut s, 'r');
    assert_eq!(
        effects,
        [Effect::Refresh {
            name: "alpha".into(),
            seen_generation: Some(1)
        }]
    );
    assert_eq!(row(&s, "alpha").status(NOW), Status::Refreshing);
    assert!(
        ch(&mut s, 'r').is_empty(),
        "one refresh per profile at a time"
    );
}

#[test]
fn r_on_a_profile_without_refresh_token_says_to_log_in() {
    let mut s = state();
    ch(&mut s, 'j');
    assert!(ch(&mut s, 'r').is_empty());
    assert!(s.flash.as_deref().unwrap().contains("press l to log in"));
}

#[test]
fn capital_r_refreshes_everything_that_can_be() {
    let mut s = state();
    let effects = ch(&mut s, 'R');
    let names: Vec<&str> = effects
        .iter()
        .map(|e| match e {
            Effect::Refresh { name, .. } => name.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["alpha", "robot"]);
}

#[test]
fn a_refresh_result_updates_the_row_and_the_log() {
    let mut s = state();
    ch(&mut s, 'r');
    let mut rec = record(7200);
    rec.generation = 2;
    refreshed_now(&mut s, "alpha", rec, RefreshOutcome::Rotated);
    let r = row(&s, "alpha");
    assert!(r.activity.is_idle());
    assert_eq!(r.record.as_ref().unwrap().expires_at, Some(NOW + 7200));
    assert_eq!(
        r.message.as_deref(),
        Some("refreshed; new refresh token stored")
    );
    assert_eq!(
        s.log.back().unwrap().text,
        "refreshed; new refresh token stored"
    );
}

/// A token file or hook that failed during a refresh (its warning comes before the result) is
/// the row's message once the refresh ends, as a failure, not "refreshed".
#[test]
fn a_publish_warning_during_a_refresh_becomes_the_message_when_it_ends() {
    let mut s = state();
    ch(&mut s, 'r');
    let warning = "on_refresh sh failed (exit status: 1); the token is stored";
    update(
        &mut s,
        Msg::worker(WorkerEvent::PublishWarning {
            name: "alpha".into(),
            message: warning.into(),
        }),
    );
    refreshed_now(&mut s, "alpha", record(7200), RefreshOutcome::Refreshed);
    let r = row(&s, "alpha");
    assert_eq!(r.message.as_deref(), Some(warning));
    assert!(r.message_is_error);
    assert!(r.warning.is_none(), "said once");
    assert!(s.log.iter().any(|e| e.text == warning));
}

/// Auto-refresh on, and alpha's access token 60 s from expiry (inside its refresh window).
fn auto_refreshing_with_alpha_expiring() -> State {
    let mut s = state();
    s.auto_refresh = true;
    let mut expiring = record(60);
    expiring.generation = 2;
    stored_now(&mut s, "alpha", expiring);
    s
}

#[test]
fn a_failed_refresh_backs_off_and_a_dead_refresh_token_stops_auto_refresh() {
    // alpha enters its refresh window (5 minutes) and is refreshed automatically.
    let mut s = auto_refreshing_with_alpha_expiring();
    let effects = update(&mut s, Msg::Tick(NOW + 1));
    assert!(
        effects.contains(&Effect::RefreshIfNeeded {
            name: "alpha".into()
        }),
        "{effects:?}"
    );
    alpha_timed_out(&mut s);
    let not_before = row(&s, "alpha").schedule.not_before;
    assert!(
        not_before >= NOW + 15,
        "backoff after a failure: {not_before}"
    );
    let effects = update(&mut s, Msg::Tick(NOW + 2));
    assert!(
        !effects.contains(&Effect::RefreshIfNeeded {
            name: "alpha".into()
        }),
        "no retry before the backoff ends"
    );
    let effects = update(&mut s, Msg::Tick(not_before));
    assert!(effects.contains(&Effect::RefreshIfNeeded {
        name: "alpha".into()
    }));
    // The provider rejects the refresh token: needs_login, and no more automatic attempts.
    let mut dead = record(60);
    dead.standing = Standing::NeedsLogin;
    dead.generation = 3;
    update(
        &mut s,
        Msg::worker(WorkerEvent::RefreshFailed {
            name: "alpha".into(),
            error: "invalid_grant".into(),
            transient: false,
            retry_after: None,
            record: Some(dead),
        }),
    );
    assert_eq!(row(&s, "alpha").status(NOW), Status::NeedsLogin);
    let effects = update(&mut s, Msg::Tick(NOW + 100_000));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RefreshIfNeeded { name } if name == "alpha"))
    );
}

#[test]
fn a_rate_limited_refresh_waits_as_long_as_the_server_asks() {
    let mut s = auto_refreshing_with_alpha_expiring();
    update(&mut s, Msg::Tick(NOW + 1));
    update(
        &mut s,
        Msg::worker(WorkerEvent::RefreshFailed {
            name: "alpha".into(),
            error: "refresh refused (HTTP 429, too_many_requests)".into(),
            transient: true,
            retry_after: Some(3600),
            record: None,
        }),
    );
    let auto_refreshes = |s: &mut State, at| {
        update(s, Msg::Tick(at))
            .iter()
            .any(|e| matches!(e, Effect::RefreshIfNeeded { name } if name == "alpha"))
    };
    // Far past our own backoff (15 s, at most 900 s), still inside the server's hour.
    assert!(!auto_refreshes(&mut s, NOW + 1 + 3599));
    assert!(auto_refreshes(&mut s, NOW + 1 + 3600 + 5));
}

#[test]
fn a_server_asking_for_forever_is_believed_for_an_hour() {
    let mut s = auto_refreshing_with_alpha_expiring();
    for asked in [i64::MAX, 10 * 365 * 24 * 3600] {
        update(
            &mut s,
            Msg::worker(WorkerEvent::RefreshFailed {
                name: "alpha".into(),
                error: "refresh refused (HTTP 429)".into(),
                transient: true,
                retry_after: Some(asked),
                record: None,
            }),
        );
        let not_before = row(&s, "alpha").schedule.not_before;
        assert!(
            (NOW + 3600..=NOW + 3600 + 5).contains(&not_before),
            "asked {asked}: {not_before}"
        );
    }
}

#[test]
fn auto_refresh_spreads_profiles_with_jitter_and_can_be_turned_off() {
    let mut s = state();
    s.auto_refresh = true;
    // 299 s left of a 300 s window: due only once now passes expiry - ahead + jitter (≤ 10 s).
    let mut rec = record(299);
    rec.generation = 5;
    stored_now(&mut s, "alpha", rec);
    let due = (NOW..NOW + 12).find(|&t| {
        let mut probe = s.clone();
        update(&mut probe, Msg::Tick(t)).contains(&Effect::RefreshIfNeeded {
            name: "alpha".into(),
        })
    });
    assert!(due.is_some(), "due within the jitter window");
    ch(&mut s, 'a');
    assert!(!s.auto_refresh);
    let effects = update(&mut s, Msg::Tick(NOW + 200));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RefreshIfNeeded { .. }))
    );
}

#[test]
fn every_tick_polls_the_store_and_changes_from_elsewhere_show_up() {
    let mut s = state();
    assert!(update(&mut s, Msg::Tick(NOW + 1)).contains(&Effect::PollStore));
    let mut rec = record(9000);
    rec.generation = 7;
    stored_now(&mut s, "alpha", rec);
    assert_eq!(
        row(&s, "alpha").message.as_deref(),
        Some("updated by another process")
    );
    // An older generation never replaces a newer record.
    let mut old = record(10);
    old.generation = 3;
    stored_now(&mut s, "alpha", old);
    assert_eq!(row(&s, "alpha").record.as_ref().unwrap().generation, 7);
}

#[test]
fn x_asks_and_only_y_revokes() {
    let mut s = state();
    ch(&mut s, 'x');
    assert_eq!(
        s.mode,
        Mode::ConfirmRevoke {
            name: "alpha".into()
        }
    );
    assert!(ch(&mut s, 'n').is_empty());
    assert_eq!(s.mode, Mode::Table);
    ch(&mut s, 'x');
    assert_eq!(
        ch(&mut s, 'y'),
        [Effect::Revoke {
            name: "alpha".into()
        }]
    );
    assert_eq!(s.mode, Mode::Table);
}

#[test]
fn filter_as_you_type_enter_keeps_esc_clears() {
    let mut s = state();
    ch(&mut s, '/');
    assert_eq!(s.mode, Mode::Filter);
    for c in "goo".chars() {
        ch(&mut s, c);
    }
    assert_eq!(s.visible.len(), 1);
    assert_eq!(
        s.selected_row().unwrap().name(),
        "beta",
        "matches the provider"
    );
    key(&mut s, KeyCode::Enter);
    assert_eq!((s.mode.clone(), s.filter.as_str()), (Mode::Table, "goo"));
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.visible.len(), 4);
    ch(&mut s, '/');
    for c in "needs".chars() {
        ch(&mut s, c);
    }
    assert_eq!(s.visible.len(), 2, "matches the status: beta and gamma");
    key(&mut s, KeyCode::Esc);
    assert!(s.filter.is_empty() && s.mode == Mode::Table);
}

fn load_details(name: &str, generation: Option<u64>) -> Effect {
    Effect::LoadDetails {
        name: name.into(),
        generation,
    }
}

fn details_loaded(name: &str, generation: Option<u64>, record: TokenRecord) -> Msg {
    Msg::worker(WorkerEvent::DetailsLoaded {
        name: name.into(),
        generation,
        record: Ok(Some(record)),
    })
}

/// The access token the open details hold, if they hold one.
fn held_token(s: &State) -> Option<&str> {
    let record = s.details.as_ref()?.record.as_ref()?.as_ref().ok()?;
    record.access_token.as_ref().map(|t| t.expose())
}

#[test]
fn enter_opens_details_and_asks_for_endpoints_once() {
    let mut s = state();
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        [
            Effect::LoadEndpoints {
                name: "alpha".into()
            },
            load_details("alpha", Some(1)),
        ]
    );
    assert_eq!(s.mode, Mode::Details);
    ch(&mut s, 'v');
    assert!(s.reveal);
    key(&mut s, KeyCode::Esc);
    assert_eq!(s.mode, Mode::Table);
    update(
        &mut s,
        Msg::worker(WorkerEvent::Endpoints {
            name: "alpha".into(),
            endpoints: Err("offline".into()),
        }),
    );
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        [load_details("alpha", Some(1))],
        "the endpoints are known; the token values are read again"
    );
    assert!(!s.reveal, "Enter masks the token");
}

#[test]
fn details_hold_the_token_values_of_one_profile_only_while_open() {
    let mut s = state();
    key(&mut s, KeyCode::Enter);
    let details = s.details.as_ref().expect("details asked for");
    assert_eq!(
        (details.name.as_str(), details.generation),
        ("alpha", Some(1))
    );
    assert!(details.record.is_none(), "loading");
    // An answer for another profile or generation is a late one: ignored.
    update(&mut s, details_loaded("beta", Some(1), stored(60)));
    update(&mut s, details_loaded("alpha", Some(0), stored(60)));
    assert_eq!(held_token(&s), None);
    update(&mut s, details_loaded("alpha", Some(1), stored(3600)));
    assert_eq!(held_token(&s), Some("AT"));
    // Ticks and keys that keep the pane on alpha ask for nothing more.
    assert_eq!(update(&mut s, Msg::Tick(NOW + 1)), [Effect::PollStore]);
    assert!(ch(&mut s, 'v').is_empty());
    key(&mut s, KeyCode::Esc);
    assert!(s.details.is_none(), "dropped when the details close");
}

#[test]
fn details_with_no_record_on_disk_or_an_unreadable_store_say_so() {
    let mut s = state();
    ch(&mut s, 'j');
    assert_eq!(
        key(&mut s, KeyCode::Enter),
        [
            Effect::LoadEndpoints {
                name: "beta".into()
            },
            load_details("beta", None),
        ]
    );
    update(
        &mut s,
        Msg::worker(WorkerEvent::DetailsLoaded {
            name: "beta".into(),
            generation: None,
            record: Ok(None),
        }),
    );
    let record = s.details.as_ref().unwrap().record.as_ref().unwrap();
    assert_eq!(record.as_ref().unwrap(), &TokenRecord::default());
    update(
        &mut s,
        Msg::worker(WorkerEvent::DetailsLoaded {
            name: "beta".into(),
            generation: None,
            record: Err("permission denied".into()),
        }),
    );
    let record = s.details.as_ref().unwrap().record.as_ref().unwrap();
    assert_eq!(record.as_ref().unwrap_err(), "permission denied");
}

#[test]
fn details_reload_when_the_record_changes_generation() {
    let mut s = details_open_on_alpha();
    // r in the details: the refresh result is a new generation, whose values are read again.
    ch(&mut s, 'r');
    let mut refreshed = record(7200);
    refreshed.generation = 2;
    let effects = refreshed_now(&mut s, "alpha", refreshed, RefreshOutcome::Refreshed);
    assert_eq!(effects, [load_details("alpha", Some(2))]);
    assert_eq!(
        held_token(&s),
        Some("AT"),
        "the old values stay on screen until the new ones arrive"
    );
    let mut new = stored(7200);
    new.access_token = Some(Secret::new("AT2"));
    new.generation = 2;
    update(&mut s, details_loaded("alpha", Some(2), new));
    assert_eq!(held_token(&s), Some("AT2"));
    // Another process writes the record: read again; a change elsewhere reads nothing.
    let mut outside = record(9000);
    outside.generation = 3;
    let effects = update(
        &mut s,
        Msg::worker(WorkerEvent::StoreChanged(vec![
            ("alpha".into(), Some(outside)),
            ("beta".into(), Some(record(100))),
        ])),
    );
    assert_eq!(effects, [load_details("alpha", Some(3))]);
    let effects = update(
        &mut s,
        Msg::worker(WorkerEvent::StoreChanged(vec![(
            "gamma".into(),
            Some(record(100)),
        )])),
    );
    assert!(effects.is_empty(), "{effects:?}");
}

#[test]
fn moving_in_the_details_swaps_the_values_held_and_masks_again() {
    let mut s = details_open_on_alpha();
    ch(&mut s, 'v');
    assert!(s.reveal);
    assert_eq!(
        ch(&mut s, 'j'),
        [
            Effect::LoadEndpoints {
                name: "beta".into()
            },
            load_details("beta", None),
        ]
    );
    assert_eq!(s.details.as_ref().unwrap().name, "beta");
    assert_eq!(held_token(&s), None, "alpha's values are gone");
    assert!(!s.reveal, "another profile's token starts masked");
}

#[test]
fn c_reads_the_access_token_from_the_store_then_copies_it() {
    let mut s = state();
    assert_eq!(
        ch(&mut s, 'c'),
        [Effect::LoadTokenForCopy {
            name: "alpha".into()
        }]
    );
    assert_eq!(s.flash, None, "nothing copied yet");
    let effects = update(
        &mut s,
        Msg::worker(WorkerEvent::TokenForCopy {
            name: "alpha".into(),
            token: Ok(Some(Secret::new("AT"))),
        }),
    );
    assert_eq!(
        effects,
        [Effect::Copy {
            text: Secret::new("AT")
        }]
    );
    assert_eq!(
        s.flash.as_deref(),
        Some("alpha: access token copied (OSC 52)")
    );
    // The store lost the token meanwhile, or cannot be read: nothing copied, and the flash says why.
    for (token, said) in [
        (Ok(None), "alpha: no access token to copy"),
        (
            Err("permission denied".into()),
            "alpha: cannot read the access token: permission denied",
        ),
    ] {
        let effects = update(
            &mut s,
            Msg::worker(WorkerEvent::TokenForCopy {
                name: "alpha".into(),
                token,
            }),
        );
        assert!(effects.is_empty());
        assert_eq!(s.flash.as_deref(), Some(said));
    }
}

#[test]
fn c_without_an_access_token_refuses_without_reading_the_store() {
    let mut s = state();
    ch(&mut s, 'j');
    assert!(ch(&mut s, 'c').is_empty());
    assert_eq!(s.flash.as_deref(), Some("beta: no access token to copy"));
}

#[test]
fn l_starts_a_login_that_esc_cancels() {
    let mut s = state();
    ch(&mut s, 'j');
    assert_eq!(
        ch(&mut s, 'l'),
        [Effect::StartLogin {
            name: "beta".into()
        }]
    );
    assert!(matches!(s.mode, Mode::Login { .. }));
    assert_eq!(
        key(&mut s, KeyCode::Esc),
        [Effect::CancelLogin {
            name: "beta".into()
        }]
    );
    assert!(row(&s, "beta").activity.is_idle());
}

#[test]
fn login_done_makes_the_row_valid() {
    let mut s = state();
    ch(&mut s, 'j');
    ch(&mut s, 'l');
    update(
        &mut s,
        Msg::worker(WorkerEvent::LoginDone {
            name: "beta".into(),
            record: record(3600),
        }),
    );
    assert_eq!(row(&s, "beta").status(NOW), Status::Valid);
    assert_eq!(s.mode, Mode::Table);
}

#[test]
fn quit_with_q_ctrl_c_or_a_signal() {
    let mut s = state();
    ch(&mut s, 'q');
    assert!(s.quit);
    let mut s = state();
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert!(s.quit);
    let mut s = state();
    update(&mut s, Msg::Terminate);
    assert!(s.quit);
}

#[test]
fn an_idle_tick_with_no_countdown_on_screen_draws_nothing() {
    let src = "[profiles.b]\nprovider = \"google\"\nclient_id = \"c\"\n";
    let mut s = State::new(
        &Config::parse(Path::new("p.toml"), src).unwrap(),
        NOW,
        80,
        24,
    );
    s.dirty = false;
    update(&mut s, Msg::Tick(NOW + 1));
    assert!(!s.dirty, "nothing on screen changes by itself");
    let mut s = state();
    s.dirty = false;
    update(&mut s, Msg::Tick(NOW + 1));
    assert!(s.dirty, "a countdown moves");
}

#[test]
fn the_selection_scrolls_into_view() {
    let mut s = state();
    update(
        &mut s,
        Msg::Resize {
            width: 80,
            height: 5,
        },
    );
    assert_eq!(s.table_height(), 2);
    ch(&mut s, 'G');
    assert_eq!((s.selected, s.offset), (3, 2));
    ch(&mut s, 'g');
    assert_eq!(s.offset, 0);
}

/// The dashboard's schedule over five minutes of ticks, answered by a worker that refreshes at
/// once: a token is refreshed once it has used up half of its lifetime (or reached
/// `refresh_ahead`, if that comes later), never at every tick. Before the due rule was bounded by
/// the lifetime, a token living no longer than `refresh_ahead` was refreshed at every tick.
#[test]
fn auto_refresh_fires_once_per_half_lifetime_not_once_per_tick() {
    for lifetime in [10, 60, 300, 3600] {
        let mut s = state();
        s.auto_refresh = true;
        let granted = |at: i64, generation: u64| {
            let mut r = record(at - NOW + lifetime);
            r.obtained_at = Some(at);
            r.generation = generation;
            r
        };
        update(
            &mut s,
            Msg::worker(WorkerEvent::StoreChanged(vec![(
                "alpha".into(),
                Some(granted(NOW, 2)),
            )])),
        );
        let mut refreshed_at = vec![NOW];
        for t in NOW + 1..=NOW + 300 {
            let effects = update(&mut s, Msg::Tick(t));
            if effects.contains(&Effect::RefreshIfNeeded {
                name: "alpha".into(),
            }) {
                refreshed_at.push(t);
                let generation = 2 + refreshed_at.len() as u64;
                refreshed_now(
                    &mut s,
                    "alpha",
                    granted(t, generation),
                    RefreshOutcome::Rotated,
                );
            }
            assert_eq!(row(&s, "alpha").status(t), {
                let left = refreshed_at.last().unwrap() + lifetime - t;
                if left < (lifetime / 2).min(300) {
                    Status::Expiring
                } else {
                    Status::Valid
                }
            });
        }
        let half = (lifetime / 2).min(300);
        for pair in refreshed_at.windows(2) {
            let gap = pair[1] - pair[0];
            // Due once less than `half` is left; the jitter may hold it up to a quarter more.
            assert!(
                gap > lifetime - half && gap <= lifetime - half + 1 + (half / 4).min(10),
                "lifetime {lifetime}: refreshed at {refreshed_at:?}"
            );
        }
        let expected = match lifetime {
            10 => 300 / 7..=300 / 5,
            60 => 300 / 38..=300 / 30,
            300 => 300 / 160..=300 / 150,
            _ => 0..=0,
        };
        assert!(
            expected.contains(&(refreshed_at.len() - 1)),
            "lifetime {lifetime}: {} refreshes in 300 s: {refreshed_at:?}",
            refreshed_at.len() - 1
        );
    }
}

/// The store's words for a record it refuses, as the worker's poll reports them.
const REFUSED: &str = "/s/alpha.json: is a symbolic link, not a token record; tokdash keeps only plain files in its store: remove the link (rm /s/alpha.json) and run: tokdash login alpha (or tokdash import alpha)";

fn refused(s: &mut State, name: &str, problem: &str) -> Vec<Effect> {
    update(
        s,
        Msg::worker(WorkerEvent::RecordsUnusable(vec![(
            name.into(),
            problem.into(),
        )])),
    )
}

#[test]
fn a_refused_record_makes_an_error_row_with_the_stores_words_and_no_stale_facts() {
    let mut s = state();
    assert_eq!(row(&s, "alpha").status(NOW), Status::Valid);
    assert!(refused(&mut s, "alpha", REFUSED).is_empty());
    let alpha = row(&s, "alpha");
    assert_eq!(alpha.status(NOW), Status::Error);
    assert_eq!(alpha.problem.as_deref(), Some(REFUSED));
    assert!(alpha.record.is_none(), "the old expiry no longer holds");
    assert_eq!(s.log.back().unwrap().text, REFUSED);
    assert_eq!(s.log.back().unwrap().kind, EventKind::Bad);
    // The same words again add nothing to the log.
    let logged = s.log.len();
    refused(&mut s, "alpha", REFUSED);
    assert_eq!(s.log.len(), logged);
    // A filter on the status finds it.
    ch(&mut s, '/');
    for c in "error".chars() {
        ch(&mut s, c);
    }
    assert_eq!(s.selected_row().unwrap().name(), "alpha");
    assert_eq!(s.visible.len(), 1);
}

#[test]
fn nothing_is_done_with_a_refused_record_and_no_key_says_press_l() {
    let mut s = state();
    s.auto_refresh = true;
    // robot (client credentials) would refresh by itself with no record at all.
    assert!(
        update(&mut s.clone(), Msg::Tick(NOW + 1)).contains(&Effect::RefreshIfNeeded {
            name: "robot".into()
        })
    );
    refused(
        &mut s,
        "robot",
        "/s/robot.json: is a directory, not a token record",
    );
    refused(&mut s, "alpha", REFUSED);
    let effects = update(&mut s, Msg::Tick(NOW + 1));
    assert_eq!(effects, [Effect::PollStore], "no auto-refresh of either");
    for c in ['r', 'l', 'x', 'c'] {
        assert!(ch(&mut s, c).is_empty(), "{c} does nothing");
        let flash = s.flash.clone().unwrap();
        assert_eq!(flash, format!("alpha: nothing done: {REFUSED}"), "{c}");
        assert_eq!(s.mode, Mode::Table, "{c}");
    }
    assert!(row(&s, "alpha").activity.is_idle());
    let effects = ch(&mut s, 'R');
    assert!(
        !effects.iter().any(
            |e| matches!(e, Effect::Refresh { name, .. } if name == "alpha" || name == "robot")
        ),
        "{effects:?}"
    );
}

#[test]
fn the_poll_that_reads_the_record_again_clears_the_error() {
    let mut s = state();
    refused(&mut s, "alpha", REFUSED);
    // Fixed with a record of an older generation than the one shown before: still taken.
    let mut fixed = record(3600);
    fixed.generation = 0;
    stored_now(&mut s, "alpha", fixed);
    let alpha = row(&s, "alpha");
    assert_eq!(alpha.problem, None);
    assert_eq!(alpha.status(NOW), Status::Valid);
    assert_eq!(alpha.message, None);
    assert_eq!(s.log.back().unwrap().text, "its record can be read again");
    // Removed instead: a profile with no record.
    refused(&mut s, "alpha", REFUSED);
    update(
        &mut s,
        Msg::worker(WorkerEvent::StoreChanged(vec![("alpha".into(), None)])),
    );
    assert_eq!(row(&s, "alpha").problem, None);
    assert_eq!(row(&s, "alpha").status(NOW), Status::NeedsLogin);
    // And r works again on what is there.
    refused(
        &mut s,
        "robot",
        "/s/robot.json: is a directory, not a token record",
    );
    update(
        &mut s,
        Msg::worker(WorkerEvent::StoreChanged(vec![("robot".into(), None)])),
    );
    ch(&mut s, 'G');
    assert_eq!(
        ch(&mut s, 'r'),
        [Effect::Refresh {
            name: "robot".into(),
            seen_generation: None
        }]
    );
}

#[test]
fn a_revocation_or_a_login_is_shown_as_such_and_leaves_the_status_alone() {
    let mut s = state();
    ch(&mut s, 'x');
    ch(&mut s, 'y');
    let alpha = row(&s, "alpha");
    assert_eq!(alpha.activity, Activity::Revoking);
    assert_eq!(alpha.activity.text(), Some("revoking…"));
    assert_eq!(alpha.status(NOW), Status::Valid, "valid until revoked");
    assert!(
        ch(&mut s, 'r').is_empty(),
        "one request per profile at a time"
    );
    assert!(ch(&mut s, 'x').is_empty() && s.flash.as_deref().unwrap().contains("busy"));
    update(
        &mut s,
        Msg::worker(WorkerEvent::Revoked {
            name: "alpha".into(),
            record: None,
        }),
    );
    assert!(row(&s, "alpha").activity.is_idle());
    assert_eq!(row(&s, "alpha").message.as_deref(), Some("revoked"));

    ch(&mut s, 'j');
    ch(&mut s, 'l');
    let beta = row(&s, "beta");
    assert_eq!(beta.activity, Activity::LoggingIn);
    assert_eq!(beta.activity.text(), Some("logging in…"));
    assert_eq!(
        beta.status(NOW),
        Status::NeedsLogin,
        "until the login is approved"
    );
    assert!(
        !s.counts()
            .iter()
            .any(|(status, _)| *status == Status::Refreshing),
        "the header counts nothing as refreshing: {:?}",
        s.counts()
    );
}

/// One refresh-token profile with a 400 s idle window and a one-day login warning.
fn idle_state(record: RecordMeta) -> State {
    let src = r#"
[settings]
login_warning = "1d"
[profiles.kc]
provider = "oauth2"
token_url = "https://a.example.com/t"
client_id = "c"
refresh_token_idle = "400s"
"#;
    let mut s = State::new(
        &Config::parse(Path::new("p.toml"), src).unwrap(),
        NOW,
        100,
        30,
    );
    stored_now(&mut s, "kc", record);
    s
}

/// A fresh access token (an hour) from a login at `at`, the idle window counting from there.
fn logged_in_at(at: i64, generation: u64) -> RecordMeta {
    let mut r = record(at - NOW + 3600);
    r.obtained_at = Some(at);
    r.family_started_at = Some(at);
    r.last_refresh = Some(at);
    r.generation = generation;
    r
}

#[test]
fn a_closing_idle_window_is_refreshed_at_the_tick_and_then_not_again_until_the_next() {
    let mut s = idle_state(logged_in_at(NOW, 1));
    s.auto_refresh = true;
    let kc = Effect::RefreshIfNeeded { name: "kc".into() };
    // 400 s window: due once less than a quarter (100 s) is left, i.e. after NOW + 300.
    for t in NOW + 1..=NOW + 300 {
        assert!(!update(&mut s, Msg::Tick(t)).contains(&kc), "{t}");
    }
    assert!(update(&mut s, Msg::Tick(NOW + 301)).contains(&kc));
    assert_eq!(row(&s, "kc").status(NOW + 301), Status::Refreshing);
    refreshed_now(
        &mut s,
        "kc",
        logged_in_at(NOW + 301, 2),
        RefreshOutcome::Refreshed,
    );
    let mut fired = Vec::new();
    for t in NOW + 302..=NOW + 700 {
        if update(&mut s, Msg::Tick(t)).contains(&kc) {
            fired.push(t);
            break;
        }
    }
    assert_eq!(fired, [NOW + 301 + 301], "once the next window closes");
}

#[test]
fn a_row_crossing_into_the_login_warning_is_drawn_at_that_tick() {
    // No access-token expiry and no refresh yet: nothing else on the row moves by itself.
    let mut r = RecordMeta {
        has_access_token: true,
        has_refresh_token: true,
        generation: 1,
        ..Default::default()
    };
    r.refresh_expires_at = Some(NOW + 86_400 + 10);
    let mut s = idle_state(r);
    s.auto_refresh = false;
    s.dirty = false;
    update(&mut s, Msg::Tick(NOW + 5));
    assert!(!s.dirty, "outside the warning: nothing to draw");
    assert_eq!(
        row(&s, "kc").login_ends_soon(NOW + 5, s.login_warning),
        None
    );
    update(&mut s, Msg::Tick(NOW + 11));
    assert!(s.dirty, "inside the warning from this tick");
    assert_eq!(
        row(&s, "kc").login_ends_soon(NOW + 11, s.login_warning),
        Some(NOW + 86_410)
    );
}

#[test]
fn a_failure_message_is_marked_and_a_success_clears_the_mark() {
    let mut s = state();
    ch(&mut s, 'r');
    alpha_timed_out(&mut s);
    assert!(row(&s, "alpha").message_is_error);
    ch(&mut s, 'r');
    refreshed_now(&mut s, "alpha", record(7200), RefreshOutcome::Refreshed);
    assert!(!row(&s, "alpha").message_is_error);
}

/// alpha's refresh failed with a timeout (transient, no Retry-After, the record untouched).
fn alpha_timed_out(s: &mut State) {
    update(
        s,
        Msg::worker(WorkerEvent::RefreshFailed {
            name: "alpha".into(),
            error: "timeout".into(),
            transient: true,
            retry_after: None,
            record: None,
        }),
    );
}

/// The worker's poll reports `name`'s record as `record`.
fn stored_now(s: &mut State, name: &str, record: RecordMeta) {
    update(
        s,
        Msg::worker(WorkerEvent::StoreChanged(vec![(name.into(), Some(record))])),
    );
}

/// The details of alpha open, its record (an hour left, generation 1) read.
fn details_open_on_alpha() -> State {
    let mut s = state();
    key(&mut s, KeyCode::Enter);
    update(&mut s, details_loaded("alpha", Some(1), stored(3600)));
    s
}

/// The worker reports that `name` was refreshed, with this outcome and stored record.
fn refreshed_now(
    s: &mut State,
    name: &str,
    record: RecordMeta,
    outcome: RefreshOutcome,
) -> Vec<Effect> {
    update(
        s,
        Msg::worker(WorkerEvent::Refreshed {
            name: name.into(),
            record,
            outcome,
        }),
    )
}

#[test]
fn before_the_store_is_read_nothing_is_due_and_record_keys_wait() {
    let mut s = State::new(&config(), NOW, 100, 30);
    assert!(!s.store_read);
    // robot (client credentials) needs no record to refresh: only the store can say it is
    // already fresh, so the schedule waits for it.
    assert_eq!(update(&mut s, Msg::Tick(NOW)), [Effect::PollStore]);
    for c in ['r', 'R', 'l', 'x', 'c'] {
        assert!(ch(&mut s, c).is_empty(), "{c} waits for the store");
        assert_eq!(s.flash.as_deref(), Some(READING_THE_STORE), "{c}");
        assert_eq!(s.mode, Mode::Table, "{c}");
    }
    // The first poll's answer, even one that found nothing, marks the store read.
    update(&mut s, Msg::worker(WorkerEvent::StoreChanged(Vec::new())));
    assert!(s.store_read);
    assert!(
        update(&mut s, Msg::Tick(NOW + 1)).contains(&Effect::RefreshIfNeeded {
            name: "robot".into()
        })
    );
}
