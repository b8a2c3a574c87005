//! sched: a goroutine's scheduling state, where a wake meets a park.
//!
//! States:
//! - `RUNNABLE`: in exactly one run queue (or the "next" slot, or an inbox), or running on
//!   its home worker.
//! - `NOTIFIED`: as `RUNNABLE`, and woken since it last parked: its next park returns at
//!   once, and the goroutine re-checks what it waits for.
//! - `PARKED`: switched out, reachable only through wakers; a wake moves it to `RUNNABLE`
//!   and its waker queues it on its home worker. Exactly one waker wins that transition.
//! - `DONE`: finished; wakes are ignored.
//!
//! Why no wake is lost: a waker first publishes what it did (the waiter's `DONE`, see
//! `park`) and then changes the state with a read-modify-write, including when it finds
//! the goroutine `RUNNABLE` or `NOTIFIED` and changes nothing visible. The goroutine, before
//! it re-checks its waiter, also changes the state with a read-modify-write (consuming a
//! notification, or its worker parking it). Of two read-modify-writes on one atomic, the
//! later reads the earlier, so either the goroutine sees the waker's news, or the waker sees
//! it `PARKED` (and queues it) or not yet parked (and leaves it `NOTIFIED`, which the park
//! then finds). A waker that only read the state could miss a goroutine that re-checked a
//! moment too early and went on to park: `loom_models` below checks both cases.

use std::sync::atomic::Ordering;

use crate::atomics::AtomicU8;

const RUNNABLE: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;
const DONE: u8 = 3;

/// A goroutine's scheduling state (see the module docs).
pub(crate) struct Sched(AtomicU8);

impl Sched {
    /// A runnable goroutine (about to be queued or run).
    pub(crate) fn new() -> Sched {
        Sched(AtomicU8::new(RUNNABLE))
    }

    /// A wake, from any thread: true if the caller moved the goroutine from `PARKED` to
    /// `RUNNABLE` and must queue it.
    pub(crate) fn wake(&self) -> bool {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let next = match cur {
                PARKED => RUNNABLE,
                RUNNABLE | NOTIFIED => NOTIFIED,
                _ => return false,
            };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return cur == PARKED,
                Err(actual) => cur = actual,
            }
        }
    }

    /// By the goroutine, about to switch out to park: consumes a wake that arrived since
    /// it last looked; true if there was one (it must then re-check instead of parking).
    pub(crate) fn take_notification(&self) -> bool {
        self.0.load(Ordering::Acquire) == NOTIFIED
            && self
                .0
                .compare_exchange(NOTIFIED, RUNNABLE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// By the home worker, once the goroutine has switched out to park: true if it is now
    /// parked; false if a wake arrived meanwhile (consumed here: the caller queues the
    /// goroutine, which re-checks).
    pub(crate) fn park(&self) -> bool {
        if self
            .0
            .compare_exchange(RUNNABLE, PARKED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return true;
        }
        // NOTIFIED, and only wakes (which leave it NOTIFIED) can race this swap.
        self.0.swap(RUNNABLE, Ordering::AcqRel);
        false
    }

    /// The goroutine has finished.
    pub(crate) fn finish(&self) {
        self.0.store(DONE, Ordering::Release);
    }

    pub(crate) fn is_parked(&self) -> bool {
        self.0.load(Ordering::SeqCst) == PARKED
    }

    #[cfg(all(test, not(loom)))]
    pub(crate) fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire) == DONE
    }

    /// Makes a finished goroutine's state fresh for its header's next goroutine; the
    /// exclusive borrow proves nobody can wake it.
    pub(crate) fn reset(&mut self) {
        *self = Sched::new();
    }
}

/// loom models of the wake protocol: `RUSTFLAGS="--cfg loom" cargo test -p goro --lib
/// --release loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::{Arc, Condvar, Mutex};

    /// What the goroutine and its worker share with the wakers of one wait.
    struct Wait {
        sched: Sched,
        /// The waiter's completion, published by the real waker before it wakes.
        done: AtomicBool,
        /// Entries queued by wakers that won `PARKED` → `RUNNABLE`: the run queue.
        queued: Mutex<usize>,
        resume: Condvar,
    }

    fn new_wait() -> Arc<Wait> {
        Arc::new(Wait {
            sched: Sched::new(),
            done: AtomicBool::new(false),
            queued: Mutex::new(0),
            resume: Condvar::new(),
        })
    }

    /// A waker on its own thread; `completes` says whether it first publishes the
    /// completion of the current wait (a late waker of an earlier wait does not).
    fn spawn_waker(w: &Arc<Wait>, completes: bool) -> loom::thread::JoinHandle<()> {
        let w = w.clone();
        loom::thread::spawn(move || {
            if completes {
                w.done.store(true, Ordering::Release);
            }
            if w.sched.wake() {
                *w.queued.lock().unwrap() += 1;
                w.resume.notify_one();
            }
        })
    }

    /// The goroutine's wait loop (`Waiter::wait` and `park_goroutine`) with its worker's
    /// side (`worker::park`, then resuming it once it is queued). A lost wake leaves it
    /// blocked for good, which loom reports as a deadlock.
    fn wait(w: &Wait) {
        loop {
            if w.done.load(Ordering::Acquire) {
                return;
            }
            if w.sched.take_notification() || !w.sched.park() {
                continue;
            }
            let mut queued = w.queued.lock().unwrap();
            while *queued == 0 {
                queued = w.resume.wait(queued).unwrap();
            }
            *queued -= 1;
        }
    }

    #[test]
    fn loom_a_wake_is_never_lost() {
        loom::model(|| {
            let w = new_wait();
            let waker = spawn_waker(&w, true);
            wait(&w);
            waker.join().unwrap();
        });
    }

    #[test]
    fn loom_a_late_wake_from_an_earlier_wait_cannot_swallow_the_next() {
        // The goroutine saw an earlier operation complete and moved on without parking;
        // that operation's waker wakes it late, while the waker of its next wait completes
        // that one. Three threads: bounding preemptions keeps the run to seconds, and a lost
        // wake needs only one or two (the goroutine's re-check and park between a waker's
        // writes).
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let w = new_wait();
            let late = spawn_waker(&w, false);
            let real = spawn_waker(&w, true);
            wait(&w);
            late.join().unwrap();
            real.join().unwrap();
        });
    }
}
