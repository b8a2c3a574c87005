//! cond: Go's `sync.Cond` — goroutines wait for a condition guarded by a `Mutex`.
//!
//! `wait` links its entry into the queue *before* releasing the mutex, so a notifier that
//! takes the mutex afterwards (or any notify that happens after `wait` started) finds it:
//! no wake-up is lost. `any` mirrors "the queue is not empty", updated under the queue lock,
//! so notifying nobody costs one atomic load. A `notify_one` that reaches a waiter frame
//! unwinding instead of returning (its runtime shutting down) is passed to the next waiter.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::MutexGuard;
use crate::park::Waiter;
use crate::runtime::worker::lock;
use crate::runtime::WaitReason;
use crate::waitq::{Entry, QueueOwner, WaitQueue};

/// A waiting frame's packet, declared before its `Waiter` so that it drops last.
struct Slot<'a> {
    cond: &'a Cond,
    /// Set by `notify_one` under the queue lock.
    notified: Cell<bool>,
}

impl Drop for Slot<'_> {
    /// A `notify_one` that reached a frame unwinding out of its wait (its runtime shutting
    /// down) goes to the next waiter instead of being lost.
    fn drop(&mut self) {
        if self.notified.get() {
            self.cond.notify_one();
        }
    }
}

/// A condition variable: goroutines wait on it until another signals that the condition
/// they wait for may have changed (Go's `sync.Cond`).
///
/// [`wait`](Cond::wait) atomically unlocks the given guard's [`Mutex`](super::Mutex) and parks;
/// when woken it locks the mutex again before returning. As in Go, wake-ups may come
/// before the condition holds, so always wait in a loop. [`notify_one`](Cond::notify_one) is
/// Go's `Signal`, [`notify_all`](Cond::notify_all) its `Broadcast`. A `Cond` may be used with
/// any mutex, but each wait/notify pairing should stick to one.
///
/// ```
/// use std::sync::Arc;
/// use goro::sync::{Cond, Mutex};
///
/// let state = Arc::new((Mutex::new(false), Cond::new()));
/// let s = state.clone();
/// goro::go(move || {
///     *s.0.lock() = true;
///     s.1.notify_all();
/// });
/// let (ready, cond) = &*state;
/// let mut guard = ready.lock();
/// while !*guard {
///     guard = cond.wait(guard);
/// }
/// ```
pub struct Cond {
    any: AtomicBool,
    queue: Mutex<WaitQueue>,
}

impl QueueOwner for Cond {
    unsafe fn unlink(&self, entry: *mut Entry) {
        let mut queue = lock(&self.queue);
        // SAFETY: the entry was linked only into this queue (caller's contract).
        unsafe { queue.remove(entry) };
        self.any.store(!queue.is_empty(), Ordering::Relaxed);
    }
}

impl Cond {
    /// A condition variable with no waiters; `const`, so it works in statics.
    ///
    /// ```
    /// static COND: goro::sync::Cond = goro::sync::Cond::new();
    /// COND.notify_all(); // nobody waits: nothing happens
    /// ```
    pub const fn new() -> Cond {
        Cond {
            any: AtomicBool::new(false),
            queue: Mutex::new(WaitQueue::new()),
        }
    }

    /// Unlocks the guard's mutex, parks until notified, then locks the mutex again and
    /// returns the new guard (Go's `Wait`). Wake-ups may be spurious with respect to the
    /// condition: check it in a loop.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Cond, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(0), Cond::new()));
    /// let p = pair.clone();
    /// let t = std::thread::spawn(move || {
    ///     let mut n = p.0.lock();
    ///     while *n < 3 {
    ///         n = p.1.wait(n);
    ///     }
    /// });
    /// for _ in 0..3 {
    ///     *pair.0.lock() += 1;
    ///     pair.1.notify_one();
    /// }
    /// t.join().unwrap();
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = guard.mutex;
        let slot = Slot {
            cond: self,
            notified: Cell::new(false),
        };
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, &slot as *const Slot<'_> as *mut ());
        let mut queue = lock(&self.queue);
        // SAFETY: `entry` stays in this frame, unmoved, until it drops; `self` outlives it;
        // the queue belongs to `self` and we hold its lock.
        unsafe { entry.link(&mut queue, self) };
        self.any.store(true, Ordering::Relaxed);
        drop(queue);
        drop(guard);
        waiter.wait(WaitReason::Cond, None);
        slot.notified.set(false);
        mutex.lock()
    }

    /// Wakes one waiting goroutine or thread, the one that has waited longest, if any
    /// (Go's `Signal`). Holding the mutex while calling it is allowed but not required.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Cond, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(None), Cond::new()));
    /// let p = pair.clone();
    /// let h = goro::go(move || {
    ///     let mut slot = p.0.lock();
    ///     loop {
    ///         if let Some(v) = slot.take() {
    ///             return v;
    ///         }
    ///         slot = p.1.wait(slot);
    ///     }
    /// });
    /// *pair.0.lock() = Some("job");
    /// pair.1.notify_one();
    /// assert_eq!(h.join().unwrap(), "job");
    /// ```
    pub fn notify_one(&self) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut queue = lock(&self.queue);
        // SAFETY: `claim_first` just claimed the entry, so its frame (and slot) waits for
        // our `complete` before going away.
        let waker = queue.claim_first(None).map(|e| unsafe {
            (*(e.packet() as *const Slot<'_>)).notified.set(true);
            e.waiter().complete(e.case())
        });
        self.any.store(!queue.is_empty(), Ordering::Relaxed);
        drop(queue);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every waiting goroutine and thread (Go's `Broadcast`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use goro::sync::{Cond, Mutex, WaitGroup};
    ///
    /// let pair = Arc::new((Mutex::new(false), Cond::new()));
    /// let wg = WaitGroup::new();
    /// for _ in 0..3 {
    ///     let p = pair.clone();
    ///     wg.go(move || {
    ///         let mut go = p.0.lock();
    ///         while !*go {
    ///             go = p.1.wait(go);
    ///         }
    ///     });
    /// }
    /// *pair.0.lock() = true;
    /// pair.1.notify_all();
    /// wg.wait();
    /// ```
    pub fn notify_all(&self) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut queue = lock(&self.queue);
        let wakers: Vec<_> = queue
            .claim_all()
            .into_iter()
            // SAFETY: each entry was just claimed by `claim_all`.
            .map(|e| unsafe { e.waiter().complete(e.case()) })
            .collect();
        self.any.store(false, Ordering::Relaxed);
        drop(queue);
        wakers.into_iter().for_each(|w| w.wake());
    }
}

impl Default for Cond {
    /// Same as [`Cond::new`].
    ///
    /// ```
    /// let c = goro::sync::Cond::default();
    /// c.notify_one();
    /// ```
    fn default() -> Self {
        Cond::new()
    }
}

impl std::fmt::Debug for Cond {
    /// Shows whether anyone waits.
    ///
    /// ```
    /// let c = goro::sync::Cond::new();
    /// assert_eq!(format!("{c:?}"), "Cond { waiting: false }");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cond")
            .field("waiting", &self.any.load(Ordering::Relaxed))
            .finish()
    }
}
