//! semaphore: a counting semaphore with FIFO fairness (x/sync's `semaphore.Weighted`, one
//! permit at a time).
//!
//! `Semaphore::state` is the number of free permits shifted left by one, plus the `QUEUED`
//! bit, set (under the queue lock) while acquirers wait. Releasing with `QUEUED` set hands
//! the permit straight to the first waiter instead of freeing it, so the free count stays
//! zero while anyone waits and a newcomer can never overtake the queue.
//!
//! Invariants: `QUEUED` implies zero free permits; `QUEUED` changes only under the queue
//! lock; a permit handed to a waiter frame that unwinds instead of taking it is released
//! again (see `Slot`).

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::park::Waiter;
use crate::runtime::worker::lock;
use crate::runtime::WaitReason;
use crate::waitq::{Entry, QueueOwner, WaitQueue};

const QUEUED: usize = 1;
const ONE: usize = 2;
const MAX_PERMITS: usize = usize::MAX >> 1;

/// A waiting frame's packet, declared before its `Waiter` so that it drops last.
struct Slot<'a> {
    sem: &'a Semaphore,
    /// Set under the queue lock when a permit is handed over.
    granted: Cell<bool>,
}

impl Drop for Slot<'_> {
    /// A permit handed to a frame that unwinds out of its wait goes back.
    fn drop(&mut self) {
        if self.granted.get() {
            self.sem.release(1);
        }
    }
}

/// A counting semaphore: at most `permits` holders at a time (x/sync's `semaphore`).
///
/// [`acquire`](Semaphore::acquire) parks the goroutine (or blocks the thread) until a permit
/// is free and returns it as a [`SemaphorePermit`], which gives the permit back when
/// dropped. Waiters are served strictly in arrival order, and while anyone waits no caller
/// can take a permit ahead of them, not even with [`try_acquire`](Semaphore::try_acquire).
///
/// ```
/// use std::sync::Arc;
/// use goro::sync::{Semaphore, WaitGroup};
///
/// // At most two downloads at a time.
/// let sem = Arc::new(Semaphore::new(2));
/// let wg = WaitGroup::new();
/// for i in 0..5 {
///     let sem = sem.clone();
///     wg.go(move || {
///         let _permit = sem.acquire();
///         println!("downloading {i}");
///     });
/// }
/// wg.wait();
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    queue: Mutex<WaitQueue>,
}

impl QueueOwner for Semaphore {
    unsafe fn unlink(&self, entry: *mut Entry) {
        let mut queue = lock(&self.queue);
        // SAFETY: the entry was linked only into this queue (caller's contract).
        unsafe { queue.remove(entry) };
        if queue.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Relaxed);
        }
    }
}

impl Semaphore {
    /// A semaphore with `permits` free permits; `const`, so it works in statics.
    ///
    /// # Panics
    /// If `permits` exceeds `usize::MAX / 2`.
    ///
    /// ```
    /// static POOL: goro::sync::Semaphore = goro::sync::Semaphore::new(3);
    /// assert_eq!(POOL.available_permits(), 3);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        assert!(
            permits <= MAX_PERMITS,
            "Semaphore::new: more than usize::MAX / 2 permits"
        );
        Semaphore {
            state: AtomicUsize::new(permits * ONE),
            queue: Mutex::new(WaitQueue::new()),
        }
    }

    /// Takes a permit, parking until one is free (Go's `Acquire(ctx, 1)`). Dropping the
    /// returned permit releases it.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// let p = sem.acquire();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(p);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        if !self.try_take() {
            self.acquire_slow();
        }
        SemaphorePermit { sem: self }
    }

    /// Takes a permit if one is free right now and nobody is queued for one (Go's
    /// `TryAcquire(1)`).
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_take().then(|| SemaphorePermit { sem: self })
    }

    /// The number of free permits right now.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(4);
    /// let _a = sem.acquire();
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Relaxed) / ONE
    }

    /// Adds `n` permits, waking up to `n` waiters (each gets one, in arrival order).
    ///
    /// # Panics
    /// If the free permits would exceed `usize::MAX / 2`.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(0);
    /// assert!(sem.try_acquire().is_none());
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// One free permit taken without waiting; never while anyone is queued (they hold
    /// `QUEUED`, which implies zero free permits).
    #[inline]
    fn try_take(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        while s >= ONE {
            match self
                .state
                .compare_exchange_weak(s, s - ONE, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    #[cold]
    fn acquire_slow(&self) {
        let slot = Slot {
            sem: self,
            granted: Cell::new(false),
        };
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, &slot as *const Slot<'_> as *mut ());
        let mut queue = lock(&self.queue);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let next = if s >= ONE { s - ONE } else { s | QUEUED };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if s >= ONE => return,
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: `entry` stays in this frame, unmoved, until it drops; `self` outlives it;
        // the queue belongs to `self` and we hold its lock.
        unsafe { entry.link(&mut queue, self) };
        drop(queue);
        waiter.wait(WaitReason::Semaphore, None);
        // The releaser handed its permit to us.
        slot.granted.set(false);
    }

    /// Gives `n` permits back: to waiters first, the rest to the free count.
    fn release(&self, n: usize) {
        let mut s = self.state.load(Ordering::Relaxed);
        while s & QUEUED == 0 {
            let next = n
                .checked_mul(ONE)
                .and_then(|d| s.checked_add(d))
                .expect("Semaphore: more than usize::MAX / 2 permits");
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(now) => s = now,
            }
        }
        self.release_to_waiters(n);
    }

    #[cold]
    fn release_to_waiters(&self, mut n: usize) {
        let mut queue = lock(&self.queue);
        let mut wakers = Vec::new();
        while n > 0 {
            let Some(entry) = queue.claim_first(None) else {
                break;
            };
            // SAFETY: the entry was just claimed, so its frame (and slot) waits for our
            // `complete` before going away.
            wakers.push(unsafe {
                let slot = &*(entry.packet() as *const Slot<'_>);
                slot.granted.set(true);
                entry.waiter().complete(entry.case())
            });
            n -= 1;
        }
        if queue.is_empty() {
            // Nobody waits any more: the rest become free permits.
            let _ = self
                .state
                .fetch_update(Ordering::Release, Ordering::Relaxed, |s| {
                    Some((s & !QUEUED) + n * ONE)
                });
        }
        drop(queue);
        wakers.into_iter().for_each(|w| w.wake());
    }
}

impl Default for Semaphore {
    /// A semaphore with no permits (add some with [`Semaphore::add_permits`]).
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::default();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    fn default() -> Self {
        Semaphore::new(0)
    }
}

impl fmt::Debug for Semaphore {
    /// Shows the free permits.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(2);
    /// assert_eq!(format!("{sem:?}"), "Semaphore { permits: 2 }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish()
    }
}

/// One permit of a [`Semaphore`]; dropping it gives the permit back.
///
/// ```
/// let sem = goro::sync::Semaphore::new(1);
/// {
///     let _permit: goro::sync::SemaphorePermit<'_> = sem.acquire();
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permit is released as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.release(1);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    /// Names the permit.
    ///
    /// ```
    /// let sem = goro::sync::Semaphore::new(1);
    /// assert_eq!(format!("{:?}", sem.acquire()), "SemaphorePermit");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SemaphorePermit")
    }
}
