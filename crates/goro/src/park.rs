//! park: the one waiting abstraction behind every blocking primitive.
//!
//! A blocking operation (channel send/receive, select, Mutex, WaitGroup, Cond, sleep, join)
//! creates a [`Waiter`] on its own stack (or inside a pinned future), links one
//! [`Entry`](crate::waitq::Entry) per case into the wait queues it waits on, and calls
//! [`Waiter::wait`]. Whoever can satisfy it — from any thread — claims the waiter for one
//! case, does the hand-off through the entry's packet, marks it done and wakes it.
//!
//! Who waits is hidden behind a [`std::task::Waker`]: a parked goroutine, a blocked OS
//! thread, or an async task. One mechanism, three kinds of waiter.
//!
//! Invariants of the state word (`Waiter::state`):
//! - `WAITING` → `CLAIMED(case)` by exactly one CAS (a peer, under the lock of the queue
//!   holding the entry) or `WAITING` → `ABORTED` by the owner (timeout, drop, select retry).
//! - `CLAIMED(case)` → `DONE(case)` by the claimer, after it has written the packet and taken
//!   the waker. After that store the claimer never touches the waiter again, so the owner
//!   may return (and its stack frame vanish) as soon as it observes `DONE`.
//! - The waker is read only by the claimer; the owner replaces it only while it holds the
//!   lock of the single queue the waiter is linked into (async futures).
//! - Declaration order in a waiting frame is packets, then the waiter, then its entries, so
//!   they drop in reverse: entries unlink themselves, the waiter settles (waiting out any
//!   claimer mid-hand-off), and only then do the packets go.

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::thread::Thread;
use std::time::Instant;

use crossbeam_utils::Backoff;

use crate::atomics::{spin_hint, AtomicUsize};
use crate::runtime::{self, WaitReason};

const WAITING: usize = 0;
const ABORTED: usize = 1;

const fn claimed(case: usize) -> usize {
    2 + 2 * case
}

const fn done(case: usize) -> usize {
    3 + 2 * case
}

/// The rendezvous point of one blocking operation; see the module docs for its states.
pub(crate) struct Waiter {
    state: AtomicUsize,
    waker: UnsafeCell<ManuallyDrop<Waker>>,
}

// SAFETY: the waker cell is accessed by one thread at a time: the owner before the waiter is
// linked into a queue (or under that queue's lock), the claimer after its winning CAS.
unsafe impl Sync for Waiter {}
// SAFETY: `Waker` is Send; the state word is atomic.
unsafe impl Send for Waiter {}

impl Waiter {
    /// A waiter woken through `waker`.
    pub(crate) fn new(waker: Waker) -> Waiter {
        Waiter {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(ManuallyDrop::new(waker)),
        }
    }

    /// A waiter for the current goroutine, or for the current OS thread outside goroutines.
    pub(crate) fn current() -> Waiter {
        Waiter::new(current_waker())
    }

    /// Claims this waiter for `case`. Only one claim (or abort) ever succeeds.
    ///
    /// The caller must hold the lock of a queue this waiter is linked into, and on success
    /// must call [`Waiter::complete`] before releasing it.
    pub(crate) fn try_claim(&self, case: usize) -> bool {
        self.state
            .compare_exchange(WAITING, claimed(case), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Publishes the claimed case as done and hands back the waker to wake once the queue
    /// lock is released.
    ///
    /// # Safety
    /// The caller's `try_claim(case)` on this waiter succeeded, and `complete` was not called
    /// since. The waiter must not be touched after this call.
    pub(crate) unsafe fn complete(&self, case: usize) -> Waker {
        // SAFETY: the successful claim gives the caller exclusive access to the waker, and the
        // owner will not drop it (its state ends in DONE).
        let waker = unsafe { ManuallyDrop::take(&mut *self.waker.get()) };
        self.state.store(done(case), Ordering::Release);
        waker
    }

    /// The case this waiter was completed for, if any.
    pub(crate) fn selected(&self) -> Option<usize> {
        decode_done(self.state.load(Ordering::Acquire))
    }

    /// Whether a peer has claimed or completed this waiter, or its owner aborted it.
    pub(crate) fn is_settled(&self) -> bool {
        self.state.load(Ordering::Acquire) != WAITING
    }

    /// Gives up waiting. Returns the case if a peer won the race and completed it first
    /// (the owner must then honour that completion), `None` if the abort took effect.
    pub(crate) fn abort(&self) -> Option<usize> {
        if let Some(case) = self.selected() {
            return Some(case);
        }
        match self
            .state
            .compare_exchange(WAITING, ABORTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => None,
            Err(ABORTED) => None,
            Err(_) => Some(self.wait_done()),
        }
    }

    /// Spins until a claimer publishes DONE; the claimed → done window is a few stores
    /// under a lock, never a block.
    fn wait_done(&self) -> usize {
        let backoff = Backoff::new();
        loop {
            if let Some(case) = self.selected() {
                return case;
            }
            spin_hint(&backoff);
        }
    }

    /// Blocks the current goroutine or thread until a peer completes this waiter or the
    /// deadline passes. Returns the completed case, or `None` after a timeout (the waiter is
    /// then aborted and no peer can complete it any more).
    pub(crate) fn wait(&self, reason: WaitReason, deadline: Option<Instant>) -> Option<usize> {
        loop {
            if let Some(case) = self.selected() {
                return Some(case);
            }
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return self.abort();
                }
            }
            park_current(&reason, deadline);
        }
    }

    /// An async re-poll: replaces the waker with `waker` and returns true if the waiter is
    /// still waiting; false if a peer has completed it.
    ///
    /// # Safety
    /// The caller holds the lock of the queues this waiter is linked into (or it is linked
    /// into none). Peers claim and complete under that lock, so the waiter is either waiting
    /// or done, and no claimer can read the waker concurrently.
    pub(crate) unsafe fn refresh_waker(&self, waker: &Waker) -> bool {
        if self.is_settled() {
            return false;
        }
        // SAFETY: exclusive access per the contract above.
        let slot = unsafe { &mut *self.waker.get() };
        if !slot.will_wake(waker) {
            **slot = waker.clone();
        }
        true
    }
}

impl Drop for Waiter {
    /// Settles the waiter first: a claimer in the middle of a hand-off (possible when an
    /// owner unwinds out of `wait`) finishes before the waiter and its packets go away.
    fn drop(&mut self) {
        if self.abort().is_none() {
            // SAFETY: the state is ABORTED, so no claimer took the waker or ever will.
            unsafe { ManuallyDrop::drop(self.waker.get_mut()) }
        }
    }
}

fn decode_done(state: usize) -> Option<usize> {
    (state >= 3 && state % 2 == 1).then(|| (state - 3) / 2)
}

/// Parks the current goroutine (or blocks the current OS thread) until it is woken through
/// its waker, the deadline passes, or spuriously. Callers always re-check their condition.
pub(crate) fn park_current(reason: &WaitReason, deadline: Option<Instant>) {
    if runtime::on_goroutine() {
        runtime::park_goroutine(reason, deadline);
    } else {
        match deadline {
            None => {
                let _blocked = runtime::thread_blocked();
                std::thread::park();
            }
            Some(d) => {
                runtime::thread_touched();
                std::thread::park_timeout(d.saturating_duration_since(Instant::now()));
            }
        }
    }
}

/// Wakes a blocked OS thread.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
}

/// The waker of the current goroutine, or of the current OS thread outside goroutines.
pub(crate) fn current_waker() -> Waker {
    runtime::current_goroutine_waker().unwrap_or_else(|| THREAD_WAKER.with(Waker::clone))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn claim_complete_wakes_thread_and_reports_case() {
        let waiter = Arc::new(Waiter::current());
        let peer = {
            let waiter = waiter.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                assert!(waiter.try_claim(3));
                assert!(!waiter.try_claim(1), "a second claim must fail");
                // SAFETY: claimed above.
                unsafe { waiter.complete(3) }.wake();
            })
        };
        assert_eq!(waiter.wait(WaitReason::Other("test"), None), Some(3));
        peer.join().unwrap();
    }

    #[test]
    fn wait_times_out_and_abort_blocks_later_claims() {
        let waiter = Waiter::current();
        let deadline = Instant::now() + Duration::from_millis(10);
        assert_eq!(waiter.wait(WaitReason::Sleep, Some(deadline)), None);
        assert!(Instant::now() >= deadline);
        assert!(!waiter.try_claim(0));
        assert_eq!(waiter.selected(), None);
    }

    #[test]
    fn abort_after_completion_reports_the_case() {
        let waiter = Waiter::current();
        assert!(waiter.try_claim(5));
        // SAFETY: claimed above.
        drop(unsafe { waiter.complete(5) });
        assert_eq!(waiter.abort(), Some(5));
    }
}

/// loom models of the claim/complete/abort protocol: `RUSTFLAGS="--cfg loom" cargo test -p
/// goro --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::atomic::AtomicUsize as Count;
    use loom::sync::Arc as LArc;

    /// A waker that counts wakes and drops, to check the waker is taken exactly once.
    struct Probe {
        wakes: Count,
    }

    impl Wake for Probe {
        fn wake(self: Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn probe() -> (Arc<Probe>, Waker) {
        let p = Arc::new(Probe {
            wakes: Count::new(0),
        });
        (p.clone(), Waker::from(p))
    }

    #[test]
    fn loom_two_claimers_one_winner() {
        loom::model(|| {
            let (p, waker) = probe();
            let w = LArc::new(Waiter::new(waker));
            let wins = LArc::new(Count::new(0));
            let peers: Vec<_> = (0..2)
                .map(|case| {
                    let (w, wins) = (w.clone(), wins.clone());
                    loom::thread::spawn(move || {
                        if w.try_claim(case) {
                            wins.fetch_add(1, Ordering::SeqCst);
                            // SAFETY: claimed just above.
                            unsafe { w.complete(case) }.wake();
                        }
                    })
                })
                .collect();
            peers.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(wins.load(Ordering::SeqCst), 1);
            assert!(w.selected().is_some());
            assert_eq!(p.wakes.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn loom_abort_races_a_claim() {
        loom::model(|| {
            let (p, waker) = probe();
            let w = LArc::new(Waiter::new(waker));
            let peer = {
                let w = w.clone();
                loom::thread::spawn(move || {
                    if w.try_claim(4) {
                        // SAFETY: claimed just above.
                        unsafe { w.complete(4) }.wake();
                        true
                    } else {
                        false
                    }
                })
            };
            let aborted = w.abort();
            let peer_won = peer.join().unwrap();
            match aborted {
                Some(case) => {
                    assert!(peer_won);
                    assert_eq!(case, 4);
                    assert_eq!(w.selected(), Some(4));
                }
                None => assert!(!peer_won, "an abort that took effect excludes any claim"),
            }
            drop(w);
            let wakes = p.wakes.load(Ordering::SeqCst);
            assert_eq!(wakes, usize::from(peer_won));
            // The waker was dropped exactly once: by the claimer's wake or by the waiter.
            assert_eq!(Arc::strong_count(&p), 1);
        });
    }
}
