//! wait_group: Go's `sync.WaitGroup` — wait for a collection of goroutines to finish.
//!
//! `Inner::state` is the counter shifted left by one, plus the `WAITERS` bit: set (under the
//! queue lock) by a waiter about to queue, cleared by whoever brings the counter to zero,
//! who then wakes every queued waiter. So `add`/`done` are one atomic operation each and
//! touch the lock only when the counter reaches zero with waiters queued.
//!
//! Invariants: a waiter sets `WAITERS` and checks the counter in one atomic step under the
//! queue lock, and the zeroing `done` takes that lock before waking, so no wake-up is lost;
//! the counter never goes below zero (an excess `done` is undone and panics).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::park::Waiter;
use crate::runtime::worker::lock;
use crate::runtime::{JoinHandle, WaitReason};
use crate::waitq::{Entry, QueueOwner, WaitQueue};

const WAITERS: usize = 1;
const ONE: usize = 2;

struct Inner {
    state: AtomicUsize,
    queue: Mutex<WaitQueue>,
}

impl QueueOwner for Inner {
    unsafe fn unlink(&self, entry: *mut Entry) {
        // SAFETY: the entry was linked only into this queue (caller's contract).
        unsafe { lock(&self.queue).remove(entry) };
    }
}

/// Waits for a collection of goroutines (or threads) to finish (Go's `sync.WaitGroup`).
///
/// [`add`](WaitGroup::add) raises the counter, [`done`](WaitGroup::done) lowers it, and
/// [`wait`](WaitGroup::wait) parks until it is zero. Clones share one counter, so hand a
/// clone to each worker. [`go`](WaitGroup::go) does the bookkeeping for you (Go 1.25's
/// `WaitGroup.Go`).
///
/// ```
/// use goro::sync::WaitGroup;
///
/// goro::run(|| {
///     let wg = WaitGroup::new();
///     for i in 0..3 {
///         wg.add(1);
///         let wg = wg.clone();
///         goro::go(move || {
///             println!("worker {i} done");
///             wg.done();
///         });
///     }
///     wg.wait();
/// });
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

impl WaitGroup {
    /// A wait group with a zero counter.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.wait(); // zero: returns at once
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(0),
                queue: Mutex::new(WaitQueue::new()),
            }),
        }
    }

    /// Adds `n` to the counter (Go's `Add` with a positive delta). Call it before starting
    /// what will call [`done`](WaitGroup::done), so a concurrent `wait` cannot miss it.
    ///
    /// # Panics
    /// If the counter would overflow.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.done();
    /// wg.done();
    /// wg.wait();
    /// ```
    pub fn add(&self, n: usize) {
        let delta = n
            .checked_mul(ONE)
            .expect("sync: WaitGroup counter overflow");
        let prev = self.inner.state.fetch_add(delta, Ordering::Relaxed);
        if prev.checked_add(delta).is_none() {
            self.inner.state.fetch_sub(delta, Ordering::Relaxed);
            panic!("sync: WaitGroup counter overflow");
        }
    }

    /// Subtracts one from the counter; when it reaches zero every waiter is released.
    ///
    /// # Panics
    /// If the counter is already zero, with a message that starts "negative WaitGroup
    /// counter" (Go's words) and says that `done` ran more often than `add` counted.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(1);
    /// wg.done();
    /// let r = std::panic::catch_unwind(|| wg.done());
    /// assert!(r.is_err()); // below zero
    /// ```
    pub fn done(&self) {
        // AcqRel: the zeroing `done` acquires every earlier `done`'s writes and releases them
        // to the waiters it completes.
        let prev = self.inner.state.fetch_sub(ONE, Ordering::AcqRel);
        if prev < ONE {
            self.inner.state.fetch_add(ONE, Ordering::Relaxed);
            panic!("negative WaitGroup counter: done() was called more times than add() counted");
        }
        if prev == ONE | WAITERS {
            self.release_waiters();
        }
    }

    /// The counter now.
    pub(super) fn count(&self) -> usize {
        self.inner.state.load(Ordering::Relaxed) / ONE
    }

    /// The counter reached zero with waiters queued: wake them all.
    #[cold]
    fn release_waiters(&self) {
        let mut queue = lock(&self.inner.queue);
        // Only clear WAITERS if no new round began (a new `add` and a new waiter).
        let _ = self
            .inner
            .state
            .compare_exchange(WAITERS, 0, Ordering::Relaxed, Ordering::Relaxed);
        let wakers: Vec<_> = queue
            .claim_all()
            .into_iter()
            // SAFETY: each entry was just claimed by `claim_all`.
            .map(|e| unsafe { e.waiter().complete(e.case()) })
            .collect();
        drop(queue);
        wakers.into_iter().for_each(|w| w.wake());
    }

    /// Parks the calling goroutine (or blocks the thread) until the counter is zero.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(1);
    /// let wg2 = wg.clone();
    /// std::thread::spawn(move || wg2.done());
    /// wg.wait();
    /// ```
    pub fn wait(&self) {
        if self.inner.state.load(Ordering::Acquire) < ONE {
            return;
        }
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, std::ptr::null_mut());
        let mut queue = lock(&self.inner.queue);
        let prev = self.inner.state.fetch_or(WAITERS, Ordering::Acquire);
        if prev < ONE {
            if prev == 0 {
                // Nobody queued: do not leave a stale WAITERS bit behind.
                self.inner.state.fetch_and(!WAITERS, Ordering::Relaxed);
            }
            return;
        }
        // SAFETY: `entry` stays in this frame, unmoved, until it drops; `self.inner` outlives
        // it; the queue belongs to `self.inner` and we hold its lock.
        unsafe { entry.link(&mut queue, &*self.inner) };
        drop(queue);
        // The zeroing `done` completes us after its AcqRel decrement, so every `done`'s
        // writes happen before `wait` returns.
        waiter.wait(WaitReason::WaitGroup, None);
    }

    /// Runs `f` in a new goroutine counted by this group: `add(1)` now, `done()` when `f`
    /// returns or panics. The goroutine is spawned like [`goro::go`](crate::go) (onto the
    /// caller's runtime; the default one from a plain thread); its panic, if any, is
    /// delivered to the returned handle's `join`.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let hits = Arc::new(AtomicUsize::new(0));
    /// let wg = goro::sync::WaitGroup::new();
    /// for _ in 0..8 {
    ///     let hits = hits.clone();
    ///     wg.go(move || hits.fetch_add(1, Ordering::Relaxed));
    /// }
    /// wg.wait();
    /// assert_eq!(hits.load(Ordering::Relaxed), 8);
    /// ```
    #[track_caller]
    pub fn go<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        struct DoneOnDrop(WaitGroup);
        impl Drop for DoneOnDrop {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let done = DoneOnDrop(self.clone());
        crate::go(move || {
            let _done = done;
            f()
        })
    }
}

impl Default for WaitGroup {
    /// Same as [`WaitGroup::new`].
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::default();
    /// wg.wait();
    /// ```
    fn default() -> Self {
        WaitGroup::new()
    }
}

impl std::fmt::Debug for WaitGroup {
    /// Shows the counter.
    ///
    /// ```
    /// let wg = goro::sync::WaitGroup::new();
    /// wg.add(2);
    /// assert_eq!(format!("{wg:?}"), "WaitGroup { count: 2 }");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
