//! async_ops: the futures behind `send_async` and `recv_async`, usable under any executor.
//!
//! A future keeps what a blocking operation keeps on its stack — the packet slot, a
//! `Waiter` woken through the task's `Waker`, and the queue `Entry` — inside itself; it is
//! `!Unpin`, so once polled they stay put while linked. The first poll tries the operation
//! and, if it cannot complete, links the entry under the same lock acquisition; later polls
//! look (under the lock) whether a peer completed it, else refresh the waker.
//!
//! Dropping a pending future aborts its waiter and unlinks the entry. If a peer completed
//! it first, a receive future hands the value it was given back to the channel (`restore`),
//! and a send future's value was sent: nothing is lost and no stale waiter stays behind.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::core::{wake, Core};
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
    entry: Option<Entry>,
    waiter: Option<Waiter>,
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
    entry: Option<Entry>,
    waiter: Option<Waiter>,
    packet: UnsafeCell<Option<T>>,
    done: bool,
}

// SAFETY: the entry's raw pointers lead to this future's own waiter and packet and to the
// channel (which is `Sync` for `T: Send`); peers reach them only under the channel lock
// and through the claim protocol, never through a reference tied to the polling thread.
// Moving the (pinned) future to another thread between polls changes none of that.
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
            entry: None,
            waiter: None,
            packet: UnsafeCell::new(None),
            done: false,
        }
    }
}

impl<'a, T> SendFuture<'a, T> {
    pub(crate) fn new(core: &'a Core<T>, value: T) -> SendFuture<'a, T> {
        SendFuture {
            core,
            entry: None,
            waiter: None,
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
        let mut st = core.lock();
        if let Some(waiter) = &this.waiter {
            // Peers claim and complete under the lock we hold: the waiter is either still
            // waiting or done.
            if !waiter.is_settled() {
                // SAFETY: the waiter is linked only into `recvq`, whose lock we hold, and is
                // not settled.
                unsafe { waiter.set_waker(cx.waker()) };
                return Poll::Pending;
            }
            drop(st);
            this.entry = None;
            this.waiter = None;
            this.done = true;
            return Poll::Ready(this.packet.get_mut().take());
        }
        match core.recv_locked(&mut st) {
            Ok((v, w)) => {
                drop(st);
                wake(w);
                this.done = true;
                Poll::Ready(Some(v))
            }
            Err(TryRecvError::Closed) => {
                this.done = true;
                Poll::Ready(None)
            }
            Err(TryRecvError::Empty) => {
                let waiter = this.waiter.insert(Waiter::new(cx.waker().clone()));
                let entry = this
                    .entry
                    .insert(Entry::new(waiter, 0, this.packet.get().cast()));
                // SAFETY: the entry lives in this pinned future until dropped in place (before
                // the waiter and packet: see `drop`); the channel outlives the future (it is
                // borrowed); `recvq` is the channel's and its lock is held.
                unsafe { entry.link(&mut st.recvq, core.recv_side()) };
                Poll::Pending
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
        let mut st = core.lock();
        if let Some(waiter) = &this.waiter {
            if !waiter.is_settled() {
                // SAFETY: the waiter is linked only into `sendq`, whose lock we hold, and is
                // not settled.
                unsafe { waiter.set_waker(cx.waker()) };
                return Poll::Pending;
            }
            drop(st);
            this.entry = None;
            this.waiter = None;
            this.done = true;
            return Poll::Ready(match this.packet.get_mut().take() {
                None => Ok(()),
                Some(v) => Err(SendError(v)),
            });
        }
        let value = this
            .packet
            .get_mut()
            .take()
            .expect("an unpolled send future holds its value");
        match core.send_locked(&mut st, value) {
            Ok(w) => {
                drop(st);
                wake(w);
                this.done = true;
                Poll::Ready(Ok(()))
            }
            Err(TrySendError::Closed(v)) => {
                drop(st);
                this.done = true;
                Poll::Ready(Err(SendError(v)))
            }
            Err(TrySendError::Full(v)) => {
                *this.packet.get_mut() = Some(v);
                let waiter = this.waiter.insert(Waiter::new(cx.waker().clone()));
                let entry = this
                    .entry
                    .insert(Entry::new(waiter, 0, this.packet.get().cast()));
                // SAFETY: as in `RecvFuture::poll`, for `sendq`.
                unsafe { entry.link(&mut st.sendq, core.send_side()) };
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        let Some(waiter) = &self.waiter else { return };
        let completed = waiter.abort().is_some();
        // The entry goes before its waiter; it unlinks itself unless a peer completed it.
        self.entry = None;
        self.waiter = None;
        if completed {
            if let Some(v) = self.packet.get_mut().take() {
                self.core.restore(v);
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(waiter) = &self.waiter {
            let _ = waiter.abort();
            // The entry goes before its waiter. A value still in the packet was never sent
            // and drops with the future.
            self.entry = None;
            self.waiter = None;
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
