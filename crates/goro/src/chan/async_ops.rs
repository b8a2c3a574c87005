//! async_ops: the futures behind `send_async` and `recv_async`, usable under any executor.
//!
//! A future keeps what a blocking operation keeps on its stack — the packet slot, a
//! `Waiter` woken through the task's `Waker`, and the queue `Entry` — inside itself; it is
//! `!Unpin`, so once polled they stay put while linked. A poll tries the operation and, if
//! it cannot complete, registers the entry (which re-checks readiness as it links); later
//! polls look whether a peer completed it, else refresh the waker. A completion carries the
//! result on an unbuffered channel and means "try again" on a buffered one
//! (`Core::hands_over`).
//!
//! Dropping a pending future aborts its waiter and unlinks the entry. If a peer completed
//! it first, the channel gets back what the completion gave (`Core::abandon_recv` and
//! `abandon_send`): a value handed to a receive future, or a buffered channel's wake-up,
//! which goes to another waiter. A send future completed on an unbuffered channel was
//! sent. Nothing is lost and no stale waiter stays behind.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::core::Core;
use super::errors::{SendError, TryRecvError, TrySendError};
use crate::park::Waiter;
use crate::waitq::Entry;

/// The future of [`Chan::recv_async`](crate::Chan::recv_async) and
/// [`Receiver::recv_async`](crate::Receiver::recv_async): resolves to the next value, or
/// `None` once the channel is closed and drained.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     struct W(std::thread::Thread);
/// #     impl std::task::Wake for W { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
/// #     let waker = std::task::Waker::from(std::sync::Arc::new(W(std::thread::current())));
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v }
/// #         std::thread::park();
/// #     }
/// # }
/// let ch = goro::chan::<u8>(1);
/// let fut: goro::RecvFuture<'_, u8> = ch.recv_async();
/// ch.close();
/// assert_eq!(block_on(fut), None);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    core: &'a Core<T>,
    wait: Registration,
    packet: UnsafeCell<Option<T>>,
    done: bool,
}

/// The future of [`Chan::send_async`](crate::Chan::send_async) and
/// [`Sender::send_async`](crate::Sender::send_async): resolves once the value is sent, or
/// with the value handed back if the channel is closed or lost its receivers.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     struct W(std::thread::Thread);
/// #     impl std::task::Wake for W { fn wake(self: std::sync::Arc<Self>) { self.0.unpark() } }
/// #     let waker = std::task::Waker::from(std::sync::Arc::new(W(std::thread::current())));
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v }
/// #         std::thread::park();
/// #     }
/// # }
/// let ch = goro::chan::<u8>(0);
/// ch.close();
/// let fut: goro::SendFuture<'_, u8> = ch.send_async(1);
/// assert_eq!(block_on(fut), Err(goro::SendError(1)));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    core: &'a Core<T>,
    wait: Registration,
    packet: UnsafeCell<Option<T>>,
    done: bool,
}

/// A future's registered wait, if any: the entry (declared first, so it drops before the
/// waiter it points to) and the waiter woken through the task's waker.
#[derive(Default)]
struct Registration {
    entry: Option<Entry>,
    waiter: Option<Waiter>,
}

/// What a poll finds of its future's registered wait.
enum Recheck {
    /// None is registered.
    Unregistered,
    /// Still waiting; the waker is refreshed.
    Waiting,
    /// A peer completed it (and unlinked the entry); the registration is cleared.
    Completed,
}

impl Registration {
    fn recheck<T>(&mut self, core: &Core<T>, waker: &Waker) -> Recheck {
        let Some(waiter) = &self.waiter else {
            return Recheck::Unregistered;
        };
        if core.refresh_waker(waiter, waker) {
            return Recheck::Waiting;
        }
        self.clear();
        Recheck::Completed
    }

    /// Registers a wait with `packet` through `register` (a channel's `register_recv` or
    /// `register_send`); true if it is linked, false (and cleared) if the operation could
    /// complete now after all.
    ///
    /// # Safety
    /// `self` and `packet` stay in place (a pinned future) until the registration is
    /// cleared or dropped, and `register` links into a channel that outlives them.
    unsafe fn register(
        &mut self,
        packet: *mut (),
        waker: &Waker,
        register: impl FnOnce(&mut Entry, &Waiter) -> bool,
    ) -> bool {
        let waiter = self.waiter.insert(Waiter::new(waker.clone()));
        let entry = self.entry.insert(Entry::new(waiter, 0, packet));
        if register(entry, waiter) {
            self.clear();
            return false;
        }
        true
    }

    /// Gives the wait up (a dropped future); true if a peer had completed it first.
    fn give_up(&mut self) -> bool {
        let completed = self.waiter.as_ref().is_some_and(|w| w.abort().is_some());
        self.clear();
        completed
    }

    /// Drops the entry (which unlinks itself unless a peer completed it), then its waiter.
    fn clear(&mut self) {
        self.entry = None;
        self.waiter = None;
    }
}

// SAFETY: the entry's raw pointers lead to this future's own waiter and packet and to the
// channel (which is `Sync` for `T: Send`); peers reach them only under the lock of the
// channel's wait queue and through the claim protocol, never through a reference tied to
// the polling thread. Moving the (pinned) future to another thread between polls changes
// none of that.
unsafe impl<T: Send> Send for RecvFuture<'_, T> {}
// SAFETY: a shared reference to the future gives access to nothing.
unsafe impl<T: Send> Sync for RecvFuture<'_, T> {}
// SAFETY: as for `RecvFuture`.
unsafe impl<T: Send> Send for SendFuture<'_, T> {}
// SAFETY: a shared reference to the future gives access to nothing.
unsafe impl<T: Send> Sync for SendFuture<'_, T> {}

impl<'a, T> RecvFuture<'a, T> {
    pub(crate) fn new(core: &'a Core<T>) -> RecvFuture<'a, T> {
        RecvFuture {
            core,
            wait: Registration::default(),
            packet: UnsafeCell::new(None),
            done: false,
        }
    }
}

impl<'a, T> SendFuture<'a, T> {
    pub(crate) fn new(core: &'a Core<T>, value: T) -> SendFuture<'a, T> {
        SendFuture {
            core,
            wait: Registration::default(),
            packet: UnsafeCell::new(Some(value)),
            done: false,
        }
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: nothing is moved out of the future; the waiter and entry are created in
        // place and stay there until dropped in place.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "RecvFuture polled after it completed");
        let core = this.core;
        loop {
            match this.wait.recheck(core, cx.waker()) {
                Recheck::Waiting => return Poll::Pending,
                Recheck::Completed if core.hands_over() => {
                    this.done = true;
                    return Poll::Ready(this.packet.get_mut().take());
                }
                Recheck::Completed | Recheck::Unregistered => {}
            }
            match core.try_recv() {
                Ok(v) => {
                    this.done = true;
                    return Poll::Ready(Some(v));
                }
                Err(TryRecvError::Closed) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Err(TryRecvError::Empty) => {}
            }
            let packet = this.packet.get().cast();
            // SAFETY: the registration and packet live in this pinned future, and the
            // registration drops first (see `drop`); the channel outlives the future (it
            // is borrowed). The packet holds `None`, as `register_recv` requires.
            let linked = unsafe {
                this.wait.register(packet, cx.waker(), |entry, waiter| {
                    core.register_recv(entry, waiter)
                })
            };
            if linked {
                return Poll::Pending;
            }
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: as in `RecvFuture::poll`.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "SendFuture polled after it completed");
        let core = this.core;
        loop {
            match this.wait.recheck(core, cx.waker()) {
                Recheck::Waiting => return Poll::Pending,
                Recheck::Completed if core.hands_over() => {
                    this.done = true;
                    return Poll::Ready(match this.packet.get_mut().take() {
                        None => Ok(()),
                        Some(v) => Err(SendError(v)),
                    });
                }
                Recheck::Completed | Recheck::Unregistered => {}
            }
            let value = this
                .packet
                .get_mut()
                .take()
                .expect("a pending send future holds its value");
            match core.try_send(value) {
                Ok(()) => {
                    this.done = true;
                    return Poll::Ready(Ok(()));
                }
                Err(TrySendError::Closed(v)) => {
                    this.done = true;
                    return Poll::Ready(Err(SendError(v)));
                }
                Err(TrySendError::Full(v)) => *this.packet.get_mut() = Some(v),
            }
            let packet = this.packet.get().cast();
            // SAFETY: as in `RecvFuture::poll`; the packet holds the value to send.
            let linked = unsafe {
                this.wait.register(packet, cx.waker(), |entry, waiter| {
                    core.register_send(entry, waiter)
                })
            };
            if linked {
                return Poll::Pending;
            }
        }
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        if self.wait.give_up() {
            self.core.abandon_recv(self.packet.get_mut().take());
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        // A value still in the packet was never sent and drops with the future.
        if self.wait.give_up() {
            self.core.abandon_send();
        }
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
