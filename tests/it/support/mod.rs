//! Helpers shared by the integration tests (`crate::support` in every module of tests/it).

pub mod bao;
pub mod faults;
pub mod integrations;
pub mod mocks;
pub mod oidc;
pub mod peak_rss;
pub mod raft;
pub mod raw;
pub mod tmux;
pub mod world;

use std::io::Write;
use std::process::{Command, Output, Stdio};
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

/// A finished command's stdout as text (lossy: a failing command may print anything).
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A finished command's stderr as text (lossy: a failing command may print anything).
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `out`, the output of tokdash with `args`, which must have succeeded; a failure names the
/// arguments and shows stderr. The one check behind every module's `run_ok`, whatever way
/// that module runs tokdash (a secret in the environment, a deadline, the real server).
#[track_caller]
pub fn succeeded(args: &[&str], out: Output) -> Output {
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out
}

/// Runs `cmd` with `input` on its stdin and its stdout captured (stderr as `cmd` has it); waits
/// for it. `Command::output` cannot feed stdin, and the git helpers of several modules need it.
pub fn output_with_stdin(cmd: &mut Command, input: &str) -> Output {
    spawn_with_stdin(cmd.stdout(Stdio::piped()), input)
        .wait_with_output()
        .unwrap()
}

/// Starts `cmd` with `input` written to its stdin, which is then closed; does not wait (a test
/// that runs several at once collects them itself).
pub fn spawn_with_stdin(cmd: &mut Command, input: &str) -> std::process::Child {
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child
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
