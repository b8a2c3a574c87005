//! spin: the spin lock around a channel's state, a worker's stealable queue and registry,
//! and a goroutine's join state.
//!
//! Those critical sections are a few loads and stores (push or pop one value, link or claim
//! one entry, move a batch of goroutines), and on a goroutine they never block: a goroutine
//! cannot be switched out by goro while it holds the lock (goro does not preempt, and
//! nothing under the lock waits). So contention comes only from other worker threads and
//! plain threads, for tens of nanoseconds. A futex mutex turns every such collision into a
//! `futex_wake` syscall on unlock, which dominated profiles of buffered MPMC traffic;
//! spinning with exponential backoff that falls back to `yield_now` (crossbeam-channel's
//! choice for the same job) keeps unlock a plain store and still gives the CPU away if the
//! holder's thread was preempted by the OS.
//!
//! Invariant: `locked` is true exactly while a `SpinGuard` exists; the guard is the only
//! way to reach the value. There is no poisoning: the guard unlocks on drop, unwinding
//! included, and the channel code under it keeps its state consistent at every step.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;

use crossbeam_utils::Backoff;

use crate::atomics::{spin_hint, AtomicBool};

/// A spin lock for short, non-blocking critical sections.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to the value to one thread at a time (the guard), so
// sharing the lock shares the value only as a `Mutex` would: `T: Send` suffices.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Access to the locked value; unlocks when dropped.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// loom's atomics have no `const` constructor.
    #[cfg(loom)]
    pub(crate) fn new(value: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let backoff = Backoff::new();
        loop {
            while self.locked.load(Ordering::Relaxed) {
                spin_hint(&backoff);
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists, so this thread holds the lock: no other access exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
