//! Peak RSS of the children of a test process (`getrusage(RUSAGE_CHILDREN)`), for the tests that
//! check tokdash stays small in memory (tests/big_body.rs, tests/big_body_elsewhere.rs).
//!
//! A test file that uses this holds a single test and runs no other big child: the figure covers
//! every child the process ever waited for. On Linux, exec charges a process with the peak RSS of
//! the memory it replaces: a child spawned with vfork is charged the test process's own peak at
//! that instant, so the figure is an upper bound of tokdash's peak. For the same reason the test
//! process's own `RUSAGE_SELF` peak includes cargo's; it is printed only to help read a failure.

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
