//! A 50 MiB body with no `Content-Length` (chunked, then close-delimited) from the endpoints
//! other than the token endpoint: userinfo (`tokdash check p`), revocation
//! (`tokdash revoke p --yes`) and OIDC discovery (`tokdash token p`, access token expired).
//! Each must be refused as too large after reading about 1 MiB, with one stderr line and exit
//! code 1, without a second request, leaving the record as the command promises, and with
//! tokdash's memory bounded.
//!
//! Memory is the peak RSS of the children of the test's process (`getrusage(RUSAGE_CHILDREN)`),
//! so the test runs alone in a process of its own, as big_body.rs does (support/peak_rss.rs
//! explains why the figure is an upper bound of tokdash's own peak).

use crate::support::faults::{assert_one_line_failure, stderr};
use crate::support::peak_rss::{alone_in_a_process, assert_children_peaked_under};
use crate::support::raw::{BigBody, Framing, no_more_connections};
use crate::support::world::World;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::process::Output;
use std::time::Duration;

/// 50 MiB: fifty times the cap of src/oauth/http.rs.
const BODY_LEN: usize = 50 << 20;
/// Peak RSS allowed for a run, far under the body's 50 MiB (as in big_body.rs).
const RSS_LIMIT_KIB: libc::c_long = 40 << 10;
/// One tokdash run, end to end; it is killed after that.
const DEADLINE: Duration = Duration::from_secs(60);

const RT: &str = "RT-big-elsewhere";
const MARKER: &str = "BIG-ELSEWHERE-MARKER-3d7c";
const TOO_LARGE: &str = "the response from 127.0.0.1 is over 1024 KiB; not a token endpoint's";

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Userinfo,
    Revocation,
    Discovery,
}

/// A world whose profile `p` sends `endpoint`'s request to `big` (the raw server's address),
/// and its token requests, which must not happen, to `token_url`.
fn world(endpoint: Endpoint, big: &str, token_url: &str) -> World {
    let (provider, expires_in) = match endpoint {
        Endpoint::Userinfo => (
            format!(
                "provider = \"oauth2\"\ntoken_url = \"{token_url}\"\nuserinfo_url = \"{big}/userinfo\""
            ),
            3600,
        ),
        Endpoint::Revocation => (
            format!(
                "provider = \"oauth2\"\ntoken_url = \"{token_url}\"\nrevocation_url = \"{big}/revoke\""
            ),
            3600,
        ),
        // Expired: `token` must discover the token endpoint to refresh.
        Endpoint::Discovery => (format!("provider = \"oidc\"\nissuer = \"{big}\""), 0),
    };
    let w = World::new(&format!(
        "[profiles.p]\n{provider}\nclient_id = \"big-client\"\n"
    ));
    w.import(
        "p",
        &json!({"access_token": "AT-big-elsewhere", "refresh_token": RT, "expires_in": expires_in}),
    );
    w
}

fn args(endpoint: Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::Userinfo => &["check", "p"],
        Endpoint::Revocation => &["revoke", "p", "--yes"],
        Endpoint::Discovery => &["token", "p"],
    }
}

/// The one stderr line each command must print.
fn expected_line(endpoint: Endpoint) -> String {
    let hint = "; check the endpoints of p: tokdash config check";
    match endpoint {
        Endpoint::Userinfo => format!("tokdash: p: check failed: {TOO_LARGE}{hint}"),
        Endpoint::Revocation => format!("tokdash: p: revocation failed: {TOO_LARGE}{hint}"),
        Endpoint::Discovery => format!("tokdash: p: OIDC discovery failed: {TOO_LARGE}"),
    }
}

fn run(w: &World, args: &[&str]) -> Output {
    w.output_within(args, DEADLINE)
}

#[test]
fn fifty_megabyte_bodies_from_userinfo_revocation_and_discovery_are_refused_in_bounded_memory() {
    alone_in_a_process(
        module_path!(),
        "fifty_megabyte_bodies_from_userinfo_revocation_and_discovery_are_refused_in_bounded_memory",
        measured,
    );
}

/// The test, run alone in a process of its own: the children's peak RSS is tokdash's.
fn measured() {
    for endpoint in [
        Endpoint::Userinfo,
        Endpoint::Revocation,
        Endpoint::Discovery,
    ] {
        for framing in [Framing::Chunked, Framing::CloseDelimited] {
            let case = format!("{endpoint:?} {framing:?}");
            // Serves one connection, whatever its path: a 200 whose JSON body is 50 MiB long.
            let served = BigBody::start(framing, BODY_LEN, MARKER);
            let big = served.url.trim_end_matches("/token").to_string();
            // Never accepted: a token request would wait in its backlog.
            let token_endpoint = TcpListener::bind("127.0.0.1:0").unwrap();
            let token_url = format!("http://{}/token", token_endpoint.local_addr().unwrap());
            let w = world(endpoint, &big, &token_url);
            let before: Value = w.record("p").unwrap();

            let out = run(&w, args(endpoint));
            let line = assert_one_line_failure(&out, MARKER, &case);
            assert_eq!(line, expected_line(endpoint), "{case}");
            assert_eq!(stderr(&out), format!("{line}\n"), "{case}");

            // tokdash has exited: a second request would be waiting in the backlog.
            served.assert_refused_as_too_large(DEADLINE, &case);
            assert!(
                no_more_connections(&token_endpoint),
                "{case}: a token request was sent"
            );

            let after = w.record("p").unwrap();
            assert!(!after.to_string().contains(MARKER), "{case}: {after}");
            assert!(
                !w.log_text().contains(MARKER),
                "{case}: the body reached the log"
            );
            match endpoint {
                // `check` with a valid access token and a failed revocation (RFC 7009 §2.2.1:
                // the tokens must be assumed alive) leave the record exactly as it was.
                Endpoint::Userinfo | Endpoint::Revocation => {
                    assert_eq!(after, before, "{case}")
                }
                // A failed refresh records the error next to the untouched tokens.
                Endpoint::Discovery => {
                    assert_eq!(after["refresh_token"], RT, "{case}");
                    assert_eq!(after["access_token"], before["access_token"], "{case}");
                }
            }
        }
    }

    assert_children_peaked_under(RSS_LIMIT_KIB);
}
