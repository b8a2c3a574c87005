//! shutdown: how a worker empties itself when its `Runtime` is dropped.
//!
//! Dropping a `Runtime` sets `Shared::shutdown` and wakes every worker. From then on a
//! goroutine that parks (or is parked and gets woken here) unwinds with a `RuntimeShutdown`
//! payload, so the destructors on its stack run; new goroutines are abandoned without
//! running (their closures are dropped). A worker exits once no goroutine is homed on it.
//! A goroutine that parks again while already unwinding (a destructor that blocks) is woken
//! a few times and then leaked — its stack is never reused — rather than hang the drop.

use std::sync::Arc;

use super::goroutine::Goroutine;
use super::worker::{abandon, leak, with_local};
use super::Shared;

/// Passes over still-parked goroutines before giving up on them.
const MAX_STUCK_PASSES: u32 = 8;

pub(crate) enum Drain {
    /// Something was woken or abandoned: run the scheduler again.
    Progress,
    /// Nothing is left: the worker may exit.
    Finished,
}

/// The panic payload a goroutine unwinds with when its runtime shuts down; its `join`
/// returns it as the error.
#[derive(Debug)]
pub(crate) struct RuntimeShutdown;

/// One shutdown step for worker `index`; called only when it found nothing to run.
pub(crate) fn drain(shared: &Shared, index: usize) -> Drain {
    let unstarted = with_local(|l| l.take_unstarted()).unwrap_or_default();
    if !unstarted.is_empty() {
        unstarted.into_iter().for_each(|g| abandon(shared, g));
        return Drain::Progress;
    }
    let homed = with_local(|l| l.homed()).unwrap_or(0);
    if homed == 0 {
        return Drain::Finished;
    }
    let parked: Vec<Arc<Goroutine>> = shared.workers[index]
        .registry
        .snapshot()
        .into_iter()
        .filter(|g| g.sched.is_parked())
        .collect();
    let passes = with_local(|l| l.count_shutdown_pass(homed)).unwrap_or(0);
    if passes > MAX_STUCK_PASSES && !parked.is_empty() {
        parked.iter().for_each(leak);
        return Drain::Progress;
    }
    if parked.is_empty() {
        // Homed goroutines are runnable somewhere on their way to our inbox.
        std::thread::yield_now();
    }
    parked.iter().for_each(Goroutine::unpark);
    Drain::Progress
}
