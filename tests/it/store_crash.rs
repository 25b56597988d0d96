//! The store's promises under the worst a process can suffer: SIGKILL at any instant during a
//! write, and two processes updating one profile at once. The children are this test binary
//! itself, re-run with an environment variable that turns a test into a worker.

use crate::support::{rerun_test, test_name};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokdash::secret::Secret;
use tokdash::store::{FileStore, TokenRecord};

const ROLE: &str = "TOKDASH_TEST_STORE_ROLE";
const DIR: &str = "TOKDASH_TEST_STORE_DIR";

/// This test binary re-run on the test `test_fn` of this module alone, as a worker in `role`.
fn child(test_fn: &str, role: &str, dir: &Path) -> Command {
    let mut cmd = rerun_test(&test_name(module_path!(), test_fn));
    cmd.env(ROLE, role)
        .env(DIR, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// A record whose parts all carry the same counter, so a torn mix of two writes is visible.
fn record(n: u64) -> TokenRecord {
    TokenRecord {
        access_token: Some(Secret::new(format!("at-{n}-{}", "x".repeat(20_000)))),
        refresh_token: Some(Secret::new(format!("rt-{n}"))),
        scope: Some(format!("scope-{n}")),
        expires_at: Some(n as i64),
        ..Default::default()
    }
}

fn is_whole(r: &TokenRecord) -> bool {
    let n = r.expires_at.unwrap_or(-1);
    r.refresh_token.as_ref().map(|t| t.expose().to_string()) == Some(format!("rt-{n}"))
        && r.scope.as_deref() == Some(&format!("scope-{n}"))
        && r.access_token
            .as_ref()
            .is_some_and(|t| t.expose().starts_with(&format!("at-{n}-")))
}

/// Child role: write records forever, until killed.
#[test]
fn writer_child() {
    if std::env::var(ROLE).as_deref() != Ok("writer") {
        return;
    }
    let store = FileStore::open(Path::new(&std::env::var(DIR).unwrap())).unwrap();
    let mut n = store
        .load("p")
        .unwrap()
        .and_then(|r| r.expires_at)
        .unwrap_or(0) as u64;
    loop {
        n += 1;
        store.save("p", &mut record(n)).unwrap();
    }
}

#[test]
fn sigkill_at_random_instants_never_tears_a_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = FileStore::open(&dir).unwrap();
    store.save("p", &mut record(0)).unwrap();
    let mut last_seen = 0;
    let mut advanced = 0;
    for round in 0..60 {
        let mut writer = child("writer_child", "writer", &dir).spawn().unwrap();
        // Kill at a random instant from before the first write to well into the loop.
        let delay = Duration::from_micros(rand_below(40_000) + round * 100);
        std::thread::sleep(delay);
        writer.kill().unwrap(); // SIGKILL
        writer.wait().unwrap();
        let rec = store
            .load("p")
            .expect("readable after SIGKILL")
            .expect("never deleted");
        assert!(is_whole(&rec), "round {round}: torn record");
        let n = rec.expires_at.unwrap();
        assert!(
            n >= last_seen,
            "round {round}: went back from {last_seen} to {n}"
        );
        if n > last_seen {
            advanced += 1;
        }
        last_seen = n;
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            // The record's spare (rewritten and exchanged with it at each write) stays by design.
            .filter(|n| {
                !n.starts_with(".tmp") && n != "p.json" && n != "p.lock" && n != ".spare.p.json"
            })
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    assert!(
        advanced > 10,
        "the writers got to write: {advanced} of 60 rounds advanced"
    );
}

/// Child role: 100 locked read-modify-write increments.
#[test]
fn incrementer_child() {
    if std::env::var(ROLE).as_deref() != Ok("incrementer") {
        return;
    }
    let store = FileStore::open(Path::new(&std::env::var(DIR).unwrap())).unwrap();
    for _ in 0..100 {
        let _lock = store.lock("p").unwrap();
        let mut rec = store.load("p").unwrap().unwrap_or_default();
        std::thread::yield_now(); // widen the window a missing lock would lose updates in
        rec.expires_at = Some(rec.expires_at.unwrap_or(0) + 1);
        store.save("p", &mut rec).unwrap();
    }
}

#[test]
fn the_profile_lock_serialises_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = FileStore::open(&dir).unwrap();
    let started = Instant::now();
    let children: Vec<_> = (0..3)
        .map(|_| {
            child("incrementer_child", "incrementer", &dir)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let rec = store.load("p").unwrap().unwrap();
    assert_eq!(
        rec.expires_at,
        Some(300),
        "lost updates: the lock did not hold ({:?})",
        started.elapsed()
    );
    assert_eq!(rec.generation, 300);
}

fn rand_below(n: u64) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now()) % n
}
