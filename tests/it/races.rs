//! Crashes and races against the real server with rotation and reuse detection on: SIGKILL at
//! random instants during `refresh --all`, and several processes refreshing the same profiles.

use crate::support::oidc::{self, post_std_cmd};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn sigkill_during_refresh_all_leaves_every_record_whole() {
    let server = oidc::shared();
    let (w, names) = server.minted_numbered(16);
    let spawn_refresh_all = || {
        post_std_cmd(&w, &["refresh", "--all", "--force"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long a whole run takes here and now, learnt again from every run that ends before its
    // kill: the kills then land at random instants inside runs on an idle machine and on a
    // loaded CI machine alike, however fast runs are.
    let started = Instant::now();
    assert!(spawn_refresh_all().wait().unwrap().success());
    let mut run_length = started.elapsed();

    let mut killed_mid_run = 0;
    let mut round = 0;
    while killed_mid_run < 8 && round < 40 {
        round += 1;
        let mut child = spawn_refresh_all();
        let started = Instant::now();
        let delay = run_length.mul_f64(rand::random_range(0.05..0.9));
        let mut finished = None;
        while started.elapsed() < delay {
            if child.try_wait().unwrap().is_some() {
                finished = Some(started.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        match finished {
            // It ended before its kill: runs are quicker now, aim earlier.
            Some(took) => run_length = took,
            None if child.try_wait().unwrap().is_none() => killed_mid_run += 1,
            None => {}
        }
        let _ = child.kill();
        child.wait().unwrap();
        for name in &names {
            // `record` parses the JSON: a torn or empty file fails here.
            let record = w
                .record(name)
                .unwrap_or_else(|| panic!("round {round}: {name} lost its record"));
            assert!(
                record["refresh_token"].is_string(),
                "round {round}: {name} has a refresh token"
            );
        }
    }
    assert!(
        killed_mid_run >= 8,
        "only {killed_mid_run} of {round} kills landed during a run"
    );
    eprintln!("{killed_mid_run} of {round} kills landed during a run");
    // Nothing else appears in the store: records, their spares, locks, the discovery cache,
    // and (after a SIGKILL mid-write) temporary files whose names no profile can have.
    for entry in std::fs::read_dir(w.store()).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        let known = names.iter().any(|n| {
            file == format!("{n}.json")
                || file == format!("{n}.lock")
                || file == format!(".spare.{n}.json")
        });
        assert!(
            known || file.starts_with(".discovery-") || file.starts_with(".tmp"),
            "unexpected {file}"
        );
    }
}

#[test]
fn processes_refreshing_the_same_profiles_lose_no_token_family() {
    let server = oidc::shared();
    let (w, names) = server.minted_numbered(8);
    for round in 0..3 {
        let children: Vec<_> = (0..4)
            .map(|i| {
                let args: &[&str] = if i == 3 {
                    &["token", "p00"]
                } else {
                    &["refresh", "--all", "--force"]
                };
                post_std_cmd(&w, args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        crate::support::wait_all_succeeded(children, &format!("round {round}"));
    }
    for name in &names {
        let rt = w.record(name).unwrap()["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
        let info = server.introspect(oidc::POST_CLIENT, Some(oidc::POST_SECRET), &rt);
        assert_eq!(info["active"], true, "{name}: its family is alive");
    }
}
