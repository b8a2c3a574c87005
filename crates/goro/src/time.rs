//! time: sleeping and Go's time channels.
//!
//! Every wait here is a timer on the waiting goroutine's worker (see `runtime::timer`); a
//! plain thread sleeps with the OS.

use std::time::{Duration, Instant};

use crate::park::Waiter;
use crate::runtime::WaitReason;

/// Pauses the current goroutine for at least `d` (Go's `time.Sleep`); other goroutines run
/// on its worker meanwhile. On a plain thread it sleeps the thread.
///
/// ```
/// let t = std::time::Instant::now();
/// goro::run(|| goro::time::sleep(std::time::Duration::from_millis(20)));
/// assert!(t.elapsed() >= std::time::Duration::from_millis(20));
/// ```
pub fn sleep(d: Duration) {
    let deadline = Instant::now() + d;
    let waiter = Waiter::current();
    let completed = waiter.wait(WaitReason::Sleep, Some(deadline));
    debug_assert!(completed.is_none(), "nobody can complete a sleep");
}
