//! core: the one channel state behind `Chan`, `Sender` and `Receiver` — its flavor and its
//! handle counts.
//!
//! Two flavors, chosen by capacity when the channel is made:
//! - capacity 0, [`Rendezvous`]: a lock around two wait queues. A value goes straight from
//!   the sender's frame to the receiver's, so a completed wait entry *carries its result*.
//! - capacity 1 or more, [`Ring`]: a lock-free ring of slots, with wait queues only for
//!   blocked operations. A completed wait entry only means *try again*; a waiter that was
//!   completed but gives up passes the wake-up on.
//!
//! Both take the same wait entries and waiters (`waitq`, `park`), so a select, a blocking
//! call and an async future wait on either in the same way; `hands_over` tells them which
//! meaning a completion has. The handle counts are the same for both: the last sending
//! handle closes the channel, the last receiving handle disconnects it.

use std::sync::atomic::Ordering;
use std::task::Waker;
use std::time::Instant;

use super::errors::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use super::rendezvous::Rendezvous;
use super::ring::Ring;
use crate::atomics::AtomicUsize;
use crate::park::Waiter;
use crate::waitq::{Entry, WaitQueue};

/// A channel: its flavor and its handle counts. Reached only through handles.
pub struct Core<T> {
    flavor: Flavor<T>,
    /// Handles able to send (`Chan`, `Sender`), plus one phantom for channels that must
    /// never close (`never`, timer channels).
    senders: AtomicUsize,
    /// Handles able to receive (`Chan`, `Receiver`).
    receivers: AtomicUsize,
}

enum Flavor<T> {
    Rendezvous(Rendezvous<T>),
    /// Boxed: its cache-padded positions would make every unbuffered channel 500 bytes
    /// larger.
    Ring(Box<Ring<T>>),
}

/// Wakes `w`, if any; called with every channel lock released.
#[inline]
pub(crate) fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

/// The packet of an entry: the waiting operation's `Option<T>` slot.
///
/// # Safety
/// `entry` is an entry of a rendezvous channel of `T` that the caller has just claimed (so
/// it alone touches the slot until it completes the entry's waiter), and the returned
/// reference is not used after that completion.
#[inline]
pub(crate) unsafe fn slot<'a, T>(entry: &Entry) -> &'a mut Option<T> {
    // SAFETY: every entry linked into a `Rendezvous<T>` queue carries a pointer to an
    // `UnsafeCell<Option<T>>` that outlives it, and the claim makes the access exclusive.
    unsafe { &mut *entry.packet().cast::<Option<T>>() }
}

/// Completes a claimed entry's waiter and returns the waker to wake after unlocking.
///
/// # Safety
/// The caller claimed `entry` (through `claim_first`/`claim_all`) and has not completed it.
#[inline]
pub(crate) unsafe fn complete(entry: &Entry) -> Waker {
    // SAFETY: per the contract, the claim is ours and not yet completed.
    unsafe { entry.waiter().complete(entry.case()) }
}

/// Claims and completes every entry of `q`, returning their wakers.
pub(crate) fn complete_all(q: &mut WaitQueue) -> Vec<Waker> {
    if q.is_empty() {
        return Vec::new();
    }
    q.claim_all()
        .into_iter()
        // SAFETY: each entry was just claimed by `claim_all`.
        .map(|e| unsafe { complete(e) })
        .collect()
}

impl<T> Core<T> {
    /// A channel of capacity `cap` with the given initial handle counts.
    pub(crate) fn new(cap: usize, senders: usize, receivers: usize) -> Core<T> {
        let flavor = if cap == 0 {
            Flavor::Rendezvous(Rendezvous::new())
        } else {
            Flavor::Ring(Box::new(Ring::new(cap)))
        };
        Core {
            flavor,
            senders: AtomicUsize::new(senders),
            receivers: AtomicUsize::new(receivers),
        }
    }

    #[inline]
    pub(crate) fn cap(&self) -> usize {
        match &self.flavor {
            Flavor::Rendezvous(_) => 0,
            Flavor::Ring(r) => r.cap(),
        }
    }

    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        match &self.flavor {
            Flavor::Rendezvous(r) => r.try_recv(),
            Flavor::Ring(r) => {
                let (v, w) = r.take()?;
                wake(w);
                Ok(v)
            }
        }
    }

    /// Sends without blocking; on success returns the waker of a receiver it readied, for
    /// the caller to wake once it holds no lock of its own.
    #[inline]
    pub(crate) fn offer(&self, v: T) -> Result<Option<Waker>, TrySendError<T>> {
        match &self.flavor {
            Flavor::Rendezvous(r) => r.offer(v),
            Flavor::Ring(r) => r.offer(v),
        }
    }

    #[inline]
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        wake(self.offer(v)?);
        Ok(())
    }

    /// Receives, parking the goroutine (or blocking the thread) until a value arrives, the
    /// channel is closed and drained, or `deadline` passes.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match &self.flavor {
            Flavor::Rendezvous(r) => r.recv(deadline),
            Flavor::Ring(r) => r.recv(deadline),
        }
    }

    /// Sends, parking the goroutine (or blocking the thread) until the value is taken (or
    /// buffered), the channel closes or loses its receivers, or `deadline` passes.
    pub(crate) fn send(&self, v: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        match &self.flavor {
            Flavor::Rendezvous(r) => r.send(v, deadline),
            Flavor::Ring(r) => r.send(v, deadline),
        }
    }

    /// Whether a completed wait entry carries its operation's result in its packet (a
    /// rendezvous), rather than meaning "try again" (a ring).
    #[inline]
    pub(crate) fn hands_over(&self) -> bool {
        matches!(self.flavor, Flavor::Rendezvous(_))
    }

    /// Registration of a waiting receive (a select arm, an async poll): reports whether the
    /// receive could complete now, else links `entry` into the receive queue.
    ///
    /// # Safety
    /// `entry` is unlinked, belongs to `waiter`, points at an `UnsafeCell<Option<T>>`
    /// holding `None`, and stays unmoved (with its packet) until dropped; the channel
    /// outlives it.
    pub(crate) unsafe fn register_recv(&self, entry: &mut Entry, waiter: &Waiter) -> bool {
        match &self.flavor {
            // SAFETY: this function's contract is the flavors'.
            Flavor::Rendezvous(r) => unsafe { r.register_recv(entry, waiter) },
            // SAFETY: as above.
            Flavor::Ring(r) => unsafe { r.register_recv(entry) },
        }
    }

    /// Registration of a waiting send: reports whether the send could complete now, else
    /// links `entry` into the send queue.
    ///
    /// # Safety
    /// As for `register_recv`, with the packet holding the value to send.
    pub(crate) unsafe fn register_send(&self, entry: &mut Entry, waiter: &Waiter) -> bool {
        match &self.flavor {
            // SAFETY: this function's contract is the flavors'.
            Flavor::Rendezvous(r) => unsafe { r.register_send(entry, waiter) },
            // SAFETY: as above.
            Flavor::Ring(r) => unsafe { r.register_send(entry) },
        }
    }

    /// Refreshes the waker of a registered waiter (an async re-poll); false if a peer has
    /// completed it already.
    pub(crate) fn refresh_waker(&self, waiter: &Waiter, waker: &Waker) -> bool {
        match &self.flavor {
            Flavor::Rendezvous(r) => r.refresh_waker(waiter, waker),
            Flavor::Ring(r) => r.refresh_waker(waiter, waker),
        }
    }

    /// A completed receive waiter gives up (a dropped future) holding `packet`: a value
    /// handed over goes back to the channel, and a ring's wake-up goes to another waiter.
    pub(crate) fn abandon_recv(&self, packet: Option<T>) {
        match &self.flavor {
            Flavor::Rendezvous(r) => {
                if let Some(v) = packet {
                    r.restore(v);
                }
            }
            Flavor::Ring(r) => r.pass_on_recv(),
        }
    }

    /// A completed send waiter gives up (a dropped future): a ring's wake-up goes to another
    /// waiter. (A rendezvous send completed with its value taken was simply sent.)
    pub(crate) fn abandon_send(&self) {
        if let Flavor::Ring(r) = &self.flavor {
            r.pass_on_send();
        }
    }

    /// Closes the channel; false if it was closed already. Waiting receivers complete with
    /// nothing (or to drain the ring), waiting senders with their value handed back.
    pub(crate) fn close(&self) -> bool {
        match &self.flavor {
            Flavor::Rendezvous(r) => r.close(),
            Flavor::Ring(r) => r.close(),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match &self.flavor {
            Flavor::Rendezvous(r) => r.is_closed(),
            Flavor::Ring(r) => r.is_closed(),
        }
    }

    /// Buffered values now (0 for an unbuffered channel).
    pub(crate) fn len(&self) -> usize {
        match &self.flavor {
            Flavor::Rendezvous(_) => 0,
            Flavor::Ring(r) => r.len(),
        }
    }

    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether any handle able to receive is left.
    pub(crate) fn has_receivers(&self) -> bool {
        self.receivers.load(Ordering::Acquire) > 0
    }

    pub(crate) fn add_receiver(&self) {
        self.receivers.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops one sending handle; the last one closes the channel.
    pub(crate) fn drop_sender(&self) {
        if self.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close();
        }
    }

    /// Drops one receiving handle; the last one disconnects the channel: every waiting and
    /// later send fails, and the buffered values are dropped.
    pub(crate) fn drop_receiver(&self) {
        if self.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            match &self.flavor {
                Flavor::Rendezvous(r) => r.disconnect(),
                Flavor::Ring(r) => r.disconnect(),
            }
        }
    }
}

/// Helpers of the loom models of both flavors (`rendezvous`, `ring`).
#[cfg(all(test, loom))]
pub(crate) mod loom_support {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    use crate::park::Waiter;
    use crate::waitq::Entry;

    /// Counts the wakes a waiter's waker receives.
    pub(crate) struct Wakes(AtomicUsize);

    impl Wakes {
        pub(crate) fn count(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A waiter whose waker counts its wakes.
    pub(crate) fn counting_waiter() -> (Waiter, Arc<Wakes>) {
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        (Waiter::new(Waker::from(wakes.clone())), wakes)
    }

    /// What `register_then_give_up` saw: whether the registration found the case ready,
    /// how the waiter ended, the packet afterwards, and the wakes its waker received.
    pub(crate) type GaveUp = (bool, Option<usize>, Option<u32>, Arc<Wakes>);

    /// Registers an entry with `packet` through `register` (as a select does), then gives
    /// up (as a wait that times out does) unless the registration found the case ready.
    pub(crate) fn register_then_give_up(
        packet: Option<u32>,
        register: impl FnOnce(&mut Entry, &Waiter) -> bool,
    ) -> GaveUp {
        let packet = UnsafeCell::new(packet);
        let (waiter, wakes) = counting_waiter();
        let mut entry = Entry::new(&waiter, 0, packet.get().cast());
        let ready = register(&mut entry, &waiter);
        let completed = if ready { None } else { waiter.abort() };
        drop(entry);
        drop(waiter);
        (ready, completed, packet.into_inner(), wakes)
    }
}
