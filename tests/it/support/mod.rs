//! Helpers shared by the integration tests (`crate::support` in every module of tests/it).

pub mod faults;
pub mod integrations;
pub mod mocks;
pub mod oidc;
pub mod peak_rss;
pub mod raw;
pub mod tmux;
pub mod world;

use std::process::Command;
use std::time::{Duration, Instant};

/// Polls `f` every 50 ms until it returns true; panics naming `what` after `deadline`.
/// Tests wait for a condition this way, never by sleeping a fixed time.
pub fn wait_until(deadline: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    loop {
        if f() {
            return;
        }
        if Instant::now() >= end {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for each of `children` (spawned with stderr piped); each must have succeeded. A
/// failure names `what` and shows that child's stderr.
#[track_caller]
pub fn wait_all_succeeded(children: Vec<std::process::Child>, what: &str) {
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// libtest's name for test `f` of the module whose `module_path!()` is `module_path`: the path
/// without this crate's name (`it::store_crash` and `writer_child` give `store_crash::writer_child`).
pub fn test_name(module_path: &str, f: &str) -> String {
    let (_krate, module) = module_path
        .split_once("::")
        .expect("a module of the test crate");
    format!("{module}::{f}")
}

/// This test binary run again on the single test `name` ([`test_name`]) and nothing else, in a
/// process of its own.
pub fn rerun_test(name: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"]);
    cmd
}
