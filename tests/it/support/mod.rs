//! Shared helpers for integration tests: `mod support;` in a test file.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod faults;
pub mod mocks;
pub mod oidc;
pub mod peak_rss;
pub mod raw;
pub mod tmux;
pub mod world;

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
