//! Helpers shared by the integration tests: a watchdog so that a deadlock fails a test
//! instead of hanging it, runners for a body on a runtime of a given size (or on all of a
//! one-worker runtime, a two-worker runtime and a plain OS thread), and a small RNG.

// Each test binary uses a subset of these.
#![allow(dead_code)]

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on its own thread and fails if it does not finish within `secs` seconds.
pub fn watchdog<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let name = std::thread::current().name().unwrap_or("test").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("{name}-body"))
        .spawn(move || {
            let _ = tx.send(panic::catch_unwind(AssertUnwindSafe(f)));
        })
        .expect("spawn the test body");
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => panic::resume_unwind(payload),
        Err(_) => panic!("{name}: did not finish within {secs} s (deadlock or lost wake-up?)"),
    }
}

/// Runs `f` as the main goroutine of a fresh runtime with `procs` workers, under a
/// watchdog.
pub fn on_runtime<T: Send + 'static>(procs: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    watchdog(120, move || {
        let rt = goro::Runtime::builder()
            .max_procs(procs)
            .build()
            .expect("build a runtime");
        rt.run(f)
    })
}

/// Runs `f` on a one-worker runtime, on a two-worker runtime, and on a plain OS thread
/// (whose goroutines go to the default runtime).
pub fn everywhere(f: fn()) {
    on_runtime(1, f);
    on_runtime(2, f);
    watchdog(120, f);
}

/// A small xorshift generator for test decisions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
