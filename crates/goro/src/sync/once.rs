//! once: Go's `sync.Once`, and `OnceState`, the run-exactly-once core it shares with
//! `OnceCell`.
//!
//! `OnceState::state` is `INCOMPLETE`, `RUNNING` or `COMPLETE`, plus the `QUEUED` bit that a
//! caller sets (under the queue lock) before queueing behind a running call. The running
//! caller swaps in the final state when it ends — `COMPLETE`, or `INCOMPLETE` after a panic
//! when panics do not count — and wakes the queue if `QUEUED` was set; woken callers look
//! at the state again (and may run the function themselves after a failed run).
//!
//! Invariants: exactly one caller at a time holds `RUNNING`; `COMPLETE` is final and is
//! stored with Release after the function's effects, so a caller that observes it (Acquire)
//! sees them.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::park::Waiter;
use crate::runtime::worker::lock;
use crate::runtime::WaitReason;
use crate::waitq::{Entry, QueueOwner, WaitQueue};

const INCOMPLETE: u8 = 0;
const RUNNING: u8 = 1;
const COMPLETE: u8 = 2;
const QUEUED: u8 = 4;

/// Runs a function exactly once (or until it first succeeds); see the module docs.
pub(crate) struct OnceState {
    state: AtomicU8,
    queue: Mutex<WaitQueue>,
}

impl QueueOwner for OnceState {
    unsafe fn unlink(&self, entry: *mut Entry) {
        // SAFETY: the entry was linked only into this queue (caller's contract).
        unsafe { lock(&self.queue).remove(entry) };
    }
}

/// Ends a run when dropped, whether the function returned or panicked.
struct Finish<'a> {
    once: &'a OnceState,
    completed: bool,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let end = if self.completed { COMPLETE } else { INCOMPLETE };
        let prev = self.once.state.swap(end, Ordering::AcqRel);
        if prev & QUEUED != 0 {
            let mut queue = lock(&self.once.queue);
            let wakers: Vec<_> = queue
                .claim_all()
                .into_iter()
                // SAFETY: each entry was just claimed by `claim_all`.
                .map(|e| unsafe { e.waiter().complete(e.case()) })
                .collect();
            drop(queue);
            wakers.into_iter().for_each(|w| w.wake());
        }
    }
}

impl OnceState {
    pub(crate) const fn new() -> OnceState {
        OnceState {
            state: AtomicU8::new(INCOMPLETE),
            queue: Mutex::new(WaitQueue::new()),
        }
    }

    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// Runs `f` unless a run has completed; a caller arriving during another's run waits for
    /// it to end. A run that panics counts as complete when `panic_completes` (Go's `Once`),
    /// else the state goes back to incomplete and the next caller runs its own function.
    #[cold]
    pub(crate) fn run(&self, panic_completes: bool, f: impl FnOnce()) {
        let mut f = Some(f);
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            match s & !QUEUED {
                COMPLETE => return,
                INCOMPLETE => {
                    match self.state.compare_exchange(
                        s,
                        RUNNING | (s & QUEUED),
                        Ordering::Acquire,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            let mut finish = Finish {
                                once: self,
                                completed: panic_completes,
                            };
                            if let Some(f) = f.take() {
                                f();
                            }
                            finish.completed = true;
                            return;
                        }
                        Err(now) => s = now,
                    }
                }
                _ => {
                    self.wait_for_run();
                    s = self.state.load(Ordering::Acquire);
                }
            }
        }
    }

    /// Waits until the running call ends (returns at once if it already has).
    fn wait_for_run(&self) {
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, std::ptr::null_mut());
        let mut queue = lock(&self.queue);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & !QUEUED != RUNNING {
                return;
            }
            match self.state.compare_exchange_weak(
                s,
                s | QUEUED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: `entry` stays in this frame, unmoved, until it drops; `self` outlives it;
        // the queue belongs to `self` and we hold its lock.
        unsafe { entry.link(&mut queue, self) };
        drop(queue);
        // Go's Once blocks on its internal Mutex: dumps say the same.
        waiter.wait(WaitReason::Mutex, None);
    }
}

/// Runs a function exactly once, however many goroutines ask (Go's `sync.Once`).
///
/// Callers arriving while the first call runs park until it ends, so after `call_once`
/// returns the function's effects are visible. As in Go, a call that panics still counts as
/// done: later calls return at once (the panic itself propagates to the caller that ran it).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use goro::sync::{Once, WaitGroup};
///
/// static INIT: Once = Once::new();
/// static CALLS: AtomicUsize = AtomicUsize::new(0);
///
/// let wg = WaitGroup::new();
/// for _ in 0..10 {
///     wg.go(|| INIT.call_once(|| {
///         CALLS.fetch_add(1, Ordering::Relaxed);
///     }));
/// }
/// wg.wait();
/// assert_eq!(CALLS.load(Ordering::Relaxed), 1);
/// ```
pub struct Once {
    state: OnceState,
}

impl Once {
    /// A `Once` that has not run; `const`, so it works in statics.
    ///
    /// ```
    /// static ONCE: goro::sync::Once = goro::sync::Once::new();
    /// assert!(!ONCE.is_completed());
    /// ```
    pub const fn new() -> Once {
        Once {
            state: OnceState::new(),
        }
    }

    /// Calls `f` if and only if this is the first `call_once` on this `Once` (Go's `Do`).
    /// Concurrent callers wait for the first call to finish.
    ///
    /// Calling `call_once` on the same `Once` from inside `f` deadlocks, as in Go.
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// let mut n = 0;
    /// once.call_once(|| n += 1);
    /// once.call_once(|| n += 1);
    /// assert_eq!(n, 1);
    ///
    /// // A panic counts as done.
    /// let once = goro::sync::Once::new();
    /// let r = std::panic::catch_unwind(|| once.call_once(|| panic!("init failed")));
    /// assert!(r.is_err());
    /// assert!(once.is_completed());
    /// once.call_once(|| unreachable!());
    /// ```
    #[inline]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if !self.state.is_completed() {
            self.state.run(true, f);
        }
    }

    /// Whether a call has completed (returned or panicked).
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// assert!(!once.is_completed());
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.state.is_completed()
    }
}

impl Default for Once {
    /// Same as [`Once::new`].
    ///
    /// ```
    /// let once = goro::sync::Once::default();
    /// assert!(!once.is_completed());
    /// ```
    fn default() -> Self {
        Once::new()
    }
}

impl std::fmt::Debug for Once {
    /// Shows whether it has completed.
    ///
    /// ```
    /// let once = goro::sync::Once::new();
    /// assert_eq!(format!("{once:?}"), "Once { completed: false }");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish()
    }
}
