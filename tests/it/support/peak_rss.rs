//! Peak RSS of the children of a test process (`getrusage(RUSAGE_CHILDREN)`), for the tests that
//! check tokdash stays small in memory (big_body.rs, big_body_elsewhere.rs).
//!
//! The figure covers every child the process ever waited for, and all the integration tests share
//! one test binary: a test that measures runs alone in a process of its own
//! ([`alone_in_a_process`]), and runs no other big child. On Linux, exec charges a process with the
//! peak RSS of the memory it replaces: a child spawned with vfork is charged the test process's
//! own peak at that instant, so the figure is an upper bound of tokdash's peak. For the same
//! reason the test process's own `RUSAGE_SELF` peak includes its parent's; it is printed only to
//! help read a failure.

use std::process::Stdio;

/// Set to a test's name in the process that runs that test alone.
const ALONE: &str = "TOKDASH_TEST_ALONE";

/// Runs `body`, the test `f` of the module whose `module_path!()` is `module_path`, alone in a
/// process of its own: this test binary re-run on that single test. The process's children are
/// then the test's own, whatever the other tests spawn meanwhile. The test fails if that run fails.
#[track_caller]
pub fn alone_in_a_process(module_path: &str, f: &str, body: impl FnOnce()) {
    let name = super::test_name(module_path, f);
    if std::env::var(ALONE).as_deref() == Ok(name.as_str()) {
        return body();
    }
    let out = super::rerun_test(&name)
        .env(ALONE, &name)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot re-run the test binary on {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Shown by libtest on a failure, or with --nocapture.
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "{name}, alone in its own process, failed ({})",
        out.status
    );
    // A filter that matches no test passes too: make sure the test did run.
    assert!(
        stdout.contains("test result: ok. 1 passed;"),
        "{name} did not run alone in its own process:\n{stdout}"
    );
}

/// Peak resident set size in KiB (Linux's unit for `ru_maxrss`).
pub fn max_rss_kib(who: libc::c_int) -> libc::c_long {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF and RUSAGE_CHILDREN are valid.
    let rc = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    // SAFETY: initialised by the successful call above (and zeroed before it).
    unsafe { usage.assume_init() }.ru_maxrss
}

/// Every child waited for so far peaked under `limit_kib` KiB of RSS (and the measurement saw
/// at least one child); a failure says a body was held in memory. Prints both peaks.
#[track_caller]
pub fn assert_children_peaked_under(limit_kib: libc::c_long) {
    let children = max_rss_kib(libc::RUSAGE_CHILDREN);
    let own = max_rss_kib(libc::RUSAGE_SELF);
    assert!(
        children > 0,
        "getrusage reported no children at all: the measurement does not work"
    );
    assert!(
        children < limit_kib,
        "a child peaked at {children} KiB of RSS (limit {limit_kib} KiB; this test process: \
         {own} KiB): a body was held in memory"
    );
    eprintln!("peak RSS: children {children} KiB, this test process {own} KiB");
}
