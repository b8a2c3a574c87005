//! waitq: intrusive FIFO queues of waiting operations.
//!
//! An [`Entry`] lives in the waiting operation's own frame (a goroutine's stack, a thread's
//! stack, or a pinned future) — nothing is allocated per wait. A [`WaitQueue`] links entries
//! in arrival order. Every queue is protected by the lock of the object that owns it (a
//! channel, a Mutex, a WaitGroup...); all methods require that lock to be held, which is
//! what `&mut WaitQueue` expresses.
//!
//! Invariants:
//! - An entry is linked into at most one queue, and `queued` is true exactly while it is.
//! - A linked entry stays valid and does not move until it is unlinked. Its `Drop` does the
//!   unlinking (through the [`QueueOwner`] it was linked under, taking that lock), unless the
//!   entry's own case was completed: then the claimer unlinked it and is done with it. So an
//!   operation that unwinds (a panic, a runtime shutting down) leaves no dangling entry.
//! - Peers unlink an entry before claiming its waiter, so a claimed entry is never found
//!   in a queue again.

use std::marker::PhantomPinned;
use std::ptr;

use crate::park::Waiter;

/// The object whose lock protects a queue an entry was linked into.
pub(crate) trait QueueOwner {
    /// Takes the lock and unlinks `entry` from whichever of this object's queues holds it.
    ///
    /// # Safety
    /// `entry` is valid and was linked only into queues of this object.
    unsafe fn unlink(&self, entry: *mut Entry);
}

/// One case of one waiting operation, linked into one wait queue.
pub(crate) struct Entry {
    waiter: *const Waiter,
    case: usize,
    packet: *mut (),
    prev: *mut Entry,
    next: *mut Entry,
    queued: bool,
    owner: Option<*const dyn QueueOwner>,
    _pinned: PhantomPinned,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let Some(owner) = self.owner else { return };
        // SAFETY: the owner keeps its waiter alive for as long as its entries.
        if unsafe { self.waiter() }.selected() == Some(self.case) {
            return;
        }
        // SAFETY: `owner` outlives the entry (the entry's frame borrows it while linked, see
        // `link`), and the entry was linked only into its queues.
        unsafe { (*owner).unlink(self) }
    }
}

impl Entry {
    /// An unlinked entry for `case` of `waiter`, carrying an operation-specific packet
    /// pointer (the slot a value is written into or taken from).
    pub(crate) fn new(waiter: &Waiter, case: usize, packet: *mut ()) -> Entry {
        Entry {
            waiter,
            case,
            packet,
            prev: ptr::null_mut(),
            next: ptr::null_mut(),
            queued: false,
            owner: None,
            _pinned: PhantomPinned,
        }
    }

    /// Links this entry at the back of `queue`, which `owner`'s lock protects (the caller
    /// holds it), and remembers `owner` so that dropping the entry unlinks it.
    ///
    /// # Safety
    /// The entry is unlinked; it stays unmoved until dropped; `owner` outlives it; `queue`
    /// belongs to `owner` and its lock is held.
    pub(crate) unsafe fn link(&mut self, queue: &mut WaitQueue, owner: &dyn QueueOwner) {
        // SAFETY: only the lifetime is erased; the caller guarantees `owner` outlives the
        // entry, and the pointer is only used from `Drop`.
        let owner: *const (dyn QueueOwner + 'static) = unsafe { std::mem::transmute(owner) };
        self.owner = Some(owner);
        // SAFETY: per this function's contract.
        unsafe { queue.push_back(self) };
    }

    /// The waiter this entry belongs to.
    ///
    /// # Safety
    /// The entry is linked (so its owner keeps the waiter alive), or the caller is its owner.
    pub(crate) unsafe fn waiter(&self) -> &Waiter {
        // SAFETY: per the contract, the waiter outlives every linked entry of it.
        unsafe { &*self.waiter }
    }

    /// Whether this entry belongs to `waiter` (a select never pairs with itself).
    pub(crate) fn belongs_to(&self, waiter: &Waiter) -> bool {
        ptr::eq(self.waiter, waiter)
    }

    /// The case index this entry stands for.
    pub(crate) fn case(&self) -> usize {
        self.case
    }

    /// The operation's packet pointer.
    pub(crate) fn packet(&self) -> *mut () {
        self.packet
    }
}

/// A FIFO of entries; see the module docs.
pub(crate) struct WaitQueue {
    head: *mut Entry,
    tail: *mut Entry,
}

// SAFETY: the queue only holds pointers to entries whose owners wait for the lock that
// protects the queue before touching them; it is moved between threads only inside that lock.
unsafe impl Send for WaitQueue {}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueue {
    /// An empty queue.
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
        }
    }

    /// Whether no entry is linked.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Links `entry` at the back.
    ///
    /// # Safety
    /// `entry` is unlinked, and stays valid and unmoved until it is unlinked again.
    unsafe fn push_back(&mut self, entry: *mut Entry) {
        // SAFETY: the caller guarantees `entry` is valid; linked entries are valid by the
        // module invariant.
        unsafe {
            debug_assert!(!(*entry).queued);
            (*entry).queued = true;
            (*entry).next = ptr::null_mut();
            (*entry).prev = self.tail;
            if self.tail.is_null() {
                self.head = entry;
            } else {
                (*self.tail).next = entry;
            }
            self.tail = entry;
        }
    }

    /// Unlinks `entry` if it is linked here. Returns whether it was.
    ///
    /// # Safety
    /// `entry` is valid and, if linked, linked into this queue.
    pub(crate) unsafe fn remove(&mut self, entry: *mut Entry) -> bool {
        // SAFETY: the caller guarantees `entry` is valid; its neighbours are linked entries.
        unsafe {
            if !(*entry).queued {
                return false;
            }
            let (prev, next) = ((*entry).prev, (*entry).next);
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next = next;
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).prev = prev;
            }
            (*entry).queued = false;
            (*entry).prev = ptr::null_mut();
            (*entry).next = ptr::null_mut();
        }
        true
    }

    /// Unlinks and returns the first entry whose waiter this call claims, skipping (and
    /// unlinking) entries whose waiters are already settled and, when `not_of` is given,
    /// entries of that waiter. The caller must `complete` the returned entry's waiter before
    /// releasing the queue's lock.
    pub(crate) fn claim_first(&mut self, not_of: Option<&Waiter>) -> Option<&mut Entry> {
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: linked entries are valid (module invariant) and we hold the lock.
            let entry = unsafe { &mut *cur };
            cur = entry.next;
            if not_of.is_some_and(|w| entry.belongs_to(w)) {
                continue;
            }
            // SAFETY: the entry is linked, so its owner cannot free it (or its waiter) before
            // taking the lock we hold; the claim happens before we unlink it.
            let won = unsafe { entry.waiter() }.try_claim(entry.case);
            // SAFETY: `entry` is linked here.
            unsafe { self.remove(entry) };
            if won {
                return Some(entry);
            }
        }
        None
    }

    /// Whether some entry could still be claimed (its waiter is not settled), ignoring
    /// entries of `not_of`.
    pub(crate) fn has_claimable(&self, not_of: Option<&Waiter>) -> bool {
        let mut cur = self.head;
        while !cur.is_null() {
            // SAFETY: linked entries are valid and we hold the lock.
            let entry = unsafe { &*cur };
            // SAFETY: linked, so the waiter is alive.
            let settled = unsafe { entry.waiter() }.is_settled();
            if !settled && !not_of.is_some_and(|w| entry.belongs_to(w)) {
                return true;
            }
            cur = entry.next;
        }
        false
    }

    /// Unlinks every entry and returns them in order, for close/teardown paths. Entries
    /// whose waiter cannot be claimed are dropped from the result.
    pub(crate) fn claim_all(&mut self) -> Vec<&mut Entry> {
        let mut out = Vec::new();
        while let Some(entry) = self.claim_first(None) {
            // SAFETY: lifetimes of distinct entries do not overlap the queue borrow; each is
            // unlinked, and stays valid until its waiter is completed by the caller.
            out.push(unsafe { &mut *(entry as *mut Entry) });
        }
        out
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_remove_and_claim() {
        let waiters: Vec<Waiter> = (0..4).map(|_| Waiter::current()).collect();
        let mut entries: Vec<Entry> = waiters
            .iter()
            .enumerate()
            .map(|(i, w)| Entry::new(w, i, ptr::null_mut()))
            .collect();
        let mut q = WaitQueue::new();
        for e in entries.iter_mut() {
            // SAFETY: the entries outlive the queue's use below and are not moved.
            unsafe { q.push_back(e) };
        }
        // SAFETY: entries[1] is linked here.
        assert!(unsafe { q.remove(&mut entries[1]) });
        // SAFETY: already unlinked: a no-op.
        assert!(!unsafe { q.remove(&mut entries[1]) });
        assert!(
            waiters[0].abort().is_none(),
            "settle waiter 0 so it is skipped"
        );
        assert!(q.has_claimable(None));
        let first = q.claim_first(None).map(|e| e.case());
        assert_eq!(first, Some(2));
        // SAFETY: claimed above.
        drop(unsafe { waiters[2].complete(2) });
        let rest: Vec<usize> = q.claim_all().iter().map(|e| e.case()).collect();
        assert_eq!(rest, vec![3]);
        // SAFETY: claimed by claim_all.
        drop(unsafe { waiters[3].complete(3) });
        assert!(q.is_empty());
        assert!(!entries[0].queued && !entries[3].queued);
    }
}

/// loom model of a waiter linked into a queue racing a peer that claims it:
/// `RUSTFLAGS="--cfg loom" cargo test -p goro --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::{Arc, Mutex};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    struct Owner {
        queue: Mutex<WaitQueue>,
    }

    impl QueueOwner for Owner {
        unsafe fn unlink(&self, entry: *mut Entry) {
            // SAFETY: the entry was linked only into this queue.
            unsafe { self.queue.lock().unwrap().remove(entry) };
        }
    }

    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn loom_claim_races_abort_and_unlink() {
        loom::model(|| {
            let owner = Arc::new(Owner {
                queue: Mutex::new(WaitQueue::new()),
            });
            let wakes = std::sync::Arc::new(Wakes(AtomicUsize::new(0)));
            let waiting = {
                let (owner, wakes) = (owner.clone(), wakes.clone());
                loom::thread::spawn(move || {
                    let waiter = Waiter::new(Waker::from(wakes));
                    let mut entry = Entry::new(&waiter, 7, ptr::null_mut());
                    {
                        let mut queue = owner.queue.lock().unwrap();
                        // SAFETY: `entry` stays in this frame until dropped; `owner` outlives it.
                        unsafe { entry.link(&mut queue, &*owner) };
                    }
                    let outcome = waiter.abort();
                    drop(entry);
                    outcome
                })
            };
            let claimed = {
                let mut queue = owner.queue.lock().unwrap();
                match queue.claim_first(None) {
                    Some(e) => {
                        // SAFETY: claimed just above, under the queue's lock.
                        let w = unsafe { e.waiter().complete(e.case()) };
                        drop(queue);
                        w.wake();
                        true
                    }
                    None => false,
                }
            };
            let outcome = waiting.join().unwrap();
            assert_eq!(
                outcome,
                claimed.then_some(7),
                "completed exactly when claimed"
            );
            assert_eq!(wakes.0.load(Ordering::SeqCst), usize::from(claimed));
            assert!(
                owner.queue.lock().unwrap().is_empty(),
                "nothing left linked"
            );
        });
    }
}
