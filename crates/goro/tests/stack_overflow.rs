//! A goroutine that overflows its stack hits the guard page, and the process aborts with
//! `goroutine N overflowed its stack (S KiB)` instead of corrupting memory.
//!
//! Each test re-executes this test binary with `GORO_TEST_OVERFLOW_CHILD` naming the test;
//! the child overflows, and the parent checks how it died and what it printed.

use std::hint::black_box;
use std::process::{Command, Output};

/// Names the test whose child half should run in this process.
const CHILD_ENV: &str = "GORO_TEST_OVERFLOW_CHILD";

/// Recurses until the stack runs out; the frame array makes every level use real stack.
#[inline(never)]
fn infinite_recursion(depth: u64) -> u64 {
    let frame = black_box([depth as u8; 256]);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    infinite_recursion(depth + 1) + u64::from(black_box(frame)[0])
}

/// True in the re-executed child of `test`.
fn is_child(test: &str) -> bool {
    if std::env::var_os(CHILD_ENV).is_some_and(|name| name == test) {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: only lowers this process's core-file size limit, so the crash we are about
        // to cause leaves no core file behind.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) };
        true
    } else {
        false
    }
}

/// Runs `test` in a child process and returns its output.
fn run_child(test: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test)
        .output()
        .unwrap()
}

/// Asserts the child died of an overflow that it reported with `size`, e.g. `(256 KiB)`.
fn assert_overflowed(output: &Output, size: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the overflowing child exited successfully; stderr: {stderr}"
    );
    assert!(
        stderr.contains("goroutine ") && stderr.contains(&format!("overflowed its stack {size}")),
        "stderr lacks the overflow message: {stderr}"
    );
}

#[test]
fn overflow_with_the_default_stack_size_is_reported() {
    let test = "overflow_with_the_default_stack_size_is_reported";
    if is_child(test) {
        goro::run(|| infinite_recursion(0));
        return;
    }
    assert_overflowed(&run_child(test), "(256 KiB)");
}

#[test]
fn overflow_with_a_configured_stack_size_is_reported() {
    let test = "overflow_with_a_configured_stack_size_is_reported";
    if is_child(test) {
        let runtime = goro::Runtime::builder()
            .stack_size(64 * 1024)
            .build()
            .unwrap();
        runtime.run(|| infinite_recursion(0));
        return;
    }
    assert_overflowed(&run_child(test), "(64 KiB)");
}

#[test]
fn overflow_in_a_spawned_goroutine_is_reported() {
    let test = "overflow_in_a_spawned_goroutine_is_reported";
    if is_child(test) {
        goro::run(|| goro::go(|| infinite_recursion(0)).join()).unwrap();
        return;
    }
    assert_overflowed(&run_child(test), "(256 KiB)");
}
