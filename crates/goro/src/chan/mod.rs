//! chan: Go's channels — one channel core (see `core`) behind three handle types.
//!
//! `Chan<T>` is the bidirectional handle, `Sender<T>` the send-only view (Go's
//! `chan<- T`), `Receiver<T>` the receive-only view (Go's `<-chan T`). Every handle is an
//! `Arc` of the same `Core` and counts itself as a sender, a receiver, or both:
//! - the last sending handle to go closes the channel (receivers drain it, then get `None`);
//! - the last receiving handle to go fails every pending and later send, handing the value
//!   back, and drops what was buffered.
//!
//! `iter` (Iter/IntoIter) is Go's `for v := range ch`; `async_ops` holds the futures of
//! `send_async`/`recv_async`; `errors` the error types.

mod async_ops;
pub(crate) mod core;
mod errors;
mod iter;
mod rendezvous;
mod ring;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use self::async_ops::{RecvFuture, SendFuture};
use self::core::Core;
pub use self::errors::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
pub use self::iter::{IntoIter, Iter};

/// Creates a channel of capacity `cap`; `cap == 0` makes an unbuffered (rendezvous) channel,
/// where a send completes only when a receiver takes the value (Go's `make(chan T, cap)`).
///
/// A buffered channel allocates its whole buffer here, as Go's does (a slot is the value
/// plus one word), and then sends and receives without taking a lock unless they block.
///
/// # Panics
/// If `cap` is above 2^60 (on 64-bit targets); a capacity that cannot be allocated aborts
/// like any failed allocation.
///
/// ```
/// let ch = goro::chan::<&str>(1);
/// ch.send("buffered").unwrap(); // fits in the buffer: does not block
/// assert_eq!(ch.recv(), Some("buffered"));
///
/// let unbuffered = goro::chan::<u32>(0);
/// let tx = unbuffered.sender();
/// goro::go(move || tx.send(7).unwrap()); // blocks until received
/// assert_eq!(unbuffered.recv(), Some(7));
/// ```
pub fn chan<T: Send>(cap: usize) -> Chan<T> {
    Chan {
        core: Arc::new(Core::new(cap, 1, 1)),
    }
}

/// A receiver that is never ready: Go's nil channel. Receiving from it blocks forever; in a
/// `select!` its arm is never chosen, which is how an arm is switched off.
///
/// ```
/// use std::time::Duration;
/// let rx = goro::never::<i32>();
/// assert!(rx.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
/// let got = goro::select! {
///     recv(&rx) -> _ => "never",
///     default => "default",
/// };
/// assert_eq!(got, "default");
/// ```
pub fn never<T: Send>() -> Receiver<T> {
    // One phantom sender that is never released: the channel never closes, and with no
    // real sender nothing ever arrives.
    Receiver {
        core: Arc::new(Core::new(0, 1, 1)),
    }
}

/// A deadline `d` from now; `None` (wait forever) when that is beyond what `Instant` holds.
fn deadline_in(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

/// Handles that can receive: [`Chan`] and [`Receiver`] (and references to them). Accepted by
/// [`Select::recv`](crate::Select::recv) and the `recv` arm of [`select!`](crate::select!).
/// Sealed: it cannot be implemented outside goro.
///
/// ```
/// fn drain<H: goro::AsReceiver<i32>>(rx: &H) -> Vec<i32> {
///     let mut out = Vec::new();
///     while let Some(v) = goro::Select::new().recv(rx, |v| v).default(|| None).wait() {
///         out.push(v);
///     }
///     out
/// }
/// let ch = goro::chan(2);
/// ch.send(1).unwrap();
/// ch.send(2).unwrap();
/// assert_eq!(drain(&ch), [1, 2]);
/// ```
pub trait AsReceiver<T>: sealed::RecvHandle<T> {}

/// Handles that can send: [`Chan`] and [`Sender`] (and references to them). Accepted by
/// [`Select::send`](crate::Select::send) and the `send` arm of [`select!`](crate::select!).
/// Sealed: it cannot be implemented outside goro.
///
/// ```
/// fn offer<H: goro::AsSender<u8>>(tx: &H, v: u8) -> bool {
///     goro::Select::new().send(tx, v, |r| r.is_ok()).default(|| false).wait()
/// }
/// let ch = goro::chan(1);
/// assert!(offer(&ch.sender(), 1));
/// assert!(!offer(&ch, 2)); // full
/// ```
pub trait AsSender<T>: sealed::SendHandle<T> {}

pub(crate) mod sealed {
    //! The channel core behind a handle, for `AsReceiver`/`AsSender`.
    use super::core::Core;

    /// A handle able to receive from a `Core<T>`.
    pub trait RecvHandle<T> {
        /// The channel.
        fn core(&self) -> &Core<T>;
    }

    /// A handle able to send on a `Core<T>`.
    pub trait SendHandle<T> {
        /// The channel.
        fn core(&self) -> &Core<T>;
    }
}

impl<T> sealed::RecvHandle<T> for Chan<T> {
    #[inline]
    fn core(&self) -> &Core<T> {
        &self.core
    }
}
impl<T> sealed::RecvHandle<T> for Receiver<T> {
    #[inline]
    fn core(&self) -> &Core<T> {
        &self.core
    }
}
impl<T, H: sealed::RecvHandle<T> + ?Sized> sealed::RecvHandle<T> for &H {
    #[inline]
    fn core(&self) -> &Core<T> {
        (**self).core()
    }
}
impl<T> sealed::SendHandle<T> for Chan<T> {
    #[inline]
    fn core(&self) -> &Core<T> {
        &self.core
    }
}
impl<T> sealed::SendHandle<T> for Sender<T> {
    #[inline]
    fn core(&self) -> &Core<T> {
        &self.core
    }
}
impl<T, H: sealed::SendHandle<T> + ?Sized> sealed::SendHandle<T> for &H {
    #[inline]
    fn core(&self) -> &Core<T> {
        (**self).core()
    }
}
impl<T> AsReceiver<T> for Chan<T> {}
impl<T> AsReceiver<T> for Receiver<T> {}
impl<T, H: AsReceiver<T> + ?Sized> AsReceiver<T> for &H {}
impl<T> AsSender<T> for Chan<T> {}
impl<T> AsSender<T> for Sender<T> {}
impl<T, H: AsSender<T> + ?Sized> AsSender<T> for &H {}

/// A bidirectional channel handle (Go's `chan T`): it can send, receive and close.
///
/// Clones share the channel. A `Chan` counts as a sending and a receiving handle: while one
/// exists the channel is not closed by drops, so ranging over a channel whose `Chan` you
/// still hold ends only at an explicit [`close`](Chan::close). Hand out [`Sender`]s and
/// [`Receiver`]s ([`sender`](Chan::sender), [`receiver`](Chan::receiver)) to let drops
/// close it.
///
/// ```
/// let ch = goro::chan::<u32>(0);
/// let rx = ch.receiver();
/// let worker = goro::go(move || rx.iter().sum::<u32>());
/// for i in 1..=4 {
///     ch.send(i).unwrap();
/// }
/// ch.close();
/// assert_eq!(worker.join().unwrap(), 10);
/// ```
pub struct Chan<T> {
    core: Arc<Core<T>>,
}

/// The send-only view of a channel (Go's `chan<- T`). Dropping the last sending handle
/// closes the channel.
///
/// ```
/// fn produce(tx: goro::Sender<u32>) {
///     for i in 0..3 {
///         tx.send(i).unwrap();
///     }
/// } // the last sender is dropped here: the channel closes
///
/// let ch = goro::chan(3);
/// let rx = ch.receiver();
/// produce(ch.into()); // the Chan itself becomes the Sender
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
/// ```
pub struct Sender<T> {
    core: Arc<Core<T>>,
}

/// The receive-only view of a channel (Go's `<-chan T`). It cannot close the channel
/// (compile-time). Dropping the last receiving handle makes every pending and later send
/// fail, handing its value back.
///
/// ```
/// fn consume(rx: goro::Receiver<u32>) -> u32 {
///     rx.iter().sum() // ends when the channel is closed and drained
/// }
///
/// let ch = goro::chan(3);
/// let tx = ch.sender();
/// let total = goro::go({
///     let rx = goro::Receiver::from(ch);
///     move || consume(rx)
/// });
/// for i in 1..=3 {
///     tx.send(i).unwrap();
/// }
/// drop(tx); // the last sender: closes the channel
/// assert_eq!(total.join().unwrap(), 6);
/// ```
pub struct Receiver<T> {
    core: Arc<Core<T>>,
}

impl<T> Chan<T> {
    /// Sends `value`, parking the goroutine (or blocking the thread) while the buffer is
    /// full or, unbuffered, until a receiver takes it. Fails, handing the value back, if the
    /// channel is closed or has no receiving handle left.
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// ch.send(1).unwrap();
    /// ch.close();
    /// assert_eq!(ch.send(2), Err(goro::SendError(2)));
    /// ```
    #[inline]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.core
            .send(value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends `value` only if that can be done now: buffer space, or (unbuffered) a receiver
    /// already waiting.
    ///
    /// ```
    /// use goro::TrySendError;
    /// let ch = goro::chan(1);
    /// assert_eq!(ch.try_send('a'), Ok(()));
    /// assert_eq!(ch.try_send('b'), Err(TrySendError::Full('b')));
    /// ```
    #[inline]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.core.try_send(value)
    }

    /// Sends `value`, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ch = goro::chan(0); // nobody receives
    /// let err = ch.send_timeout(5, Duration::from_millis(5)).unwrap_err();
    /// assert!(err.is_timeout());
    /// assert_eq!(err.into_inner(), 5);
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.core.send(value, deadline_in(timeout))
    }

    /// A future that sends `value`, for use under any async executor. Dropping it before it
    /// completes drops the value only if it was never sent.
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
    /// let ch = goro::chan(1);
    /// block_on(ch.send_async(3)).unwrap();
    /// assert_eq!(ch.recv(), Some(3));
    /// ```
    pub fn send_async(&self, value: T) -> SendFuture<'_, T> {
        SendFuture::new(&self.core, value)
    }

    /// Receives a value, parking the goroutine (or blocking the thread) until one arrives.
    /// `None` once the channel is closed and drained (Go's `v, ok := <-ch` with `ok ==
    /// false`).
    ///
    /// ```
    /// let ch = goro::chan(2);
    /// ch.send(1).unwrap();
    /// ch.close();
    /// assert_eq!(ch.recv(), Some(1)); // buffered values come first
    /// assert_eq!(ch.recv(), None);
    /// ```
    #[inline]
    pub fn recv(&self) -> Option<T> {
        self.core.recv(None).ok()
    }

    /// Receives a value only if one is ready now.
    ///
    /// ```
    /// use goro::TryRecvError;
    /// let ch = goro::chan(1);
    /// assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    /// ch.send(9).unwrap();
    /// assert_eq!(ch.try_recv(), Ok(9));
    /// ```
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.core.try_recv()
    }

    /// Receives a value, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ch = goro::chan::<i32>(0);
    /// assert!(ch.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.core.recv(deadline_in(timeout))
    }

    /// A future that receives a value (`None` once closed and drained), for use under any
    /// async executor. Dropping it after a value was handed to it puts the value back at
    /// the front of the channel: nothing is lost.
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
    /// let ch = goro::chan(0);
    /// let tx = ch.sender();
    /// goro::go(move || tx.send("hi").unwrap());
    /// assert_eq!(block_on(ch.recv_async()), Some("hi"));
    /// ```
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        RecvFuture::new(&self.core)
    }

    /// An iterator that receives until the channel is closed and drained (Go's `for v :=
    /// range ch`).
    ///
    /// ```
    /// let ch = goro::chan(3);
    /// for i in 0..3 {
    ///     ch.send(i).unwrap();
    /// }
    /// ch.close();
    /// assert_eq!(ch.iter().collect::<Vec<_>>(), [0, 1, 2]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter::new(&self.core)
    }

    /// Closes the channel: later sends fail, receivers drain what is buffered and then get
    /// `None`, and every blocked sender gets its value back. Returns `false` if it was
    /// closed already (Go panics).
    ///
    /// ```
    /// let ch = goro::chan::<()>(0);
    /// assert!(ch.close());
    /// assert!(!ch.close());
    /// assert!(ch.is_closed());
    /// ```
    pub fn close(&self) -> bool {
        self.core.close()
    }

    /// Whether the channel was closed (by `close` or by its last sending handle going). It
    /// does not report whether receivers remain.
    ///
    /// ```
    /// let ch = goro::chan::<i32>(0);
    /// let rx = ch.receiver();
    /// assert!(!rx.is_closed());
    /// drop(ch); // the last sending handle
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// The number of values buffered now (always 0 when unbuffered).
    ///
    /// ```
    /// let ch = goro::chan(4);
    /// ch.send(1).unwrap();
    /// assert_eq!(ch.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// The capacity the channel was made with.
    ///
    /// ```
    /// assert_eq!(goro::chan::<u8>(4).cap(), 4);
    /// ```
    pub fn cap(&self) -> usize {
        self.core.cap()
    }

    /// Whether no value is buffered (always true when unbuffered).
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// assert!(ch.is_empty());
    /// ch.send(()).unwrap();
    /// assert!(!ch.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full (always true when unbuffered).
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// assert!(!ch.is_full());
    /// ch.send(()).unwrap();
    /// assert!(ch.is_full());
    /// assert!(goro::chan::<()>(0).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() >= self.cap()
    }

    /// A send-only handle to this channel.
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// ch.sender().send(5).unwrap();
    /// assert_eq!(ch.recv(), Some(5));
    /// ```
    pub fn sender(&self) -> Sender<T> {
        self.core.add_sender();
        Sender {
            core: self.core.clone(),
        }
    }

    /// A receive-only handle to this channel.
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// ch.send(5).unwrap();
    /// assert_eq!(ch.receiver().recv(), Some(5));
    /// ```
    pub fn receiver(&self) -> Receiver<T> {
        self.core.add_receiver();
        Receiver {
            core: self.core.clone(),
        }
    }
}

impl<T> Sender<T> {
    /// Sends `value`; see [`Chan::send`].
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// let tx = ch.sender();
    /// tx.send(1).unwrap();
    /// drop(ch); // the last receiving handle: sends fail from now on
    /// assert_eq!(tx.send(2).unwrap_err().into_inner(), 2);
    /// ```
    #[inline]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.core
            .send(value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends `value` only if that can be done now; see [`Chan::try_send`].
    ///
    /// ```
    /// let ch = goro::chan(0);
    /// let tx = ch.sender();
    /// assert!(tx.try_send(1).unwrap_err().is_full()); // no receiver waiting
    /// ```
    #[inline]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.core.try_send(value)
    }

    /// Sends `value`, waiting at most `timeout`; see [`Chan::send_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let ch = goro::chan(1);
    /// let tx = ch.sender();
    /// tx.send_timeout(1, Duration::from_millis(5)).unwrap(); // buffer space
    /// assert!(tx.send_timeout(2, Duration::from_millis(5)).unwrap_err().is_timeout());
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.core.send(value, deadline_in(timeout))
    }

    /// A future that sends `value`; see [`Chan::send_async`].
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
    /// let ch = goro::chan(0);
    /// let rx = ch.receiver();
    /// let h = goro::go(move || rx.recv());
    /// block_on(ch.sender().send_async(8)).unwrap();
    /// assert_eq!(h.join().unwrap(), Some(8));
    /// ```
    pub fn send_async(&self, value: T) -> SendFuture<'_, T> {
        SendFuture::new(&self.core, value)
    }

    /// Closes the channel; see [`Chan::close`].
    ///
    /// ```
    /// let ch = goro::chan::<i32>(0);
    /// let tx = ch.sender();
    /// assert!(tx.close());
    /// assert_eq!(ch.recv(), None);
    /// ```
    pub fn close(&self) -> bool {
        self.core.close()
    }

    /// Whether the channel was closed; see [`Chan::is_closed`].
    ///
    /// ```
    /// let tx = goro::chan::<i32>(0).sender();
    /// assert!(!tx.is_closed()); // the Sender itself keeps it open
    /// tx.close();
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// The number of values buffered now; see [`Chan::len`].
    ///
    /// ```
    /// let ch = goro::chan(2);
    /// let tx = ch.sender();
    /// tx.send(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// The capacity; see [`Chan::cap`].
    ///
    /// ```
    /// assert_eq!(goro::chan::<u8>(2).sender().cap(), 2);
    /// ```
    pub fn cap(&self) -> usize {
        self.core.cap()
    }

    /// Whether no value is buffered; see [`Chan::is_empty`].
    ///
    /// ```
    /// assert!(goro::chan::<u8>(2).sender().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full; see [`Chan::is_full`].
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// let tx = ch.sender();
    /// tx.send(0).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() >= self.cap()
    }
}

impl<T> Receiver<T> {
    /// Receives a value; see [`Chan::recv`].
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// let rx = ch.receiver();
    /// ch.send(4).unwrap();
    /// drop(ch); // the last sender: closed, but the buffered value is still delivered
    /// assert_eq!(rx.recv(), Some(4));
    /// assert_eq!(rx.recv(), None);
    /// ```
    #[inline]
    pub fn recv(&self) -> Option<T> {
        self.core.recv(None).ok()
    }

    /// Receives a value only if one is ready now; see [`Chan::try_recv`].
    ///
    /// ```
    /// let rx = goro::never::<i32>();
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// ```
    #[inline]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.core.try_recv()
    }

    /// Receives a value, waiting at most `timeout`; see [`Chan::recv_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let rx = goro::time::after(Duration::from_millis(1));
    /// assert!(rx.recv_timeout(Duration::from_secs(10)).is_ok());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.core.recv(deadline_in(timeout))
    }

    /// A future that receives a value; see [`Chan::recv_async`].
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
    /// let ch = goro::chan(1);
    /// let rx = ch.receiver();
    /// ch.send(2).unwrap();
    /// assert_eq!(block_on(rx.recv_async()), Some(2));
    /// ```
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        RecvFuture::new(&self.core)
    }

    /// An iterator that receives until the channel is closed and drained; see
    /// [`Chan::iter`].
    ///
    /// ```
    /// let ch = goro::chan(2);
    /// let rx = ch.receiver();
    /// ch.send(1).unwrap();
    /// ch.send(2).unwrap();
    /// drop(ch);
    /// assert_eq!(rx.iter().sum::<i32>(), 3);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter::new(&self.core)
    }

    /// Whether the channel was closed; see [`Chan::is_closed`].
    ///
    /// ```
    /// let ch = goro::chan::<i32>(0);
    /// let rx = ch.receiver();
    /// ch.close();
    /// assert!(rx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// The number of values buffered now; see [`Chan::len`].
    ///
    /// ```
    /// let ch = goro::chan(2);
    /// ch.send(1).unwrap();
    /// assert_eq!(ch.receiver().len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// The capacity; see [`Chan::cap`].
    ///
    /// ```
    /// assert_eq!(goro::chan::<u8>(3).receiver().cap(), 3);
    /// ```
    pub fn cap(&self) -> usize {
        self.core.cap()
    }

    /// Whether no value is buffered; see [`Chan::is_empty`].
    ///
    /// ```
    /// assert!(goro::never::<u8>().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is full; see [`Chan::is_full`].
    ///
    /// ```
    /// let ch = goro::chan(1);
    /// ch.send(1).unwrap();
    /// assert!(ch.receiver().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() >= self.cap()
    }
}

impl<T> Receiver<T> {
    /// A receiver over a core that already counts it.
    pub(crate) fn from_core(core: Arc<Core<T>>) -> Receiver<T> {
        Receiver { core }
    }
}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        self.core.add_sender();
        self.core.add_receiver();
        Chan {
            core: self.core.clone(),
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.core.add_sender();
        Sender {
            core: self.core.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.core.add_receiver();
        Receiver {
            core: self.core.clone(),
        }
    }
}

impl<T> Drop for Chan<T> {
    fn drop(&mut self) {
        self.core.drop_sender();
        self.core.drop_receiver();
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.core.drop_sender();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.core.drop_receiver();
    }
}

impl<T> From<Chan<T>> for Sender<T> {
    /// The send-only view; the `Chan`'s receiving side goes with it (if it was the last
    /// receiving handle, sends fail from now on).
    fn from(ch: Chan<T>) -> Self {
        ch.sender()
    }
}

impl<T> From<Chan<T>> for Receiver<T> {
    /// The receive-only view; the `Chan`'s sending side goes with it (if it was the last
    /// sending handle, the channel closes).
    fn from(ch: Chan<T>) -> Self {
        ch.receiver()
    }
}

/// Writes `Name { len, cap, closed }`.
fn debug_core<T>(f: &mut fmt::Formatter<'_>, name: &str, core: &Core<T>) -> fmt::Result {
    f.debug_struct(name)
        .field("len", &core.len())
        .field("cap", &core.cap())
        .field("closed", &core.is_closed())
        .finish()
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_core(f, "Chan", &self.core)
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_core(f, "Sender", &self.core)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_core(f, "Receiver", &self.core)
    }
}
