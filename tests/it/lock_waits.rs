//! Waiting for a profile's lock never wedges a process: three `refresh --all` over many profiles
//! at once, and one command naming a profile several times, all finish. (A waiter parked in
//! `flock` on one of the command's few blocking threads once starved the very `save` that would
//! release the lock it waited for.)

use crate::support::world::World;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROFILES: usize = 60;
const DEADLINE: Duration = Duration::from_secs(60);

/// A token endpoint that answers every refresh after a short pause, so that locks are held
/// long enough for the processes to meet on them.
async fn slow_token_endpoint() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({
                    "access_token": "AT-new", "token_type": "Bearer", "expires_in": 3600
                }))
                .set_delay(Duration::from_millis(50)),
        )
        .mount(&server)
        .await;
    server
}

fn world(server: &MockServer) -> World {
    let config: String = (0..PROFILES)
        .map(|i| {
            format!(
                "[profiles.p{i:02}]\nprovider = \"oauth2\"\ntoken_url = \"{}/token\"\nclient_id = \"c\"\nauth_method = \"none\"\n",
                server.uri()
            )
        })
        .collect();
    let w = World::new(&config);
    for i in 0..PROFILES {
        w.import(
            &format!("p{i:02}"),
            &serde_json::json!({"access_token": "AT-old", "refresh_token": "RT", "expires_in": 3600}),
        );
    }
    w
}

fn spawn(w: &World, args: &[&str]) -> Child {
    w.std_cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits for every child to exit successfully; kills them all and fails at the deadline.
fn all_finish(mut children: Vec<Child>, what: &str) {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        let mut running = false;
        for child in &mut children {
            match child.try_wait().unwrap() {
                Some(status) => assert!(status.success(), "{what}: {status}"),
                None => running = true,
            }
        }
        if !running {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for child in &mut children {
        let _ = child.kill();
    }
    panic!("{what}: still running after {DEADLINE:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_all_in_three_processes_over_many_profiles_all_finish() {
    let server = slow_token_endpoint().await;
    let w = world(&server);
    let children = (0..3)
        .map(|_| spawn(&w, &["refresh", "--all", "--force"]))
        .collect();
    all_finish(children, "three refresh --all");
    for i in 0..PROFILES {
        let record = w.record(&format!("p{i:02}")).unwrap();
        assert_eq!(record["access_token"], "AT-new", "p{i:02}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_named_several_times_is_refreshed_once() {
    let server = slow_token_endpoint().await;
    let w = world(&server);
    let names = ["refresh", "p00", "p00", "p00", "p00", "p00", "p01"];
    all_finish(vec![spawn(&w, &names)], "refresh p00 x5 p01");
    let posts = server.received_requests().await.unwrap().len();
    assert_eq!(posts, 2, "one refresh each for p00 and p01");
}
