//! core: the one channel state behind `Chan`, `Sender` and `Receiver`.
//!
//! A `Core` is a lock (a spin lock, see `lock`) around the buffer, the closed and
//! disconnected flags and the two wait queues, plus the handle counts. Every operation
//! takes the lock once; a blocked operation links an [`Entry`] (on its own stack, or inside
//! a pinned future or select case) into `recvq` or `sendq` and waits on its [`Waiter`] with
//! the lock released.
//!
//! Packets: the entry of a waiting receiver points at an `Option<T>` slot (`None` while it
//! waits) that a peer fills; the entry of a waiting sender points at an `Option<T>` slot
//! holding the value, which a peer takes. A waiter completed with its receive slot still
//! empty saw the channel close; one completed with its send slot still full saw the channel
//! close or lose its receivers, and gets the value back.
//!
//! Invariants (under the lock):
//! - A claimable entry in `recvq` implies an empty buffer; a claimable entry in `sendq`
//!   implies a full one (`buf.len() >= cap`; always true for capacity 0). Settled entries
//!   (a select that won elsewhere, an aborted wait) may linger until their owner unlinks
//!   them; `claim_first` skips them.
//! - The buffer holds at most `cap` values, except after dropped receive futures handed
//!   their values back to the front (`restore`): then it may hold more, and no waiting
//!   sender is moved into it until it is below `cap` again.
//! - `closed` and `disconnected` never go back to false. Closed: sends fail, receives drain
//!   the buffer then report closed. Disconnected (no receiving handle left): sends fail and
//!   the buffer is empty.
//! - Values are never dropped and wakers never woken under the lock (user `Drop` code and
//!   wake-ups may take other locks).
//! - `hint` is recomputed from the state every time the lock is released (`Locked`'s
//!   `Drop`): a clear `RECV_READY` means no value, no waiting sender and not closed; a clear
//!   `SEND_READY` means no room, no waiting receiver, not closed and receivers left. So a
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

use super::errors::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::atomics::{AtomicU8, AtomicUsize};
use crate::park::Waiter;
use crate::runtime::WaitReason;
use crate::spin::{SpinGuard, SpinLock};
use crate::waitq::{Entry, QueueOwner, WaitQueue};

/// A channel: its state and its handle counts. Reached only through handles.
pub struct Core<T> {
    state: SpinLock<State<T>>,
    /// `RECV_READY | SEND_READY | CLOSED` bits, as of the last unlock.
    hint: AtomicU8,
    cap: usize,
    /// Handles able to send (`Chan`, `Sender`), plus one phantom for channels that must
    /// never close (`never`, timer channels).
    senders: AtomicUsize,
    /// Handles able to receive (`Chan`, `Receiver`).
    receivers: AtomicUsize,
}

/// The part of a channel behind its lock.
pub(crate) struct State<T> {
    pub(crate) buf: VecDeque<T>,
    pub(crate) closed: bool,
    pub(crate) disconnected: bool,
    pub(crate) recvq: WaitQueue,
    pub(crate) sendq: WaitQueue,
}

/// A receive might complete now (a value, a waiting sender, or closed).
const RECV_READY: u8 = 1;
/// A send might complete now (room, a waiting receiver, closed, or no receivers).
const SEND_READY: u8 = 2;
/// The channel is closed.
const CLOSED: u8 = 4;

impl<T> State<T> {
    /// The hint bits for this state (see the module docs).
    #[inline]
    fn hint(&self, cap: usize) -> u8 {
        let mut bits = 0;
        if self.closed {
            bits |= CLOSED | RECV_READY | SEND_READY;
        }
        if !self.buf.is_empty() || !self.sendq.is_empty() {
            bits |= RECV_READY;
        }
        if self.disconnected || self.buf.len() < cap || !self.recvq.is_empty() {
            bits |= SEND_READY;
        }
        bits
    }
}

/// The channel lock held: derefs to the state, and republishes the hint on release.
pub(crate) struct Locked<'a, T> {
    guard: SpinGuard<'a, State<T>>,
    hint: &'a AtomicU8,
    cap: usize,
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
        self.hint
            .store(self.guard.hint(self.cap), Ordering::Release);
    }
}

/// The receive queue's owner: unlinks an entry from `recvq` (see `waitq::QueueOwner`).
#[repr(transparent)]
pub(crate) struct RecvSide<T>(Core<T>);

/// The send queue's owner: unlinks an entry from `sendq`.
#[repr(transparent)]
pub(crate) struct SendSide<T>(Core<T>);

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

/// Wakes `w`, if any; called with the channel lock released.
#[inline]
pub(crate) fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

/// The packet of an entry: the waiting operation's `Option<T>` slot.
///
/// # Safety
/// `entry` is an entry of this channel type's queues that the caller has just claimed
/// (so it alone touches the slot until it completes the entry's waiter), and the returned
/// reference is not used after that completion.
#[inline]
unsafe fn slot<'a, T>(entry: &Entry) -> &'a mut Option<T> {
    // SAFETY: every entry linked into a `Core<T>` queue carries a pointer to an
    // `UnsafeCell<Option<T>>` that outlives it (module docs), and the claim makes the access
    // exclusive.
    unsafe { &mut *entry.packet().cast::<Option<T>>() }
}

/// Completes a claimed entry's waiter and returns the waker to wake after unlocking.
///
/// # Safety
/// The caller claimed `entry` (through `claim_first`/`claim_all`) and has not completed it.
#[inline]
unsafe fn complete(entry: &Entry) -> Waker {
    // SAFETY: per the contract, the claim is ours and not yet completed.
    unsafe { entry.waiter().complete(entry.case()) }
}

/// Claims and completes every entry of `q`, returning their wakers.
fn complete_all(q: &mut WaitQueue) -> Vec<Waker> {
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
        let initial = if cap > 0 { SEND_READY } else { 0 };
        Core {
            hint: AtomicU8::new(initial),
            state: SpinLock::new(State {
                buf: VecDeque::with_capacity(cap.min(1024)),
                closed: false,
                disconnected: false,
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
            }),
            cap,
            senders: AtomicUsize::new(senders),
            receivers: AtomicUsize::new(receivers),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> Locked<'_, T> {
        Locked {
            guard: self.state.lock(),
            hint: &self.hint,
            cap: self.cap,
        }
    }

    #[inline]
    fn hint(&self) -> u8 {
        self.hint.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn recv_side(&self) -> &RecvSide<T> {
        // SAFETY: `RecvSide<T>` is a `repr(transparent)` wrapper of `Core<T>`.
        unsafe { &*(self as *const Core<T>).cast::<RecvSide<T>>() }
    }

    #[inline]
    pub(crate) fn send_side(&self) -> &SendSide<T> {
        // SAFETY: `SendSide<T>` is a `repr(transparent)` wrapper of `Core<T>`.
        unsafe { &*(self as *const Core<T>).cast::<SendSide<T>>() }
    }

    #[inline]
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Receives under the lock without blocking: a value (and the waker of a sender it
    /// completed), or why not.
    #[inline]
    pub(crate) fn recv_locked(
        &self,
        st: &mut State<T>,
    ) -> Result<(T, Option<Waker>), TryRecvError> {
        if let Some(v) = st.buf.pop_front() {
            let mut woken = None;
            if st.buf.len() < self.cap {
                if let Some(e) = st.sendq.claim_first(None) {
                    // SAFETY: claimed just above; a send entry's slot holds its value.
                    let sent = unsafe { slot::<T>(e) }.take();
                    st.buf
                        .push_back(sent.expect("a waiting sender holds its value"));
                    // SAFETY: claimed just above, not completed yet.
                    woken = Some(unsafe { complete(e) });
                }
            }
            return Ok((v, woken));
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

    /// Sends under the lock without blocking: straight into a waiting receiver's slot,
    /// else into the buffer; returns the waker of the receiver it completed.
    #[inline]
    pub(crate) fn send_locked(
        &self,
        st: &mut State<T>,
        v: T,
    ) -> Result<Option<Waker>, TrySendError<T>> {
        if st.closed || st.disconnected {
            return Err(TrySendError::Closed(v));
        }
        if let Some(e) = st.recvq.claim_first(None) {
            // SAFETY: claimed just above; a receive entry's slot is empty while it waits.
            *unsafe { slot::<T>(e) } = Some(v);
            // SAFETY: claimed just above, not completed yet.
            return Ok(Some(unsafe { complete(e) }));
        }
        if st.buf.len() < self.cap {
            st.buf.push_back(v);
            return Ok(None);
        }
        Err(TrySendError::Full(v))
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

    #[inline]
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        if self.hint() & SEND_READY == 0 {
            return Err(TrySendError::Full(v));
        }
        let mut st = self.lock();
        let w = self.send_locked(&mut st, v)?;
        drop(st);
        wake(w);
        Ok(())
    }

    /// Receives, parking the goroutine (or blocking the thread) until a value arrives, the
    /// channel is closed and drained, or `deadline` passes.
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

    /// Sends, parking the goroutine (or blocking the thread) until a receiver or the buffer
    /// takes the value, the channel closes or loses its receivers, or `deadline` passes.
    pub(crate) fn send(&self, v: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut st = self.lock();
        let v = match self.send_locked(&mut st, v) {
            Ok(w) => {
                drop(st);
                wake(w);
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

    /// Select registration of a receive: under the lock, reports whether the receive could
    /// complete now (a value, a waiting sender other than `waiter`'s own, or closed), else
    /// links `entry` into the receive queue.
    ///
    /// # Safety
    /// `entry` is unlinked, belongs to `waiter`, points at an `UnsafeCell<Option<T>>`
    /// holding `None`, and stays unmoved (with its packet) until dropped; the channel
    /// outlives it.
    pub(crate) unsafe fn register_recv(&self, entry: &mut Entry, waiter: &Waiter) -> bool {
        let mut st = self.lock();
        if !st.buf.is_empty() || st.closed || st.sendq.has_claimable(Some(waiter)) {
            return true;
        }
        // SAFETY: per this function's contract; the lock is held.
        unsafe { entry.link(&mut st.recvq, self.recv_side()) };
        false
    }

    /// Select registration of a send: reports whether the send could complete now (closed,
    /// no receivers, buffer space, or a waiting receiver other than `waiter`'s own), else
    /// links `entry` into the send queue.
    ///
    /// # Safety
    /// As for `register_recv`, with the packet holding the value to send.
    pub(crate) unsafe fn register_send(&self, entry: &mut Entry, waiter: &Waiter) -> bool {
        let mut st = self.lock();
        if st.closed
            || st.disconnected
            || st.buf.len() < self.cap
            || st.recvq.has_claimable(Some(waiter))
        {
            return true;
        }
        // SAFETY: per this function's contract; the lock is held.
        unsafe { entry.link(&mut st.sendq, self.send_side()) };
        false
    }

    /// Gives back a value a dropped receive future had already been handed: to a waiting
    /// receiver, else to the front of the buffer, so it is the next value received.
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
        st.buf.push_front(v);
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
    /// buffered values.
    fn disconnect(&self) {
        let mut st = self.lock();
        st.disconnected = true;
        let wakers = complete_all(&mut st.sendq);
        let buffered = std::mem::take(&mut st.buf);
        drop(st);
        wakers.into_iter().for_each(Waker::wake);
        drop(buffered);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.hint() & CLOSED != 0
    }

    /// Buffered values now (never more than `cap`, so 0 for an unbuffered channel).
    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len().min(self.cap)
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

    /// Drops one receiving handle; the last one disconnects the channel.
    pub(crate) fn drop_receiver(&self) {
        if self.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.disconnect();
        }
    }
}

/// loom models of the channel state machine (the lock, the buffer, the wait queues, the
/// waiters and the readiness hint together): `RUSTFLAGS="--cfg loom" cargo test -p goro
/// --lib --release loom`. A registered entry followed by `abort` is exactly what a
/// timed-out wait and a select that gives up do.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use loom::sync::Arc;
    use std::sync::atomic::AtomicUsize as Count;
    use std::task::Wake;

    /// Counts the wakes a waiter's waker receives.
    struct Wakes(Count);

    impl Wake for Wakes {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// What `register_then_give_up` saw: whether the registration found the case ready,
    /// how the waiter ended, the packet afterwards, and the wakes its waker received.
    type GaveUp = (bool, Option<usize>, Option<u32>, std::sync::Arc<Wakes>);

    /// Registers an entry with `packet` through `register` (as a select does), then gives
    /// up (as a wait that times out does) unless the registration found the case ready.
    fn register_then_give_up(
        packet: Option<u32>,
        register: impl FnOnce(&mut Entry, &Waiter) -> bool,
    ) -> GaveUp {
        let packet = UnsafeCell::new(packet);
        let wakes = std::sync::Arc::new(Wakes(Count::new(0)));
        let waiter = Waiter::new(Waker::from(wakes.clone()));
        let mut entry = Entry::new(&waiter, 0, packet.get().cast());
        let ready = register(&mut entry, &waiter);
        let completed = if ready { None } else { waiter.abort() };
        drop(entry);
        drop(waiter);
        (ready, completed, packet.into_inner(), wakes)
    }

    #[test]
    fn loom_unbuffered_send_races_a_receiver_giving_up() {
        loom::model(|| {
            let ch = Arc::new(Core::<u32>::new(0, 1, 1));
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
            let sent = ch.try_send(7);
            let (ready, completed, got, wakes) = receiver.join().unwrap();
            assert!(!ready, "an unbuffered channel with no waiting sender");
            match sent {
                Ok(()) => {
                    assert_eq!((completed, got), (Some(0), Some(7)));
                    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
                }
                Err(TrySendError::Full(v)) => {
                    assert_eq!(v, 7, "the value is handed back");
                    assert_eq!((completed, got), (None, None));
                    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
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
            let ch = Arc::new(Core::<u32>::new(0, 1, 1));
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
                (false, Some(0)) => assert_eq!(wakes.0.load(Ordering::SeqCst), 1),
                // Registered and gave up before the close; or found it closed already.
                (false, None) | (true, None) => assert_eq!(wakes.0.load(Ordering::SeqCst), 0),
                other => panic!("impossible outcome {other:?}"),
            }
            assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
            assert!(ch.lock().sendq.is_empty(), "the sender's entry is unlinked");
        });
    }

    #[test]
    fn loom_buffered_send_and_receive_deliver_once() {
        loom::model(|| {
            let ch = Arc::new(Core::<u32>::new(1, 1, 1));
            let sender = {
                let ch = ch.clone();
                loom::thread::spawn(move || ch.try_send(3))
            };
            let early = ch.try_recv();
            assert_eq!(sender.join().unwrap(), Ok(()), "a one-slot buffer has room");
            let late = ch.try_recv();
            match early {
                Ok(v) => assert_eq!((v, late), (3, Err(TryRecvError::Empty))),
                Err(e) => assert_eq!((e, late), (TryRecvError::Empty, Ok(3))),
            }
        });
    }
}
