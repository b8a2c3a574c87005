//! atomics: the atomic types of the state machines that loom models (the waiter's state
//! word, the spin lock, a channel's positions, readiness hint and handle counts).
//!
//! Under `cfg(loom)` they are loom's, so `RUSTFLAGS="--cfg loom" cargo test -p goro --lib
//! --release loom` explores every interleaving of the code that uses them; otherwise they
//! are std's. `spin_hint` is the busy-wait step: a CPU hint normally, a yield to loom's
//! scheduler under loom (which would otherwise explore a spinning thread forever).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize};

/// One step of a busy wait, after `backoff`'s own.
#[inline]
pub(crate) fn spin_hint(backoff: &crossbeam_utils::Backoff) {
    #[cfg(loom)]
    loom::thread::yield_now();
    backoff.snooze();
}
