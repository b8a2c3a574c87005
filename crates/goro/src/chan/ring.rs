//! ring: the buffered channel flavor (capacity 1 or more) — a lock-free bounded ring of
//! slots, with wait queues only for the operations that must block.
//!
//! Positions. `head` holds the position of the next value to receive, `tail` that of the
//! next value to send, each shifted left by `FLAG_BITS` with flags in the low bits: `tail`
//! carries the `CLOSED` and `DISCONNECTED` marks and `RECV_WAITING`, `head` carries
//! `SEND_WAITING`. A position is `lap + index`: `index < cap` names the slot and
//! `lap` is a multiple of `lap_len`, the power of two above `cap`, so stepping past the last
//! slot jumps to index 0 of the next lap and no division is ever needed. Positions only
//! grow (2^62 of them last a century at a billion operations a second).
//!
//! Slots. Each slot has a `turn`: the lap in which it may next be written, or that lap plus
//! one once it holds a value. Sending at `lap + i` needs slot `i`'s turn to be `lap`: the
//! sender claims the position by advancing `tail` (a compare-exchange, which fails once a
//! mark is set), writes the value, then sets the turn to `lap + 1`. Receiving at `lap + i`
//! needs `lap + 1`: the receiver advances `head`, reads the value, then sets the turn to the
//! next lap, `lap + lap_len`. So the claimer of a position is the only one to touch its
//! value, and a turn store (Release) publishes the value or the free slot to the next
//! claimer (Acquire). An operation that finds a position claimed but its turn not yet set
//! waits a few instructions for the claimer, which never blocks in between.
//!
//! Waiting. An operation that finds the ring empty (or full) links an entry into `recvq`
//! (or `sendq`) under `queues`' lock and sets `RECV_WAITING` in `tail` (or `SEND_WAITING`
//! in `head`) with a read-modify-write, which also tells it the latest position there: it
//! parks only if that still leaves nothing to receive (no room). A peer claims a position
//! with a compare-exchange on that same word, so it sees the flag if it came after, and the
//! waiter sees its position if it came first: the peer then completes the first entry of
//! the queue. No fence is needed, and the fast path pays nothing for it: the flag comes
//! with the word the claim already read. A flag is cleared under the lock once its queue
//! is empty (a peer finding a flag with no entry behind it just takes the lock). A completed
//! entry carries nothing: its owner tries again, and an owner that gives up instead passes
//! the wake-up on (`pass_on`), so no value sits in the ring while a receiver sleeps, and no
//! free slot while a sender does.
//!
//! Close sets `CLOSED` in `tail`, so no send claims a position after it, then completes
//! every waiter: receivers drain what was sent before the mark, then see it. Losing the
//! last receiver sets `DISCONNECTED` the same way, fails the waiting senders, and drops
//! the values left. Values are never dropped and wakers never woken under `queues`' lock.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::task::Waker;
use std::time::Instant;

use crossbeam_utils::{Backoff, CachePadded};

use super::core::{complete, complete_all, wake};
use super::errors::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::atomics::{spin_hint, AtomicUsize};
use crate::park::Waiter;
use crate::runtime::WaitReason;
use crate::spin::{SpinGuard, SpinLock};
use crate::waitq::{Entry, QueueOwner, WaitQueue};

/// Mark in `tail`: the channel is closed.
const CLOSED: usize = 1;
/// Mark in `tail`: no receiving handle is left.
const DISCONNECTED: usize = 2;
const MARKS: usize = CLOSED | DISCONNECTED;
/// Flag in `tail`: `recvq` may hold entries.
const RECV_WAITING: usize = 4;
/// Flag in `head`: `sendq` may hold entries.
const SEND_WAITING: usize = 4;
const FLAG_BITS: u32 = 3;
const FLAGS: usize = (1 << FLAG_BITS) - 1;

/// The largest capacity a ring takes (its positions must fit beside the flags).
const MAX_CAP: usize = 1 << (usize::BITS - FLAG_BITS - 2);

/// The position in a `head` or `tail` word.
#[inline]
fn position_of(word: usize) -> usize {
    word >> FLAG_BITS
}

struct Slot<T> {
    turn: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A buffered channel's state; the handle counts live in the `Core` around it.
pub(crate) struct Ring<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    queues: CachePadded<SpinLock<Queues>>,
    slots: Box<[Slot<T>]>,
    lap_len: usize,
}

/// The blocked operations, and whether their flags are set.
struct Queues {
    recvq: WaitQueue,
    sendq: WaitQueue,
    /// `RECV_WAITING` is set in `tail`.
    recv_flagged: bool,
    /// `SEND_WAITING` is set in `head`.
    send_flagged: bool,
}

// SAFETY: a slot's value is touched only by the one operation that claimed its position
// (module docs), so sharing the ring shares `T`s only by moving them between threads.
unsafe impl<T: Send> Sync for Ring<T> {}
// SAFETY: as above; the ring owns its values.
unsafe impl<T: Send> Send for Ring<T> {}

/// `queues`' lock held; on release, clears the flag of a queue left empty.
struct QueuesGuard<'a, T> {
    guard: SpinGuard<'a, Queues>,
    ring: &'a Ring<T>,
}

impl<T> Drop for QueuesGuard<'_, T> {
    fn drop(&mut self) {
        // Before the guard (a field) unlocks.
        let q = &mut *self.guard;
        if q.recv_flagged && q.recvq.is_empty() {
            q.recv_flagged = false;
            self.ring.tail.fetch_and(!RECV_WAITING, SeqCst);
        }
        if q.send_flagged && q.sendq.is_empty() {
            q.send_flagged = false;
            self.ring.head.fetch_and(!SEND_WAITING, SeqCst);
        }
    }
}

/// The receive queue's owner: unlinks an entry from `recvq` (see `waitq::QueueOwner`).
#[repr(transparent)]
struct RecvSide<T>(Ring<T>);

/// The send queue's owner: unlinks an entry from `sendq`.
#[repr(transparent)]
struct SendSide<T>(Ring<T>);

impl<T> QueueOwner for RecvSide<T> {
    unsafe fn unlink(&self, entry: *mut Entry) {
        // SAFETY: the caller guarantees `entry` is valid and was linked only into this
        // channel's receive queue.
        unsafe { self.0.lock_queues().guard.recvq.remove(entry) };
    }
}

impl<T> QueueOwner for SendSide<T> {
    unsafe fn unlink(&self, entry: *mut Entry) {
        // SAFETY: as above, for the send queue.
        unsafe { self.0.lock_queues().guard.sendq.remove(entry) };
    }
}

impl<T> Ring<T> {
    /// An empty ring of `cap` slots (`cap` at least 1).
    ///
    /// # Panics
    /// If `cap` is beyond what positions can count (`MAX_CAP`, 2^60 on 64-bit targets).
    pub(crate) fn new(cap: usize) -> Ring<T> {
        assert!(
            cap <= MAX_CAP,
            "goro::chan: capacity {cap} is too large (at most {MAX_CAP}); \
             a buffered channel allocates its whole buffer when made, as Go's does"
        );
        let slots = (0..cap)
            .map(|_| Slot {
                turn: AtomicUsize::new(0),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            queues: CachePadded::new(SpinLock::new(Queues {
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
                recv_flagged: false,
                send_flagged: false,
            })),
            slots,
            lap_len: (cap + 1).next_power_of_two(),
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.slots.len()
    }

    fn lock_queues(&self) -> QueuesGuard<'_, T> {
        QueuesGuard {
            guard: self.queues.lock(),
            ring: self,
        }
    }

    /// A position's lap and slot index.
    #[inline]
    fn split(&self, pos: usize) -> (usize, usize) {
        (pos & !(self.lap_len - 1), pos & (self.lap_len - 1))
    }

    /// The position after `pos`.
    #[inline]
    fn step(&self, pos: usize) -> usize {
        let (lap, index) = self.split(pos);
        if index + 1 < self.slots.len() {
            pos + 1
        } else {
            lap.wrapping_add(self.lap_len)
        }
    }

    /// Sends without blocking; on success returns the waker of a receiver to wake (the
    /// caller wakes it once it holds no lock).
    pub(crate) fn offer(&self, v: T) -> Result<Option<Waker>, TrySendError<T>> {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Relaxed);
        loop {
            if tail & MARKS != 0 {
                return Err(TrySendError::Closed(v));
            }
            let pos = position_of(tail);
            let (lap, index) = self.split(pos);
            let slot = &self.slots[index];
            let turn = slot.turn.load(Acquire);
            if turn == lap {
                let next = self.step(pos) << FLAG_BITS | tail & FLAGS;
                match self.tail.compare_exchange_weak(tail, next, SeqCst, Relaxed) {
                    Ok(_) => {
                        // SAFETY: claiming the position makes this the slot's only user until
                        // its turn says it is full; the turn said it was free.
                        unsafe { (*slot.value.get()).write(v) };
                        slot.turn.store(lap.wrapping_add(1), Release);
                        let woken = tail & RECV_WAITING != 0;
                        return Ok(woken.then(|| self.wake_one_receiver()).flatten());
                    }
                    Err(now) => {
                        tail = now;
                        backoff.spin();
                    }
                }
            } else if turn.wrapping_add(self.lap_len) == lap.wrapping_add(1) {
                // The slot still holds the previous lap's value: full, unless a receiver is
                // taking that value right now. (No fence: a waiting sender re-checks with a
                // read-modify-write, see `register_send`.)
                if position_of(self.head.load(Relaxed)).wrapping_add(self.lap_len) == pos {
                    return Err(TrySendError::Full(v));
                }
                spin_hint(&backoff);
                tail = self.tail.load(Relaxed);
            } else {
                // Another sender took this position; `tail` has moved on.
                backoff.spin();
                tail = self.tail.load(Relaxed);
            }
        }
    }

    /// Receives without blocking: a value and the waker of a sender to wake (once the
    /// caller holds no lock), or why not.
    pub(crate) fn take(&self) -> Result<(T, Option<Waker>), TryRecvError> {
        let backoff = Backoff::new();
        let mut head = self.head.load(Relaxed);
        loop {
            let pos = position_of(head);
            let (lap, index) = self.split(pos);
            let slot = &self.slots[index];
            let turn = slot.turn.load(Acquire);
            if turn == lap.wrapping_add(1) {
                let next = self.step(pos) << FLAG_BITS | head & FLAGS;
                match self.head.compare_exchange_weak(head, next, SeqCst, Relaxed) {
                    Ok(_) => {
                        // SAFETY: claiming the position makes this the slot's only user until
                        // its turn says it is free; the turn said a value was written.
                        let v = unsafe { (*slot.value.get()).assume_init_read() };
                        slot.turn.store(lap.wrapping_add(self.lap_len), Release);
                        let woken = head & SEND_WAITING != 0;
                        return Ok((v, woken.then(|| self.wake_one_sender()).flatten()));
                    }
                    Err(now) => {
                        head = now;
                        backoff.spin();
                    }
                }
            } else if turn == lap {
                // Nothing written at this position: empty, unless a sender is writing it
                // right now.
                let tail = self.tail.load(Relaxed);
                if position_of(tail) == pos {
                    return Err(if tail & CLOSED != 0 {
                        TryRecvError::Closed
                    } else {
                        TryRecvError::Empty
                    });
                }
                spin_hint(&backoff);
                head = self.head.load(Relaxed);
            } else {
                // Another receiver took this position; `head` has moved on.
                backoff.spin();
                head = self.head.load(Relaxed);
            }
        }
    }

    /// Receives, parking the goroutine (or blocking the thread) between tries until a value
    /// arrives, the channel is closed and drained, or `deadline` passes.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            match self.take() {
                Ok((v, w)) => {
                    wake(w);
                    return Ok(v);
                }
                Err(TryRecvError::Closed) => return Err(RecvTimeoutError::Closed),
                Err(TryRecvError::Empty) => {}
            }
            let waiter = Waiter::current();
            let mut entry = Entry::new(&waiter, 0, ptr::null_mut());
            // SAFETY: `entry` stays in this frame, unmoved, until dropped (before `waiter`);
            // the channel outlives it (we borrow it).
            if unsafe { self.register_recv(&mut entry) } {
                continue;
            }
            let woken = waiter.wait(WaitReason::ChanRecv, deadline);
            drop(entry);
            if woken.is_none() {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }

    /// Sends, parking the goroutine (or blocking the thread) between tries until a slot is
    /// free, the channel closes or loses its receivers, or `deadline` passes.
    pub(crate) fn send(&self, v: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut v = v;
        loop {
            v = match self.offer(v) {
                Ok(w) => {
                    wake(w);
                    return Ok(());
                }
                Err(TrySendError::Closed(v)) => return Err(SendTimeoutError::Closed(v)),
                Err(TrySendError::Full(v)) => v,
            };
            let waiter = Waiter::current();
            let mut entry = Entry::new(&waiter, 0, ptr::null_mut());
            // SAFETY: as in `recv`.
            if unsafe { self.register_send(&mut entry) } {
                continue;
            }
            let woken = waiter.wait(WaitReason::ChanSend, deadline);
            drop(entry);
            if woken.is_none() {
                return Err(SendTimeoutError::Timeout(v));
            }
        }
    }

    /// Completes the first claimable waiting receiver, if any, and returns its waker.
    fn wake_one_receiver(&self) -> Option<Waker> {
        let mut q = self.lock_queues();
        let e = q.guard.recvq.claim_first(None)?;
        // SAFETY: claimed just above, not completed yet.
        Some(unsafe { complete(e) })
    }

    /// Completes the first claimable waiting sender, if any, and returns its waker.
    fn wake_one_sender(&self) -> Option<Waker> {
        let mut q = self.lock_queues();
        let e = q.guard.sendq.claim_first(None)?;
        // SAFETY: claimed just above, not completed yet.
        Some(unsafe { complete(e) })
    }

    /// Registration of a waiting receive: links `entry` into `recvq` unless a receive could
    /// complete now — a value (perhaps still being written), or closed — and then returns
    /// true with the entry unlinked. The entry's packet is not used: a completed entry only
    /// means "try again".
    ///
    /// # Safety
    /// `entry` is unlinked and stays unmoved until dropped; the channel outlives it.
    pub(crate) unsafe fn register_recv(&self, entry: &mut Entry) -> bool {
        let mut q = self.lock_queues();
        // SAFETY: per this function's contract; the lock is held.
        unsafe { entry.link(&mut q.guard.recvq, self.recv_side()) };
        q.guard.recv_flagged = true;
        let tail = self.tail.fetch_or(RECV_WAITING, SeqCst);
        if position_of(tail) != position_of(self.head.load(SeqCst)) || tail & CLOSED != 0 {
            // SAFETY: linked into `recvq` just above, under the lock still held.
            unsafe { q.guard.recvq.remove(entry) };
            return true;
        }
        false
    }

    /// Registration of a waiting send; as `register_recv`, for room (perhaps still being
    /// read) or a mark.
    ///
    /// # Safety
    /// As for `register_recv`.
    pub(crate) unsafe fn register_send(&self, entry: &mut Entry) -> bool {
        let mut q = self.lock_queues();
        // SAFETY: per this function's contract; the lock is held.
        unsafe { entry.link(&mut q.guard.sendq, self.send_side()) };
        q.guard.send_flagged = true;
        let head = self.head.fetch_or(SEND_WAITING, SeqCst);
        let tail = self.tail.load(SeqCst);
        if tail & MARKS != 0 || position_of(head).wrapping_add(self.lap_len) != position_of(tail) {
            // SAFETY: linked into `sendq` just above, under the lock still held.
            unsafe { q.guard.sendq.remove(entry) };
            return true;
        }
        false
    }

    /// `Waiter::refresh_waker` under the queues' lock.
    pub(crate) fn refresh_waker(&self, waiter: &Waiter, waker: &Waker) -> bool {
        let _q = self.lock_queues();
        // SAFETY: the waiter is linked only into this channel's queues, whose lock we hold.
        unsafe { waiter.refresh_waker(waker) }
    }

    /// A completed receive waiter gives up without receiving: wake another in its place.
    pub(crate) fn pass_on_recv(&self) {
        wake(self.wake_one_receiver());
    }

    /// A completed send waiter gives up without sending: wake another in its place.
    pub(crate) fn pass_on_send(&self) {
        wake(self.wake_one_sender());
    }

    /// Closes the channel; false if it was closed already. Every waiter is woken to try
    /// again (and find the mark, once receivers have drained the ring).
    pub(crate) fn close(&self) -> bool {
        if self.tail.fetch_or(CLOSED, SeqCst) & CLOSED != 0 {
            return false;
        }
        let mut q = self.lock_queues();
        let mut wakers = complete_all(&mut q.guard.recvq);
        wakers.extend(complete_all(&mut q.guard.sendq));
        drop(q);
        wakers.into_iter().for_each(Waker::wake);
        true
    }

    /// The last receiving handle is gone: fail every waiting and later send, and drop the
    /// values left (waiting first for sends that claimed a position before the mark).
    pub(crate) fn disconnect(&self) {
        self.tail.fetch_or(DISCONNECTED, SeqCst);
        let mut q = self.lock_queues();
        let wakers = complete_all(&mut q.guard.sendq);
        drop(q);
        wakers.into_iter().for_each(Waker::wake);
        while let Ok((v, w)) = self.take() {
            drop(v);
            wake(w);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tail.load(SeqCst) & CLOSED != 0
    }

    /// The values in the ring now (from one consistent look at both positions).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(SeqCst);
            let head = self.head.load(SeqCst);
            if self.tail.load(SeqCst) != tail {
                continue;
            }
            let (head_lap, head_index) = self.split(position_of(head));
            let (tail_lap, tail_index) = self.split(position_of(tail));
            return if head_lap == tail_lap {
                tail_index - head_index
            } else {
                self.cap() - head_index + tail_index
            };
        }
    }

    #[inline]
    fn recv_side(&self) -> &RecvSide<T> {
        // SAFETY: `RecvSide<T>` is a `repr(transparent)` wrapper of `Ring<T>`.
        unsafe { &*(self as *const Ring<T>).cast::<RecvSide<T>>() }
    }

    #[inline]
    fn send_side(&self) -> &SendSide<T> {
        // SAFETY: `SendSide<T>` is a `repr(transparent)` wrapper of `Ring<T>`.
        unsafe { &*(self as *const Ring<T>).cast::<SendSide<T>>() }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while let Ok((v, _)) = self.take() {
            drop(v);
        }
    }
}

/// loom models of the buffered channel (positions, turns, the wait queues and the
/// `waiting` bits together): `RUSTFLAGS="--cfg loom" cargo test -p goro --lib --release
/// loom`. The models that register a waiter check the no-lost-wake-up rule: once both
/// sides are done, the registration found the case ready, or the waiter was completed.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::chan::core::loom_support::counting_waiter;
    use loom::sync::Arc;

    /// Registers a waiter on `ring` through `register` while `peer` runs on another
    /// thread; returns whether the registration found the case ready, the case the waiter
    /// was completed for, its wakes, and what `peer` returned.
    fn register_racing<R: Send + 'static>(
        ring: &Arc<Ring<u32>>,
        register: impl FnOnce(&Ring<u32>, &mut Entry) -> bool,
        peer: impl FnOnce(&Ring<u32>) -> R + Send + 'static,
    ) -> (bool, Option<usize>, usize, R) {
        let other = {
            let ring = ring.clone();
            loom::thread::spawn(move || peer(&ring))
        };
        let (waiter, wakes) = counting_waiter();
        let mut entry = Entry::new(&waiter, 0, ptr::null_mut());
        let ready = register(ring, &mut entry);
        let got = other.join().unwrap();
        let completed = waiter.abort();
        drop(entry);
        drop(waiter);
        (ready, completed, wakes.count(), got)
    }

    fn assert_not_lost(ready: bool, completed: Option<usize>, wakes: usize) {
        match (ready, completed) {
            (true, None) => assert_eq!(wakes, 0),
            (false, Some(0)) => assert_eq!(wakes, 1),
            other => panic!("a wake-up was lost or doubled: {other:?}, {wakes} wakes"),
        }
    }

    #[test]
    fn loom_buffered_send_and_receive_deliver_once() {
        loom::model(|| {
            let ring = Arc::new(Ring::<u32>::new(1));
            let sender = {
                let ring = ring.clone();
                loom::thread::spawn(move || ring.offer(3).map(wake))
            };
            let early = ring.take().map(|(v, _)| v);
            assert_eq!(sender.join().unwrap(), Ok(()), "a one-slot ring has room");
            let late = ring.take().map(|(v, _)| v);
            match early {
                Ok(v) => assert_eq!((v, late), (3, Err(TryRecvError::Empty))),
                Err(e) => assert_eq!((e, late), (TryRecvError::Empty, Ok(3))),
            }
        });
    }

    #[test]
    fn loom_a_waiting_receiver_is_never_missed_by_a_send() {
        loom::model(|| {
            let ring = Arc::new(Ring::<u32>::new(1));
            let (ready, completed, wakes, sent) = register_racing(
                &ring,
                // SAFETY: the entry stays in `register_racing`'s frame until dropped; the
                // ring outlives it.
                |ring, entry| unsafe { ring.register_recv(entry) },
                |ring| ring.offer(7).map(wake),
            );
            assert_eq!(sent, Ok(()));
            assert_not_lost(ready, completed, wakes);
            assert_eq!(ring.take().map(|(v, _)| v), Ok(7));
        });
    }

    #[test]
    fn loom_a_waiting_sender_is_never_missed_by_a_receive() {
        loom::model(|| {
            let ring = Arc::new(Ring::<u32>::new(1));
            assert!(ring.offer(1).is_ok());
            let (ready, completed, wakes, got) = register_racing(
                &ring,
                // SAFETY: as above.
                |ring, entry| unsafe { ring.register_send(entry) },
                |ring| {
                    ring.take().map(|(v, w)| {
                        wake(w);
                        v
                    })
                },
            );
            assert_eq!(got, Ok(1));
            assert_not_lost(ready, completed, wakes);
            assert!(ring.offer(2).is_ok(), "the slot is free again");
        });
    }

    #[test]
    fn loom_close_reaches_a_registering_receiver() {
        loom::model(|| {
            let ring = Arc::new(Ring::<u32>::new(1));
            let (ready, completed, wakes, closed) = register_racing(
                &ring,
                // SAFETY: as above.
                |ring, entry| unsafe { ring.register_recv(entry) },
                |ring| ring.close(),
            );
            assert!(closed);
            assert_not_lost(ready, completed, wakes);
            assert_eq!(ring.take().map(|(v, _)| v), Err(TryRecvError::Closed));
            assert!(matches!(ring.offer(4), Err(TrySendError::Closed(4))));
        });
    }
}
