//! rendezvous: the unbuffered channel flavor (capacity 0), where a send completes only when
//! a receiver takes the value.
//!
//! A `Rendezvous` is a lock (a spin lock, see `lock`) around the closed and disconnected
//! flags, the two wait queues and the values handed back by dropped receive futures. Every
//! operation takes the lock once; a blocked operation links an [`Entry`] (on its own stack,
//! or inside a pinned future or select case) into `recvq` or `sendq` and waits on its
//! [`Waiter`] with the lock released.
//!
//! Packets: the entry of a waiting receiver points at an `Option<T>` slot (`None` while it
//! waits) that a sender fills; the entry of a waiting sender points at an `Option<T>` slot
//! holding the value, which a receiver takes. So a value goes straight from one frame to
//! the other, and a completed entry carries its result: a waiter completed with its receive
//! slot still empty saw the channel close; one completed with its send slot still full saw
//! the channel close or lose its receivers, and gets the value back.
//!
//! Invariants (under the lock):
//! - A claimable entry in `recvq` implies no restored value and no claimable entry of
//!   another waiter in `sendq`. Settled entries (a select that won elsewhere, an aborted
//!   wait) may linger until their owner unlinks them; `claim_first` skips them.
//! - `restored` holds values that dropped receive futures had been handed (`restore`);
//!   they are received before anything else.
//! - `closed` and `disconnected` never go back to false. Closed: sends fail, receives take
//!   the restored values then report closed. Disconnected (no receiving handle left): sends
//!   fail and `restored` is empty.
//! - Values are never dropped and wakers never woken under the lock (user `Drop` code and
//!   wake-ups may take other locks).
//! - `hint` is recomputed from the state every time the lock is released (`Locked`'s
//!   `Drop`): a clear `RECV_READY` means no value, no waiting sender and not closed; a clear
//!   `SEND_READY` means no waiting receiver, not closed and receivers left. So a
//!   non-blocking operation that finds its bit clear fails without taking the lock (Go's
//!   fast path for `select` with `default` and polling on an idle channel), and is still
//!   linearizable: the hint is published before the unlock that ends the operation that set
//!   it.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::task::Waker;
use std::time::Instant;

use super::core::{complete, complete_all, slot, wake};
use super::errors::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::atomics::AtomicU8;
use crate::park::Waiter;
use crate::runtime::WaitReason;
use crate::spin::{SpinGuard, SpinLock};
use crate::waitq::{Entry, QueueOwner, WaitQueue};

/// An unbuffered channel's state; the handle counts live in the `Core` around it.
pub(crate) struct Rendezvous<T> {
    state: SpinLock<State<T>>,
    /// `RECV_READY | SEND_READY | CLOSED` bits, as of the last unlock.
    hint: AtomicU8,
}

/// The part of a channel behind its lock.
pub(crate) struct State<T> {
    restored: VecDeque<T>,
    closed: bool,
    disconnected: bool,
    pub(crate) recvq: WaitQueue,
    pub(crate) sendq: WaitQueue,
}

/// A receive might complete now (a restored value, a waiting sender, or closed).
const RECV_READY: u8 = 1;
/// A send might complete now (a waiting receiver, closed, or no receivers).
const SEND_READY: u8 = 2;
/// The channel is closed.
const CLOSED: u8 = 4;

impl<T> State<T> {
    /// The hint bits for this state (see the module docs).
    #[inline]
    fn hint(&self) -> u8 {
        let mut bits = 0;
        if self.closed {
            bits |= CLOSED | RECV_READY | SEND_READY;
        }
        if !self.restored.is_empty() || !self.sendq.is_empty() {
            bits |= RECV_READY;
        }
        if self.disconnected || !self.recvq.is_empty() {
            bits |= SEND_READY;
        }
        bits
    }
}

/// The channel lock held: derefs to the state, and republishes the hint on release.
pub(crate) struct Locked<'a, T> {
    guard: SpinGuard<'a, State<T>>,
    hint: &'a AtomicU8,
}

impl<T> Deref for Locked<'_, T> {
    type Target = State<T>;

    #[inline]
    fn deref(&self) -> &State<T> {
        &self.guard
    }
}

impl<T> DerefMut for Locked<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut State<T> {
        &mut self.guard
    }
}

impl<T> Drop for Locked<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Before the guard (a field) unlocks.
        self.hint.store(self.guard.hint(), Ordering::Release);
    }
}

/// The receive queue's owner: unlinks an entry from `recvq` (see `waitq::QueueOwner`).
#[repr(transparent)]
struct RecvSide<T>(Rendezvous<T>);

/// The send queue's owner: unlinks an entry from `sendq`.
#[repr(transparent)]
struct SendSide<T>(Rendezvous<T>);

impl<T> QueueOwner for RecvSide<T> {
    unsafe fn unlink(&self, entry: *mut Entry) {
        // SAFETY: the caller guarantees `entry` is valid and was linked only into this
        // channel's receive queue.
        unsafe { self.0.lock().recvq.remove(entry) };
    }
}

impl<T> QueueOwner for SendSide<T> {
    unsafe fn unlink(&self, entry: *mut Entry) {
        // SAFETY: as above, for the send queue.
        unsafe { self.0.lock().sendq.remove(entry) };
    }
}

impl<T> Rendezvous<T> {
    pub(crate) fn new() -> Rendezvous<T> {
        Rendezvous {
            hint: AtomicU8::new(0),
            state: SpinLock::new(State {
                restored: VecDeque::new(),
                closed: false,
                disconnected: false,
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
            }),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_, T> {
        Locked {
            guard: self.state.lock(),
            hint: &self.hint,
        }
    }

    #[inline]
    fn hint(&self) -> u8 {
        self.hint.load(Ordering::Acquire)
    }

    #[inline]
    fn recv_side(&self) -> &RecvSide<T> {
        // SAFETY: `RecvSide<T>` is a `repr(transparent)` wrapper of `Rendezvous<T>`.
        unsafe { &*(self as *const Rendezvous<T>).cast::<RecvSide<T>>() }
    }

    #[inline]
    fn send_side(&self) -> &SendSide<T> {
        // SAFETY: `SendSide<T>` is a `repr(transparent)` wrapper of `Rendezvous<T>`.
        unsafe { &*(self as *const Rendezvous<T>).cast::<SendSide<T>>() }
    }

    /// Receives under the lock without blocking: a value (and the waker of the sender it
    /// came from), or why not.
    #[inline]
    fn recv_locked(&self, st: &mut State<T>) -> Result<(T, Option<Waker>), TryRecvError> {
        if let Some(v) = st.restored.pop_front() {
            return Ok((v, None));
        }
        if let Some(e) = st.sendq.claim_first(None) {
            // SAFETY: claimed just above; a send entry's slot holds its value.
            let v = unsafe { slot::<T>(e) }
                .take()
                .expect("a waiting sender holds its value");
            // SAFETY: claimed just above, not completed yet.
            return Ok((v, Some(unsafe { complete(e) })));
        }
        Err(if st.closed {
            TryRecvError::Closed
        } else {
            TryRecvError::Empty
        })
    }

    /// Sends under the lock without blocking, straight into a waiting receiver's slot;
    /// returns that receiver's waker.
    #[inline]
    fn send_locked(&self, st: &mut State<T>, v: T) -> Result<Waker, TrySendError<T>> {
        if st.closed || st.disconnected {
            return Err(TrySendError::Closed(v));
        }
        match st.recvq.claim_first(None) {
            Some(e) => {
                // SAFETY: claimed just above; a receive entry's slot is empty while it waits.
                *unsafe { slot::<T>(e) } = Some(v);
                // SAFETY: claimed just above, not completed yet.
                Ok(unsafe { complete(e) })
            }
            None => Err(TrySendError::Full(v)),
        }
    }

    #[inline]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        if self.hint() & RECV_READY == 0 {
            return Err(TryRecvError::Empty);
        }
        let mut st = self.lock();
        let (v, w) = self.recv_locked(&mut st)?;
        drop(st);
        wake(w);
        Ok(v)
    }

    /// Sends without blocking; on success returns the waker of the receiver that took the
    /// value, for the caller to wake once it holds no lock.
    #[inline]
    pub(crate) fn offer(&self, v: T) -> Result<Option<Waker>, TrySendError<T>> {
        if self.hint() & SEND_READY == 0 {
            return Err(TrySendError::Full(v));
        }
        let mut st = self.lock();
        self.send_locked(&mut st, v).map(Some)
    }

    /// Receives, parking the goroutine (or blocking the thread) until a value arrives, the
    /// channel is closed, or `deadline` passes.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut st = self.lock();
        match self.recv_locked(&mut st) {
            Ok((v, w)) => {
                drop(st);
                wake(w);
                return Ok(v);
            }
            Err(TryRecvError::Closed) => return Err(RecvTimeoutError::Closed),
            Err(TryRecvError::Empty) => {}
        }
        // Declaration order: packet, waiter, entry (they drop in reverse; see `park`).
        let packet = UnsafeCell::new(None::<T>);
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, packet.get().cast());
        // SAFETY: `entry` stays in this frame, unmoved, until dropped below; the channel
        // outlives it (we borrow it); `recvq` is this channel's and its lock is held.
        unsafe { entry.link(&mut st.recvq, self.recv_side()) };
        drop(st);
        let completed = waiter.wait(WaitReason::ChanRecv, deadline);
        drop(entry);
        match (completed, packet.into_inner()) {
            (_, Some(v)) => Ok(v),
            (Some(_), None) => Err(RecvTimeoutError::Closed),
            (None, None) => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Sends, parking the goroutine (or blocking the thread) until a receiver takes the
    /// value, the channel closes or loses its receivers, or `deadline` passes.
    pub(crate) fn send(&self, v: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut st = self.lock();
        let v = match self.send_locked(&mut st, v) {
            Ok(w) => {
                drop(st);
                w.wake();
                return Ok(());
            }
            Err(TrySendError::Closed(v)) => return Err(SendTimeoutError::Closed(v)),
            Err(TrySendError::Full(v)) => v,
        };
        // Declaration order: packet, waiter, entry (they drop in reverse; see `park`).
        let packet = UnsafeCell::new(Some(v));
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, packet.get().cast());
        // SAFETY: `entry` stays in this frame, unmoved, until dropped below; the channel
        // outlives it; `sendq` is this channel's and its lock is held.
        unsafe { entry.link(&mut st.sendq, self.send_side()) };
        drop(st);
        let completed = waiter.wait(WaitReason::ChanSend, deadline);
        drop(entry);
        match (completed, packet.into_inner()) {
            (_, None) => Ok(()),
            (Some(_), Some(v)) => Err(SendTimeoutError::Closed(v)),
            (None, Some(v)) => Err(SendTimeoutError::Timeout(v)),
        }
    }

    /// Registration of a waiting receive: under the lock, reports whether the receive could
    /// complete now (a restored value, a waiting sender other than `waiter`'s own, or
    /// closed), else links `entry` into the receive queue.
    ///
    /// # Safety
    /// `entry` is unlinked, belongs to `waiter`, points at an `UnsafeCell<Option<T>>`
    /// holding `None`, and stays unmoved (with its packet) until dropped; the channel
    /// outlives it.
    pub(crate) unsafe fn register_recv(&self, entry: &mut Entry, waiter: &Waiter) -> bool {
        let mut st = self.lock();
        if !st.restored.is_empty() || st.closed || st.sendq.has_claimable(Some(waiter)) {
            return true;
        }
        // SAFETY: per this function's contract; the lock is held.
        unsafe { entry.link(&mut st.recvq, self.recv_side()) };
        false
    }

    /// Registration of a waiting send: reports whether the send could complete now (closed,
    /// no receivers, or a waiting receiver other than `waiter`'s own), else links `entry`
    /// into the send queue.
    ///
    /// # Safety
    /// As for `register_recv`, with the packet holding the value to send.
    pub(crate) unsafe fn register_send(&self, entry: &mut Entry, waiter: &Waiter) -> bool {
        let mut st = self.lock();
        if st.closed || st.disconnected || st.recvq.has_claimable(Some(waiter)) {
            return true;
        }
        // SAFETY: per this function's contract; the lock is held.
        unsafe { entry.link(&mut st.sendq, self.send_side()) };
        false
    }

    /// `Waiter::refresh_waker` under this channel's lock.
    pub(crate) fn refresh_waker(&self, waiter: &Waiter, waker: &Waker) -> bool {
        let _st = self.lock();
        // SAFETY: the waiter is linked only into this channel's queues, whose lock we hold.
        unsafe { waiter.refresh_waker(waker) }
    }

    /// Gives back a value a dropped receive future had already been handed: to a waiting
    /// receiver, else to the front of `restored`, so it is the next value received.
    pub(crate) fn restore(&self, v: T) {
        let mut st = self.lock();
        if st.disconnected {
            drop(st);
            drop(v);
            return;
        }
        if let Some(e) = st.recvq.claim_first(None) {
            // SAFETY: claimed just above; a receive entry's slot is empty while it waits.
            *unsafe { slot::<T>(e) } = Some(v);
            // SAFETY: claimed just above, not completed yet.
            let w = unsafe { complete(e) };
            drop(st);
            w.wake();
            return;
        }
        st.restored.push_front(v);
    }

    /// Closes the channel; false if it was closed already. Waiting receivers complete with
    /// nothing, waiting senders with their value handed back.
    pub(crate) fn close(&self) -> bool {
        let mut st = self.lock();
        if st.closed {
            return false;
        }
        st.closed = true;
        let mut wakers = complete_all(&mut st.recvq);
        wakers.extend(complete_all(&mut st.sendq));
        drop(st);
        wakers.into_iter().for_each(Waker::wake);
        true
    }

    /// The last receiving handle is gone: fail every waiting and later send, and drop the
    /// restored values.
    pub(crate) fn disconnect(&self) {
        let mut st = self.lock();
        st.disconnected = true;
        let wakers = complete_all(&mut st.sendq);
        let restored = std::mem::take(&mut st.restored);
        drop(st);
        wakers.into_iter().for_each(Waker::wake);
        drop(restored);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.hint() & CLOSED != 0
    }
}

/// loom models of the unbuffered channel (the lock, the wait queues, the waiters and the
/// readiness hint together): `RUSTFLAGS="--cfg loom" cargo test -p goro
/// --lib --release loom`. A registered entry followed by `abort` is exactly what a
/// timed-out wait and a select that gives up do.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::chan::core::loom_support::register_then_give_up;
    use loom::sync::Arc;

    #[test]
    fn loom_unbuffered_send_races_a_receiver_giving_up() {
        loom::model(|| {
            let ch = Arc::new(Rendezvous::<u32>::new());
            let receiver = {
                let ch = ch.clone();
                loom::thread::spawn(move || {
                    register_then_give_up(None, |entry, waiter| {
                        // SAFETY: the entry and its packet stay in `register_then_give_up`'s
                        // frame, unmoved, until dropped; the packet holds `None`; `ch`
                        // outlives them.
                        unsafe { ch.register_recv(entry, waiter) }
                    })
                })
            };
            let sent = ch.offer(7).map(wake);
            let (ready, completed, got, wakes) = receiver.join().unwrap();
            assert!(!ready, "an unbuffered channel with no waiting sender");
            match sent {
                Ok(()) => {
                    assert_eq!((completed, got), (Some(0), Some(7)));
                    assert_eq!(wakes.count(), 1);
                }
                Err(TrySendError::Full(v)) => {
                    assert_eq!(v, 7, "the value is handed back");
                    assert_eq!((completed, got), (None, None));
                    assert_eq!(wakes.count(), 0);
                }
                Err(TrySendError::Closed(_)) => panic!("nobody closed the channel"),
            }
            assert!(
                ch.lock().recvq.is_empty(),
                "the receiver's entry is unlinked"
            );
        });
    }

    #[test]
    fn loom_close_races_a_waiting_sender() {
        loom::model(|| {
            let ch = Arc::new(Rendezvous::<u32>::new());
            let sender = {
                let ch = ch.clone();
                loom::thread::spawn(move || {
                    register_then_give_up(Some(5), |entry, waiter| {
                        // SAFETY: as above, with the packet holding the value to send.
                        unsafe { ch.register_send(entry, waiter) }
                    })
                })
            };
            assert!(ch.close());
            let (ready, completed, kept, wakes) = sender.join().unwrap();
            assert_eq!(kept, Some(5), "nobody received: the sender keeps its value");
            match (ready, completed) {
                // Registered, then completed by the close, which woke it once.
                (false, Some(0)) => assert_eq!(wakes.count(), 1),
                // Registered and gave up before the close; or found it closed already.
                (false, None) | (true, None) => assert_eq!(wakes.count(), 0),
                other => panic!("impossible outcome {other:?}"),
            }
            assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
            assert!(ch.lock().sendq.is_empty(), "the sender's entry is unlinked");
        });
    }
}
