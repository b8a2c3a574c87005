//! mutex: Go's `sync.Mutex` — barging for throughput, a starvation mode to bound unfairness.
//!
//! `RawMutex::state` holds four flags (Go's `mutexLocked`, `mutexWoken`, `mutexStarving`,
//! and a "waiters exist" bit in place of Go's waiter count):
//! - `LOCKED`: someone owns the lock. In starvation mode it stays set across a hand-off.
//! - `WOKEN`: a woken waiter (or a spinning arrival) is about to compete for the lock, so
//!   `unlock` need not wake another one. Whoever set it clears it in its next successful CAS
//!   on the state (taking the lock, or queueing again).
//! - `STARVING`: starvation mode. `unlock` hands ownership straight to the first waiter;
//!   arrivals neither take the lock nor spin, they queue. Set by a waiter that has waited
//!   over 1 ms and lost again; cleared by a waiter that receives the lock after waiting less
//!   than 1 ms or finds nobody queued behind it.
//! - `PARKED`: the wait queues hold entries. Changed only under the queue lock.
//!
//! Normal mode: a woken waiter does not own the lock; it competes with arrivals, which spin
//! briefly first (only with more than one worker or on a plain thread: on a single worker
//! the holder cannot run while we spin). A waiter that loses again queues in `requeued`,
//! served before first-time waiters in `arrived` (Go queues it at the front).
//!
//! Invariants: a hand-off sets `LOCKED` for the new owner before completing its waiter, and
//! only while `STARVING` is set (so nobody can take the lock between release and hand-off);
//! a waiter frame that receives a hand-off (or the WOKEN turn) while unwinding passes it on
//! (see `Slot`).

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::park::Waiter;
use crate::runtime::worker::{lock, with_local};
use crate::runtime::WaitReason;
use crate::waitq::{Entry, QueueOwner, WaitQueue};

const LOCKED: u32 = 1;
const WOKEN: u32 = 2;
const STARVING: u32 = 4;
const PARKED: u32 = 8;

/// A waiter that has waited this long switches the mutex to starvation mode (Go's 1 ms).
const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);
/// Spin rounds before queueing, and pause instructions per round (Go's `active_spin` and
/// `active_spin_cnt`).
const SPIN_ROUNDS: u32 = 4;
const SPIN_PAUSES: u32 = 30;

/// The wait queues, split so that waiters who lost a race after waking are served first.
struct Queues {
    requeued: WaitQueue,
    arrived: WaitQueue,
}

impl Queues {
    fn get(&mut self, requeued: bool) -> &mut WaitQueue {
        if requeued {
            &mut self.requeued
        } else {
            &mut self.arrived
        }
    }

    fn is_empty(&self) -> bool {
        self.requeued.is_empty() && self.arrived.is_empty()
    }

    /// Unlinks and claims the first waiter, re-queued ones first.
    fn claim_first(&mut self) -> Option<*mut Entry> {
        let Queues { requeued, arrived } = self;
        requeued
            .claim_first(None)
            .or_else(|| arrived.claim_first(None))
            .map(|e| e as *mut Entry)
    }
}

/// The lock word and wait queues of a [`Mutex`], without the data.
pub(crate) struct RawMutex {
    state: AtomicU32,
    queues: std::sync::Mutex<Queues>,
    /// Set whenever a waiter switches this mutex to starvation mode (for the fairness test).
    #[cfg(all(test, not(loom)))]
    starved: std::sync::atomic::AtomicBool,
}

/// A waiting frame's packet, declared before its `Waiter` so that it drops last.
struct Slot<'a> {
    raw: &'a RawMutex,
    /// Which queue the entry is linked into.
    requeued: bool,
    /// Set by `hand_off` under the queue lock: the lock now belongs to this frame.
    handed_off: Cell<bool>,
    /// Set by `wake_one` under the queue lock: WOKEN was set on this frame's behalf.
    woken: Cell<bool>,
}

impl Drop for Slot<'_> {
    /// A frame that unwinds out of its wait (its runtime shutting down) after being picked
    /// passes on what it was given: the lock itself, or the WOKEN turn (else no other
    /// waiter would ever be woken).
    fn drop(&mut self) {
        if self.handed_off.get() {
            self.raw.unlock();
        } else if self.woken.get() {
            let s = self.raw.state.fetch_and(!WOKEN, Ordering::Relaxed) & !WOKEN;
            self.raw.wake_if_needed(s);
        }
    }
}

/// Whether spinning could help: another worker (or another core, for plain threads) may be
/// running the holder.
fn spin_allowed() -> bool {
    with_local(|l| l.shared.workers.len() > 1).unwrap_or(true)
}

impl RawMutex {
    pub(crate) const fn new() -> RawMutex {
        RawMutex {
            state: AtomicU32::new(0),
            queues: std::sync::Mutex::new(Queues {
                requeued: WaitQueue::new(),
                arrived: WaitQueue::new(),
            }),
            #[cfg(all(test, not(loom)))]
            starved: std::sync::atomic::AtomicBool::new(false),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) {
        if self
            .state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    pub(crate) fn try_lock(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (LOCKED | STARVING) != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                s | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    #[inline]
    pub(crate) fn unlock(&self) {
        let prev = self.state.fetch_sub(LOCKED, Ordering::Release);
        debug_assert!(
            prev & LOCKED != 0,
            "unlock of an unlocked goro::sync::Mutex"
        );
        if prev != LOCKED {
            self.unlock_slow(prev - LOCKED);
        }
    }

    /// Go's `lockSlow`: spin, take the lock when it is free in normal mode, else queue.
    #[cold]
    fn lock_slow(&self) {
        let spin = spin_allowed();
        let mut rounds = 0;
        let mut awoke = false;
        let mut starving = false;
        let mut wait_start: Option<Instant> = None;
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (LOCKED | STARVING) == LOCKED && spin && rounds < SPIN_ROUNDS {
                // Tell `unlock` not to wake a waiter: we are about to take the lock.
                if !awoke
                    && s & (WOKEN | PARKED) == PARKED
                    && self
                        .state
                        .compare_exchange(s, s | WOKEN, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                for _ in 0..SPIN_PAUSES {
                    std::hint::spin_loop();
                }
                rounds += 1;
                s = self.state.load(Ordering::Relaxed);
                continue;
            }
            if s & (LOCKED | STARVING) == 0 {
                let new = if awoke {
                    (s | LOCKED) & !WOKEN
                } else {
                    s | LOCKED
                };
                match self
                    .state
                    .compare_exchange_weak(s, new, Ordering::Acquire, Ordering::Relaxed)
                {
                    Ok(_) => return,
                    Err(now) => {
                        s = now;
                        continue;
                    }
                }
            }
            match self.park(starving, &mut awoke, &mut wait_start) {
                None => {}
                Some(handed_off) => {
                    let waited = wait_start.map_or(Duration::ZERO, |t| t.elapsed());
                    starving = starving || waited > STARVATION_THRESHOLD;
                    if handed_off {
                        // Go's rule for leaving starvation mode: this waiter did not wait
                        // long, or nobody waits behind it.
                        if !starving || self.state.load(Ordering::Relaxed) & PARKED == 0 {
                            self.state.fetch_and(!STARVING, Ordering::Relaxed);
                        }
                        return;
                    }
                    // Woken to compete: `unlock` set WOKEN on our behalf.
                    awoke = true;
                    rounds = 0;
                }
            }
            s = self.state.load(Ordering::Relaxed);
        }
    }

    /// Queues the caller and waits. `None`: the lock came free before the caller could
    /// queue; `Some(true)`: ownership was handed over; `Some(false)`: woken to compete.
    fn park(
        &self,
        starving: bool,
        awoke: &mut bool,
        wait_start: &mut Option<Instant>,
    ) -> Option<bool> {
        let slot = Slot {
            raw: self,
            requeued: wait_start.is_some(),
            handed_off: Cell::new(false),
            woken: Cell::new(false),
        };
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, &slot as *const Slot<'_> as *mut ());
        let mut queues = lock(&self.queues);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (LOCKED | STARVING) == 0 {
                return None;
            }
            let mut new = s | PARKED;
            if starving {
                new |= STARVING;
            }
            if *awoke {
                new &= !WOKEN;
            }
            match self
                .state
                .compare_exchange_weak(s, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    #[cfg(all(test, not(loom)))]
                    if new & STARVING != 0 && s & STARVING == 0 {
                        self.starved.store(true, Ordering::Relaxed);
                    }
                    break;
                }
                Err(now) => s = now,
            }
        }
        *awoke = false;
        // SAFETY: `entry` stays in this frame, unmoved, until it drops; `self` outlives it;
        // the queue belongs to `self` and we hold its lock.
        unsafe { entry.link(queues.get(slot.requeued), self) };
        drop(queues);
        wait_start.get_or_insert_with(Instant::now);
        waiter.wait(WaitReason::Mutex, None);
        slot.woken.set(false);
        Some(slot.handed_off.replace(false))
    }

    /// Go's `unlockSlow`; `s` is the state just after releasing `LOCKED`.
    #[cold]
    fn unlock_slow(&self, s: u32) {
        if s & STARVING != 0 {
            return self.hand_off();
        }
        self.wake_if_needed(s);
    }

    /// Normal mode, `s` a recent state: wakes a waiter unless nobody waits or someone
    /// already holds the lock or is about to compete for it.
    fn wake_if_needed(&self, mut s: u32) {
        loop {
            if s & PARKED == 0 || s & (LOCKED | WOKEN | STARVING) != 0 {
                return;
            }
            match self.state.compare_exchange_weak(
                s,
                s | WOKEN,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return self.wake_one(),
                Err(now) => s = now,
            }
        }
    }

    /// Normal mode: wakes the first waiter to compete for the lock (WOKEN is set for it).
    fn wake_one(&self) {
        let mut queues = lock(&self.queues);
        let claimed = queues.claim_first();
        let mut clear = if queues.is_empty() { PARKED } else { 0 };
        let waker = match claimed {
            // SAFETY: `claim_first` just claimed this entry, so its frame (and slot) waits
            // for our `complete` before going away.
            Some(entry) => Some(unsafe {
                (*((*entry).packet() as *const Slot<'_>)).woken.set(true);
                (*entry).waiter().complete((*entry).case())
            }),
            None => {
                clear |= WOKEN;
                None
            }
        };
        if clear != 0 {
            self.state.fetch_and(!clear, Ordering::Relaxed);
        }
        drop(queues);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Starvation mode: gives the lock to the first waiter (or leaves the mode if none).
    fn hand_off(&self) {
        let mut queues = lock(&self.queues);
        let Some(entry) = queues.claim_first() else {
            self.state
                .fetch_and(!(STARVING | PARKED), Ordering::Relaxed);
            return;
        };
        let clear = if queues.is_empty() { PARKED } else { 0 };
        // LOCKED for the new owner before it can run (and maybe leave starvation mode).
        let _ = self
            .state
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some((s | LOCKED) & !clear)
            });
        // SAFETY: the entry was just claimed, so its frame (and its slot) waits for our
        // `complete` before going away.
        let waker = unsafe {
            let slot = &*((*entry).packet() as *const Slot<'_>);
            slot.handed_off.set(true);
            (*entry).waiter().complete((*entry).case())
        };
        drop(queues);
        waker.wake();
    }
}

impl QueueOwner for RawMutex {
    unsafe fn unlink(&self, entry: *mut Entry) {
        let mut queues = lock(&self.queues);
        // SAFETY: the entry is valid (caller's contract) and its packet is its frame's slot,
        // which outlives it.
        let requeued = unsafe { (*((*entry).packet() as *const Slot<'_>)).requeued };
        // SAFETY: the entry was linked only into this queue.
        unsafe { queues.get(requeued).remove(entry) };
        if queues.is_empty() {
            self.state.fetch_and(!PARKED, Ordering::Relaxed);
        }
    }
}

/// A mutual-exclusion lock around a value (Go's `sync.Mutex`, holding what it protects).
///
/// Blocking in [`lock`](Mutex::lock) parks the goroutine, not its worker thread, so a
/// goroutine may block (sleep, receive, wait) while holding the lock and others queue
/// behind it even on a single worker. Plain threads may use it too.
///
/// Fairness follows Go: in normal mode an arriving locker may take the lock ahead of woken
/// waiters (fast, cache-friendly); a waiter blocked for more than 1 ms switches the mutex to
/// starvation mode, where `unlock` hands the lock directly to the longest waiter until the
/// queue drains. There is no poisoning: a panic while holding the guard just unlocks.
/// Uncontended, `lock` and `unlock` are one atomic operation each.
///
/// ```
/// use std::sync::Arc;
/// use goro::sync::Mutex;
///
/// let m = Arc::new(Mutex::new(0));
/// let hs: Vec<_> = (0..4)
///     .map(|_| {
///         let m = m.clone();
///         goro::go(move || {
///             for _ in 0..1000 {
///                 *m.lock() += 1;
///             }
///         })
///     })
///     .collect();
/// hs.into_iter().for_each(|h| h.join().unwrap());
/// assert_eq!(*m.lock(), 4000);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the lock gives one thread at a time access to `data`, which may therefore be sent
// between threads (T: Send) but need not be shared (no T: Sync), as with std's Mutex.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`; `const`, so it works in statics.
    ///
    /// ```
    /// use goro::sync::Mutex;
    ///
    /// static LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    /// LOG.lock().push("hello");
    /// assert_eq!(LOG.lock().len(), 1);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(String::from("x"));
    /// assert_eq!(m.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, parking the calling goroutine (or blocking the calling thread) until
    /// it is available. The lock is released when the guard drops.
    ///
    /// Locking a mutex the caller already holds deadlocks, as in Go.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(1);
    /// {
    ///     let mut g = m.lock();
    ///     *g += 1;
    /// } // unlocked here
    /// assert_eq!(*m.lock(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the lock if it is free right now (Go's `TryLock`). Also fails in starvation
    /// mode, where the lock is reserved for the waiters.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(());
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().then(|| MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        })
    }

    /// A mutable reference to the value; no locking needed, the borrow proves exclusivity.
    ///
    /// ```
    /// let mut m = goro::sync::Mutex::new(1);
    /// *m.get_mut() = 5;
    /// assert_eq!(*m.lock(), 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    /// A mutex holding `T::default()`.
    ///
    /// ```
    /// let m: goro::sync::Mutex<u32> = Default::default();
    /// assert_eq!(*m.lock(), 0);
    /// ```
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    /// A mutex holding `value`.
    ///
    /// ```
    /// let m = goro::sync::Mutex::from(3);
    /// assert_eq!(*m.lock(), 3);
    /// ```
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    /// Shows the value if the lock is free right now, else `<locked>`.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(7);
    /// assert_eq!(format!("{m:?}"), "Mutex { data: 7, .. }");
    /// let _g = m.lock();
    /// assert_eq!(format!("{m:?}"), "Mutex { data: <locked>, .. }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Proof of holding a [`Mutex`]: dereferences to the value and unlocks when dropped.
///
/// Like std's guard it stays on the thread (goroutine) that locked.
///
/// ```
/// let m = goro::sync::Mutex::new(vec![1]);
/// let mut g: goro::sync::MutexGuard<'_, Vec<i32>> = m.lock();
/// g.push(2);
/// assert_eq!(*g, [1, 2]);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(super) mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard shares only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, and `&mut self` that nobody else uses
        // this guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    /// Formats the guarded value.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new(1);
    /// assert_eq!(format!("{:?}", m.lock()), "1");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    /// Displays the guarded value.
    ///
    /// ```
    /// let m = goro::sync::Mutex::new("hi");
    /// assert_eq!(m.lock().to_string(), "hi");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU64};
    use std::sync::{mpsc, Arc};

    use crate::Runtime;

    /// Holds the lock for `d` of busy work, as a CPU-bound critical section would.
    fn busy(d: Duration) {
        let t = Instant::now();
        while t.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    /// One round: a goroutine loops lock / busy / unlock / yield, re-locking right after its
    /// yield; another's single `lock()` must get through within a bounded number of the
    /// looper's iterations. Returns whether the mutex entered starvation mode.
    ///
    /// The waiter shares its worker with a CPU-bound goroutine, as on a busy Go P: being woken
    /// queues it but does not run it at once, so the looper re-locks first and the waiter,
    /// once it has waited over the threshold, loses as a starving waiter. (With an idle
    /// worker the OS may run the woken waiter before the looper re-locks, and it simply
    /// wins.)
    fn starvation_round(rt: &Runtime) -> bool {
        const MAX_ITERS: u64 = 1_000;
        let mu = Arc::new(Mutex::new(0u64));
        let got_it = Arc::new(AtomicBool::new(false));
        let iters = Arc::new(AtomicU64::new(0));
        let looper = {
            let (mu, got_it, iters) = (mu.clone(), got_it.clone(), iters.clone());
            rt.go(move || {
                while !got_it.load(Ordering::Acquire) {
                    let mut g = mu.lock();
                    *g += 1;
                    busy(Duration::from_micros(1500));
                    drop(g);
                    let n = iters.fetch_add(1, Ordering::Relaxed) + 1;
                    assert!(n < MAX_ITERS, "the waiter was passed over {n} times");
                    crate::yield_now();
                }
            })
        };
        while iters.load(Ordering::Relaxed) < 2 {
            std::thread::yield_now();
        }
        // The looper's worker never looks at its stealable queue while the looper cycles
        // through its run queue, so this lands on the other worker.
        let hog = {
            let (mu, got_it) = (mu.clone(), got_it.clone());
            rt.go(move || {
                let waiter = {
                    let got_it = got_it.clone();
                    crate::go(move || {
                        let g = mu.lock();
                        got_it.store(true, Ordering::Release);
                        drop(g);
                    })
                };
                crate::yield_now(); // the waiter runs here and queues for the lock
                while !got_it.load(Ordering::Acquire) {
                    busy(Duration::from_millis(2));
                    crate::yield_now();
                }
                waiter.join().unwrap();
            })
        };
        hog.join().unwrap();
        looper.join().unwrap();
        mu.raw.starved.load(Ordering::Relaxed)
    }

    #[test]
    fn a_tight_loop_cannot_starve_a_waiter() {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = Runtime::builder().max_procs(2).build().unwrap();
            // Winning the race right away is possible (then no starvation): try a few rounds.
            let starved = (0..20).any(|_| starvation_round(&rt));
            tx.send(starved).unwrap();
        });
        let starved = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("starvation test hung or panicked: a waiter never got the lock");
        assert!(starved, "starvation mode was never entered");
    }
}
