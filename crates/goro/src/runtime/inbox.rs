//! inbox: the lock-free queue of goroutines readied for a worker by other threads.
//!
//! Many threads push, only the home worker takes, and it always takes everything at once.
//! So the inbox is an intrusive stack (a goroutine links itself through its own
//! `inbox_next`) with a swap-the-head take, reversed on the way out to keep arrival order.
//! Taking the whole stack at once is what rules out ABA: nobody ever pops a single node.
//!
//! Invariant: a goroutine is in at most one inbox at a time, because only the waker that
//! moved it from `PARKED` to `RUNNABLE` queues it; while it is in the inbox, the inbox owns
//! one `Arc` reference to it (leaked in `push`, recovered in `take_all`).

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use super::goroutine::Goroutine;

pub(crate) struct Inbox {
    head: AtomicPtr<Goroutine>,
}

impl Inbox {
    pub(crate) fn new() -> Inbox {
        Inbox {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Ordering::Acquire).is_null()
    }

    pub(crate) fn push(&self, g: Arc<Goroutine>) {
        let node = Arc::into_raw(g).cast_mut();
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is a live goroutine this inbox now owns a reference to; until
            // the CAS below publishes it, no other thread reads its link.
            unsafe { (*node).inbox_next.store(head, Ordering::Relaxed) };
            match self
                .head
                // SeqCst: the waker reads the worker's `sleeping` next, and the worker reads
                // the inbox after setting it (see `worker::sleep`): neither may miss both.
                .compare_exchange_weak(head, node, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => head = actual,
            }
        }
    }

    /// Takes every queued goroutine, oldest first, into `out`.
    pub(crate) fn take_all(&self, out: &mut impl Extend<Arc<Goroutine>>) {
        let mut node = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        // The stack is newest first: reverse its links in place, then hand nodes out.
        let mut oldest = ptr::null_mut();
        while !node.is_null() {
            // SAFETY: every node on the stack came from `Arc::into_raw` in `push` and is
            // alive (the inbox owns a reference); the swap made this thread its only
            // reader and writer, and the links were written before the publishing CAS,
            // which our swap (Acquire) synchronises with.
            let next = unsafe { (*node).inbox_next.load(Ordering::Relaxed) };
            // SAFETY: as above.
            unsafe { (*node).inbox_next.store(oldest, Ordering::Relaxed) };
            oldest = node;
            node = next;
        }
        while !oldest.is_null() {
            // SAFETY: as above; each node is turned back into the reference `push` leaked,
            // exactly once.
            let g = unsafe { Arc::from_raw(oldest) };
            oldest = g.inbox_next.load(Ordering::Relaxed);
            out.extend(std::iter::once(g));
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        let mut dropped: Vec<Arc<Goroutine>> = Vec::new();
        self.take_all(&mut dropped);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::goroutine::GoroutineId;
    use crate::runtime::Runtime;

    #[test]
    fn take_all_hands_out_oldest_first_and_empties_the_inbox() {
        let rt = Runtime::builder().max_procs(1).build().unwrap();
        let header = || {
            let id = GoroutineId::next();
            Arc::new(Goroutine::new(
                rt.shared.clone(),
                0,
                id,
                std::panic::Location::caller(),
            ))
        };
        let pushed: Vec<Arc<Goroutine>> = (0..4).map(|_| header()).collect();
        let inbox = Inbox::new();
        pushed.iter().for_each(|g| inbox.push(g.clone()));
        let mut taken = Vec::new();
        inbox.take_all(&mut taken);
        let ids = |gs: &[Arc<Goroutine>]| gs.iter().map(|g| g.id()).collect::<Vec<_>>();
        assert_eq!(ids(&taken), ids(&pushed));
        assert!(inbox.is_empty());
        inbox.push(pushed[0].clone());
        let mut again = Vec::new();
        inbox.take_all(&mut again);
        assert_eq!(ids(&again), ids(&pushed[..1]));
    }
}
