//! The dashboard end to end (the real binary in tmux) where tui_e2e.rs does not go: token
//! endpoints that fail in every way but a hang, all at once in one dashboard; and known token
//! values that must never reach the screen or the log, through the details, a copy and a refresh
//! that rotates them.

use crate::support::faults::{SECRET, SECRET_VAR};
use crate::support::mocks::{json, post, post_answers, requests_to, server};
use crate::support::raw::{BigBody, Framing, no_more_connections};
use crate::support::tmux::Tmux;
use crate::support::world::World;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use wiremock::matchers::body_string_contains;
use wiremock::{MockServer, ResponseTemplate};

const WAIT: Duration = Duration::from_secs(20);
/// `MAX_ATTEMPTS` of src/engine/exchange.rs.
const MAX_ATTEMPTS: usize = 3;
/// `MAX_BODY` of src/oauth/http.rs.
const MAX_BODY: usize = 1 << 20;
/// Fifty times `MAX_BODY`.
const BIG_BODY: usize = 50 << 20;

/// The row of profile `name`: the screen line that starts with it.
fn line_of<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or("")
}

/// The STATUS column of a row (NAME, PROVIDER, STATUS, … at 100 columns and more).
fn status_of(screen: &str, name: &str) -> String {
    line_of(screen, name)
        .split_whitespace()
        .nth(2)
        .unwrap_or("")
        .to_string()
}

fn envs(w: &World, extra: &[(&'static str, &str)]) -> Vec<(&'static str, PathBuf)> {
    let mut envs = w.envs();
    envs.push(("TOKDASH_LOG", "trace".into()));
    envs.extend(extra.iter().map(|(k, v)| (*k, PathBuf::from(v))));
    envs
}

fn pid_alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .status()
        .unwrap()
        .success()
}

/// Says what a screen shows that it must not, if anything.
type Leak = Box<dyn Fn(&str) -> Option<String>>;

/// A tmux session whose every captured screen is checked: none may show a forbidden text.
struct Watched {
    tmux: Tmux,
    leak: Leak,
    captures: std::cell::Cell<usize>,
}

impl Watched {
    fn check(&self, screen: &str) {
        self.captures.set(self.captures.get() + 1);
        if let Some(what) = (self.leak)(screen) {
            panic!("{what} on screen:\n{screen}");
        }
    }

    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        self.tmux.wait_for(what, WAIT, |s| {
            self.check(s);
            f(s)
        })
    }

    fn wait_for_text(&self, text: &str) -> String {
        self.wait_for(&format!("`{text}` on screen"), |s| s.contains(text))
    }

    fn screen(&self) -> String {
        let s = self.tmux.screen();
        self.check(&s);
        s
    }

    fn keys(&self, keys: &[&str]) {
        self.tmux.keys(keys);
    }
}

// ---------------------------------------------------------------------------------------------

/// A faulty profile: its name, the marker in its body, what its row's message must contain and
/// how it must end (the whole message, on its one line), and how many requests it gets.
struct Fault {
    name: &'static str,
    marker: &'static str,
    contains: &'static str,
    ends: &'static str,
    requests: usize,
}

const FAULTS: [Fault; 5] = [
    Fault {
        name: "gateway502",
        marker: "MARK-html502-9d1",
        contains: "refresh failed: the server answered HTTP 502 Bad Gateway with a text/html body",
        ends: "not an OAuth answer",
        requests: MAX_ATTEMPTS,
    },
    Fault {
        name: "json500",
        marker: "MARK-json500-4c7",
        contains: "refresh refused (HTTP 500, server_error: The server hiccuped)",
        ends: "a retry may succeed",
        requests: MAX_ATTEMPTS,
    },
    Fault {
        name: "ratelimit",
        marker: "MARK-ratelimit-2b8",
        contains: "refresh refused (HTTP 429, too_many_requests: Slow down)",
        ends: "the server asks to retry in 3600s",
        requests: 1,
    },
    Fault {
        name: "notjson",
        marker: "MARK-notjson-7e3",
        contains: "refresh failed: the token endpoint's answer is not a token response",
        ends: "(not JSON (expected value))",
        requests: 1,
    },
    Fault {
        name: "bigbody",
        marker: "MARK-bigbody-5a0",
        contains: "refresh failed: the response from 127.0.0.1 is over 1024 KiB",
        ends: "check the endpoints of bigbody: tokdash config check",
        requests: 1,
    },
];

/// The row of `f` shows status `error` and its whole message.
fn row_shows(screen: &str, f: &Fault) -> bool {
    let line = line_of(screen, f.name);
    status_of(screen, f.name) == "error"
        && line
            .split_once(f.contains)
            .is_some_and(|(_, rest)| rest.trim_end().ends_with(f.ends))
}

/// The lines of the event log (`L`) on screen: `HH:MM:SS profile text`.
fn events(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .skip_while(|l| !l.contains("event log (L to hide"))
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|t| t.len() == 8 && t.as_bytes()[2] == b':' && t.as_bytes()[5] == b':')
        })
        .collect()
}

fn fault(name: &str) -> &'static Fault {
    FAULTS.iter().find(|f| f.name == name).unwrap()
}

/// The answer of each wiremock fault (all but `bigbody`, a raw server).
fn faulty_answer(f: &Fault) -> ResponseTemplate {
    let marker = f.marker;
    match f.name {
        "gateway502" => ResponseTemplate::new(502).set_body_raw(
            format!(
                "<html><head><title>502 Bad Gateway</title></head><body>{marker}</body></html>"
            ),
            "text/html; charset=utf-8",
        ),
        "json500" => json(
            500,
            json!({"error": "server_error", "error_description": "The server hiccuped", "debug": marker}),
        ),
        "ratelimit" => json(
            429,
            json!({"error": "too_many_requests", "error_description": "Slow down", "x": marker}),
        )
        .insert_header("retry-after", "3600"),
        "notjson" => ResponseTemplate::new(200).set_body_raw(
            format!("<html><body>maintenance {marker}</body></html>"),
            "text/html",
        ),
        other => unreachable!("{other}"),
    }
}

fn profile(name: &str, token_url: &str) -> String {
    format!(
        "[profiles.{name}]\nprovider = \"oauth2\"\nclient_id = \"c-{name}\"\n\
         client_secret_env = \"{SECRET_VAR}\"\ntoken_url = \"{token_url}\"\n\n"
    )
}

/// One dashboard, six profiles, each with its own token endpoint on loopback: an HTML 502 on
/// every attempt, a JSON 500 `server_error`, a 429 with `Retry-After: 3600`, a 200 that is not
/// JSON, a 200 with a 50 MiB body and no `Content-Length` (held back until the keys below were
/// tried), and one that refreshes. `R` refreshes all of them.
#[tokio::test]
async fn faulty_token_endpoints_each_show_an_error_row_and_the_dashboard_keeps_going() {
    let mut servers: Vec<(&str, MockServer)> = Vec::new();
    // The held-back big body must come before this timeout: the keys tried while it is held
    // take about a second. No auto-refresh: only `R` sends requests.
    let mut config = String::from("[settings]\nauto_refresh = false\ntimeout = \"10s\"\n\n");
    for f in FAULTS.iter().filter(|f| f.name != "bigbody") {
        let s = server().await;
        post_answers(&s, "/token", faulty_answer(f), f.requests as u64).await;
        config.push_str(&profile(f.name, &format!("{}/token", s.uri())));
        servers.push((f.name, s));
    }
    let mut big = BigBody::gated(Framing::Chunked, BIG_BODY, fault("bigbody").marker);
    config.push_str(&profile("bigbody", &big.url));
    let good = server().await;
    post_answers(
        &good,
        "/token",
        json(
            200,
            json!({"access_token": "AT-good-new", "refresh_token": "RT-good-new", "expires_in": 3600}),
        ),
        1,
    )
    .await;
    config.push_str(&profile("good", &format!("{}/token", good.uri())));

    let w = World::new(&config);
    let names: Vec<&str> = FAULTS.iter().map(|f| f.name).chain(["good"]).collect();
    for n in &names {
        w.import(
            n,
            &json!({"access_token": format!("AT-{n}-old"), "refresh_token": format!("RT-{n}-old"), "expires_in": 3600}),
        );
    }

    let markers: Vec<&str> = FAULTS.iter().map(|f| f.marker).collect();
    let leak_markers = markers.clone();
    let tmux = Watched {
        tmux: Tmux::start(&[], &envs(&w, &[(SECRET_VAR, SECRET)]), 250, 30),
        leak: Box::new(move |s| {
            leak_markers
                .iter()
                .find(|m| s.contains(*m))
                .map(|m| format!("the body marker {m}"))
        }),
        captures: Default::default(),
    };
    tmux.wait_for("six valid rows", |s| {
        names.iter().all(|n| status_of(s, n) == "valid")
    });

    // R: every row is refreshed at once.
    tmux.keys(&["R"]);
    big.wait_request(WAIT);
    // Every answer but the held one is in, while that one is still in flight.
    let screen = tmux.wait_for("every row but bigbody to settle", |s| {
        FAULTS
            .iter()
            .filter(|f| f.name != "bigbody")
            .all(|f| row_shows(s, f))
            && status_of(s, "good") == "valid"
    });
    assert_eq!(status_of(&screen, "bigbody"), "refreshing", "{screen}");

    // Keys answer with the request in flight: help, Esc, a filter kept then cleared.
    tmux.keys(&["?"]);
    tmux.wait_for_text("any key closes");
    // Esc alone: an Esc followed at once by another key reads as Alt+key in any terminal.
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help to close", |s| !s.contains("any key closes"));
    tmux.keys(&["/", "b", "i", "g"]);
    tmux.wait_for("only bigbody", |s| {
        s.contains("/big")
            && names
                .iter()
                .all(|n| line_of(s, n).is_empty() == (*n != "bigbody"))
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for_text("filter: big (1 shown");
    tmux.keys(&["Escape"]);
    tmux.wait_for("every row back", |s| {
        names.iter().all(|n| !line_of(s, n).is_empty())
    });
    let screen = tmux.screen();
    assert_eq!(
        status_of(&screen, "bigbody"),
        "refreshing",
        "the keys were tried while the request was in flight:\n{screen}"
    );

    // The 50 MiB answer goes out now.
    big.release();
    // Each faulty row: status error, and its whole message on its one line; the good one
    // refreshed. All in the condition waited for: a screen captured halfway through a redraw may
    // show a row's new status before its new message.
    tmux.wait_for("every row settled, each with its message", |s| {
        FAULTS.iter().all(|f| row_shows(s, f))
            && status_of(s, "good") == "valid"
            && line_of(s, "good").contains("refreshed; new refresh token stored")
            && s.lines().next().unwrap_or("").contains("1 valid 5 error")
    });

    // The big body: more than the cap was sent, not all of it, and tokdash hung up; no second try.
    let (sent, listener) = big.finish(WAIT);
    assert!(
        sent.hung_up && sent.body_bytes > MAX_BODY && sent.body_bytes < BIG_BODY,
        "{sent:?}"
    );
    assert!(no_more_connections(&listener), "the refresh was sent again");
    for (name, s) in &servers {
        assert_eq!(
            requests_to(s, "/token").await.len(),
            fault(name).requests,
            "{name}"
        );
    }
    assert_eq!(requests_to(&good, "/token").await.len(), 1);

    // Keys still answer afterwards; `/error` keeps the five faulty rows only.
    tmux.keys(&["?"]);
    tmux.wait_for_text("any key closes");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help to close", |s| !s.contains("any key closes"));
    tmux.keys(&["/", "e", "r", "r", "o", "r"]);
    tmux.wait_for("the five error rows only", |s| {
        s.contains("/error")
            && line_of(s, "good").is_empty()
            && FAULTS.iter().all(|f| !line_of(s, f.name).is_empty())
    });
    tmux.keys(&["Enter"]);
    tmux.wait_for_text("filter: error (5 shown");
    tmux.keys(&["Escape"]);
    tmux.wait_for("every row back", |s| {
        names.iter().all(|n| !line_of(s, n).is_empty())
    });

    // L: the event log has one line per failure, naming its profile, and one for the success.
    tmux.keys(&["L"]);
    let screen = tmux.wait_for("the event of every profile", |s| {
        let log = events(s);
        FAULTS.iter().all(|f| {
            log.iter().any(|l| {
                l.split_whitespace().nth(1) == Some(f.name)
                    && l.contains(f.contains)
                    && l.trim_end().ends_with("(will retry)")
            })
        }) && log.iter().any(|l| {
            l.split_whitespace().nth(1) == Some("good")
                && l.contains("refreshed; new refresh token stored")
        })
    });
    let log = events(&screen);
    assert_eq!(log.len(), names.len(), "one event per profile:\n{screen}");
    for n in &names {
        let count = log
            .iter()
            .filter(|l| l.split_whitespace().nth(1) == Some(*n))
            .count();
        assert_eq!(count, 1, "one event for {n}:\n{screen}");
    }

    // Still running; nothing from the bodies stored or logged; the refresh tokens kept.
    let pid = tmux.tmux.tokdash_pid();
    assert!(pid_alive(&pid), "tokdash {pid} is gone");
    assert!(!tmux.screen().contains("TOKDASH-EXITED"));
    for f in &FAULTS {
        let n = f.name;
        let record = w.record(n).unwrap();
        assert_eq!(record["refresh_token"], format!("RT-{n}-old"), "{record}");
        assert_eq!(record["access_token"], format!("AT-{n}-old"), "{record}");
        assert_eq!(record["last_error"]["transient"], true, "{record}");
        assert!(!record.to_string().contains(f.marker), "{record}");
    }
    let good_record = w.record("good").unwrap();
    assert_eq!(good_record["refresh_token"], "RT-good-new");
    assert_eq!(good_record["access_token"], "AT-good-new");

    tmux.keys(&["q"]);
    assert_eq!(tmux.tmux.wait_exit(WAIT), 0);
    assert_eq!(
        tmux.tmux.var("alternate_on"),
        "0",
        "left the alternate screen"
    );
    assert_eq!(
        tmux.tmux.var("cursor_flag"),
        "1",
        "the cursor is visible again"
    );
    tmux.screen();
    let log = w.log_text();
    assert!(log.contains("refresh failed"), "{log}");
    for m in &markers {
        assert!(!log.contains(m), "{m} reached the log");
    }
    eprintln!("{} screens checked", tmux.captures.get());
}

// ---------------------------------------------------------------------------------------------

/// An unsigned JWT with these claims and a signature of our own.
fn jwt(claims: &Value, signature: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT","kid":"k-q9"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// `Secret::masked` of src/secret.rs: the length and the last quarter (4 characters at most).
fn masked(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    let tail = (chars.len() / 4).min(4);
    let shown: String = chars[chars.len() - tail..].iter().collect();
    format!("••••••••{shown} ({} chars)", chars.len())
}

/// Any 10 characters in a row of a secret: a value cut by a line break still shows.
const WINDOW: usize = 10;

fn leaked_part<'s>(text: &str, secrets: &'s [String]) -> Option<&'s str> {
    secrets.iter().find_map(|s| {
        (0..=s.len().saturating_sub(WINDOW))
            .map(|i| &s[i..(i + WINDOW).min(s.len())])
            .find(|part| text.contains(part))
    })
}

/// Known token values (the access and id tokens JWTs), a details pane opened but never revealed,
/// a copy, and a refresh that rotates all three to other known values: no part of any of the six
/// values (nor of the client secret or its Basic header) on any screen or in the log.
#[tokio::test]
async fn token_values_never_reach_the_screen_or_the_log() {
    const CLIENT_SECRET: &str = "CS-q9-client-Vr5";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |which: &str, aud: &str| {
        json!({
            "iss": "https://idp.q9.example", "sub": "user-q9", "aud": aud,
            "iat": now, "exp": now + 3600, "jti": format!("jti-q9-{which}"),
        })
    };
    let at1 = jwt(&claims("one", "api-q9"), "AT-sig-q9-one-Hx7Lm2Pw");
    let id1 = jwt(&claims("one", "client-q9"), "ID-sig-q9-one-Nb4Qs8Yt");
    let rt1 = "RT-q9-one-Jd72kqZp".to_string();
    let at2 = jwt(&claims("two", "api-q9"), "AT-sig-q9-two-Ug3Rk9Fe");
    let id2 = jwt(&claims("two", "client-q9"), "ID-sig-q9-two-Wc6Tz1Ma");
    let rt2 = "RT-q9-two-Vq38leXs".to_string();
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("q9-client:{CLIENT_SECRET}"))
    };
    let secrets: Vec<String> = [&at1, &id1, &rt1, &at2, &id2, &rt2]
        .into_iter()
        .cloned()
        .chain([CLIENT_SECRET.to_string(), basic])
        .collect();

    let server = server().await;
    crate::support::mocks::mount(
        &server,
        post("/token").and(body_string_contains(format!("refresh_token={rt1}"))),
        json(
            200,
            json!({
                "access_token": at2, "refresh_token": rt2, "id_token": id2,
                "expires_in": 3600, "token_type": "Bearer", "scope": "openid read"
            }),
        ),
        1,
    )
    .await;
    let w = World::new(&format!(
        "[settings]\nauto_refresh = false\n\n[profiles.s]\nprovider = \"oauth2\"\n\
         client_id = \"q9-client\"\nclient_secret_env = \"{SECRET_VAR}\"\n\
         auth_method = \"client_secret_basic\"\ntoken_url = \"{}/token\"\n",
        server.uri()
    ));
    w.import(
        "s",
        &json!({
            "access_token": at1, "refresh_token": rt1, "id_token": id1,
            "expires_in": 3600, "token_type": "Bearer", "scope": "openid read"
        }),
    );

    let watched_secrets = secrets.clone();
    let tmux = Watched {
        tmux: Tmux::start(&[], &envs(&w, &[(SECRET_VAR, CLIENT_SECRET)]), 120, 40),
        leak: Box::new(move |s| {
            leaked_part(s, &watched_secrets).map(|part| format!("`{part}`, part of a secret,"))
        }),
        captures: Default::default(),
    };
    tmux.wait_for("s valid", |s| status_of(s, "s") == "valid");

    // Enter: the details, with the claims of both JWTs, and the tokens masked.
    tmux.keys(&["Enter"]);
    let shown = [
        "access JWT claims (decoded, NOT verified)".to_string(),
        "id token claims (decoded, NOT verified)".into(),
        "sub: \"user-q9\"".into(),
        "jti: \"jti-q9-one\"".into(),
        masked(&at1),
        masked(&rt1),
    ];
    tmux.wait_for("the details: claims, tokens masked", |s| {
        shown.iter().all(|t| s.contains(t))
    });

    // c copies (OSC 52 to the terminal, which capture-pane does not show); v is never pressed.
    tmux.keys(&["c"]);
    tmux.wait_for_text("s: access token copied (OSC 52)");
    crate::support::wait_until(WAIT, "tmux's buffer to hold the token", || {
        tmux.tmux.run(&["show-buffer"]).contains(&at1)
    });

    // r from the details: the server rotates all three; the pane follows, still masked.
    tmux.keys(&["r"]);
    crate::support::wait_until(WAIT, "the refresh to be stored", || {
        w.record("s").unwrap()["refresh_token"] == rt2.as_str()
    });
    tmux.wait_for(
        "the new values masked in the details, the old ones gone",
        |s| {
            s.contains(&masked(&at2))
                && s.contains(&masked(&rt2))
                && s.contains("jti: \"jti-q9-two\"")
                && !s.contains(&masked(&at1))
                && !s.contains(&masked(&rt1))
                && !s.contains("jti-q9-one")
        },
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("the row refreshed", |s| {
        !s.contains("NOT verified")
            && line_of(s, "s").contains("refreshed; new refresh token stored")
    });
    tmux.keys(&["L"]);
    tmux.wait_for_text("event log (L to hide");

    tmux.keys(&["q"]);
    assert_eq!(tmux.tmux.wait_exit(WAIT), 0);
    tmux.screen();
    assert_eq!(requests_to(&server, "/token").await.len(), 1);
    let record = w.record("s").unwrap();
    assert_eq!(record["access_token"], at2.as_str());
    assert_eq!(record["id_token"], id2.as_str());

    let log = w.log_text();
    assert!(
        log.contains("refreshed"),
        "the log records the refresh:\n{log}"
    );
    if let Some(part) = leaked_part(&log, &secrets) {
        panic!("`{part}`, part of a secret, is in the log:\n{log}");
    }
    eprintln!("{} screens checked", tmux.captures.get());
}
