//! select: Go's `select` — the `select!` macro and the dynamic [`Select`] builder, over one
//! shared core (`select_core`).
//!
//! The algorithm (crossbeam-channel's; it needs no lock across channels, only that each
//! channel registers an entry and re-checks readiness atomically):
//! 1. try every case without blocking, in a fresh uniformly random order; the first that
//!    can complete wins (so among the cases ready now, each wins with equal probability);
//! 2. with a `default`, stop there;
//! 3. else make one [`Waiter`] and register the cases in random order: each case either
//!    links an entry into its channel's wait queue (its index is the entry's case) or finds
//!    that it could complete now. Then the select aborts its own waiter: if a peer completed one of
//!    the registered cases first, that case won; otherwise every entry is unlinked and the
//!    select starts over from 1 (after a `yield_now`);
//! 4. wait until a peer completes one case (or the deadline passes);
//! 5. unlink every entry that is still linked; on a buffered channel the completed case
//!    then tries again (a completion there means "try again"), and if another operation
//!    got to the value or room first, the select starts over from 1.
//!
//! Invariants: a case's entry and packet live inside the case object, which the caller keeps
//! in place (borrowed by `select_core`) until `select_core` returns, and every entry is
//! unlinked before the waiter it points to goes away (`Registered` drops before the
//! waiter). A select never pairs with itself: registration ignores the select's own entries
//! (`has_claimable(Some(waiter))`), so send and receive arms on one unbuffered channel in
//! one select wait for a third party, as in Go. The winning case's packet holds its result.

use std::cell::{Cell, UnsafeCell};
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use crate::chan::core::Core;
use crate::chan::{AsReceiver, AsSender, SendError, TryRecvError, TrySendError};
use crate::park::Waiter;
use crate::runtime::WaitReason;
use crate::waitq::Entry;

/// One arm of a select, as the core sees it.
pub(crate) trait Case {
    /// Tries to complete without blocking; true if the case completed (ready or closed) and
    /// its result is in its packet.
    fn try_now(&mut self) -> bool;

    /// Links an entry for `waiter` with case number `index` into the channel's wait queue,
    /// or returns true, without linking, if the case could complete now.
    fn register(&mut self, waiter: &Waiter, index: usize) -> bool;

    /// Unlinks the entry, if any (a completed entry is already unlinked).
    fn unregister(&mut self);

    /// A peer completed this case's entry. True if the case's result is now in its packet:
    /// handed over on an unbuffered channel, or, on a buffered one (where a completion
    /// means "try again"), taken by trying the case now. False if that try found the value
    /// or room gone to another operation: the select starts over.
    fn finish_completed(&mut self) -> bool;
}

/// A case handed to the select core; made by `RecvCase::as_case`/`SendCase::as_case`.
#[doc(hidden)]
pub struct CaseRef<'c>(&'c mut (dyn Case + 'c));

/// A receive arm: its channel, its entry while registered, and its packet (the received
/// value, or `None` once the channel is closed and drained).
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    core: &'a Core<T>,
    entry: Option<Entry>,
    packet: UnsafeCell<Option<T>>,
}

/// A send arm: its channel, its entry while registered, and its packet (the value until it
/// is sent; still there if the channel was closed).
#[doc(hidden)]
pub struct SendCase<'a, T> {
    core: &'a Core<T>,
    entry: Option<Entry>,
    packet: UnsafeCell<Option<T>>,
}

impl<'a, T> RecvCase<'a, T> {
    /// A receive arm on `core`.
    #[inline]
    pub(crate) fn new(core: &'a Core<T>) -> Self {
        RecvCase {
            core,
            entry: None,
            packet: UnsafeCell::new(None),
        }
    }

    /// This arm, for the select core.
    #[inline]
    pub fn as_case(&mut self) -> CaseRef<'_> {
        CaseRef(self)
    }

    /// The arm's result once it won: the value, or `None` if the channel was closed.
    /// Taken in place: moving the whole case right after its packet was written would stall
    /// on store forwarding.
    #[inline]
    pub fn take_result(&mut self) -> Option<T> {
        self.packet.get_mut().take()
    }
}

impl<'a, T> SendCase<'a, T> {
    /// A send arm of `value` on `core`.
    #[inline]
    pub(crate) fn new(core: &'a Core<T>, value: T) -> Self {
        SendCase {
            core,
            entry: None,
            packet: UnsafeCell::new(Some(value)),
        }
    }

    /// This arm, for the select core.
    #[inline]
    pub fn as_case(&mut self) -> CaseRef<'_> {
        CaseRef(self)
    }

    /// The arm's result once it won: `Ok` if the value was sent, else the value back.
    /// Taken in place, as `RecvCase::take_result`.
    #[inline]
    pub fn take_result(&mut self) -> Result<(), SendError<T>> {
        match self.packet.get_mut().take() {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        }
    }
}

impl<T> Case for RecvCase<'_, T> {
    #[inline]
    fn try_now(&mut self) -> bool {
        match self.core.try_recv() {
            Ok(v) => {
                *self.packet.get_mut() = Some(v);
                true
            }
            Err(TryRecvError::Closed) => true,
            Err(TryRecvError::Empty) => false,
        }
    }

    fn register(&mut self, waiter: &Waiter, index: usize) -> bool {
        let entry = self
            .entry
            .insert(Entry::new(waiter, index, self.packet.get().cast()));
        // SAFETY: the entry is new (unlinked) and belongs to `waiter`; its packet is this
        // case's empty `UnsafeCell<Option<T>>`; the case stays in place until `select_core`
        // returns, which unregisters (drops) the entry first; the channel is borrowed for
        // `'a`, longer than the case.
        unsafe { self.core.register_recv(entry, waiter) }
    }

    #[inline]
    fn unregister(&mut self) {
        self.entry = None;
    }

    #[inline]
    fn finish_completed(&mut self) -> bool {
        self.core.hands_over() || self.try_now()
    }
}

impl<T> Case for SendCase<'_, T> {
    #[inline]
    fn try_now(&mut self) -> bool {
        let value = self
            .packet
            .get_mut()
            .take()
            .expect("a pending send arm holds its value");
        match self.core.try_send(value) {
            Ok(()) => true,
            Err(TrySendError::Closed(v)) => {
                *self.packet.get_mut() = Some(v);
                true
            }
            Err(TrySendError::Full(v)) => {
                *self.packet.get_mut() = Some(v);
                false
            }
        }
    }

    fn register(&mut self, waiter: &Waiter, index: usize) -> bool {
        let entry = self
            .entry
            .insert(Entry::new(waiter, index, self.packet.get().cast()));
        // SAFETY: as in `RecvCase::register`; the packet holds the value to send.
        unsafe { self.core.register_send(entry, waiter) }
    }

    #[inline]
    fn unregister(&mut self) {
        self.entry = None;
    }

    #[inline]
    fn finish_completed(&mut self) -> bool {
        self.core.hands_over() || self.try_now()
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A cheap per-thread xorshift generator, seeded from the std hasher's random keys.
#[inline]
fn random() -> u64 {
    RNG.with(|cell| {
        let mut x = cell.get();
        if x == 0 {
            x = seed(cell);
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cell.set(x);
        x
    })
}

/// The first state of this thread's generator (never 0).
#[cold]
fn seed(cell: &Cell<u64>) -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_usize(cell as *const Cell<u64> as usize);
    h.finish() | 1
}

/// A uniformly random number below `n` (Lemire's multiply; the bias is below 2^-50 for the
/// arm counts a select has).
#[inline]
fn below(n: usize) -> usize {
    ((u128::from(random()) * n as u128) >> 64) as usize
}

/// Arm counts up to this keep their random order on the stack.
const INLINE_ARMS: usize = 16;

/// Shuffles `order` in place (Fisher-Yates): a uniformly random permutation of what it held.
#[inline]
fn shuffle(order: &mut [u32]) {
    for i in (1..order.len()).rev() {
        order.swap(i, below(i + 1));
    }
}

/// Unregisters every case when dropped: declared after the waiter, so every entry is
/// unlinked before the waiter goes, whichever way `block` returns (or unwinds).
struct Registered<'r, 'c>(&'r mut [CaseRef<'c>]);

impl Drop for Registered<'_, '_> {
    fn drop(&mut self) {
        for case in self.0.iter_mut() {
            case.0.unregister();
        }
    }
}

enum Blocked {
    Completed(usize),
    TimedOut,
    Retry,
}

/// Steps 3-5 of the module docs: register every case, then wait.
fn block(cases: &mut [CaseRef<'_>], order: &[u32], deadline: Option<Instant>) -> Blocked {
    let waiter = Waiter::current();
    let registered = Registered(cases);
    for &i in order {
        let i = i as usize;
        if registered.0[i].0.register(&waiter, i) {
            return match waiter.abort() {
                Some(k) => Blocked::Completed(k),
                None => Blocked::Retry,
            };
        }
    }
    match waiter.wait(WaitReason::Select, deadline) {
        Some(k) => Blocked::Completed(k),
        None => Blocked::TimedOut,
    }
}

/// The select core shared by `select!` and `Select`: returns the index of the case that
/// completed (its result is in its packet), or `None` when the default was taken
/// (`has_default`) or the deadline passed. With no case and no default it waits forever
/// (Go's `select {}`) or until the deadline.
pub(crate) fn select_core(
    cases: &mut [CaseRef<'_>],
    has_default: bool,
    deadline: Option<Instant>,
) -> Option<usize> {
    // Built in place: moving a freshly written array stalls on store forwarding.
    let mut inline = [0u32; INLINE_ARMS];
    let mut heap = Vec::new();
    let order: &mut [u32] = if cases.len() <= INLINE_ARMS {
        &mut inline[..cases.len()]
    } else {
        heap.resize(cases.len(), 0);
        &mut heap
    };
    for (i, slot) in order.iter_mut().enumerate() {
        *slot = i as u32;
    }
    loop {
        shuffle(order);
        for &i in order.iter() {
            if cases[i as usize].0.try_now() {
                return Some(i as usize);
            }
        }
        if has_default || deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        match block(cases, order, deadline) {
            Blocked::Completed(k) if cases[k].0.finish_completed() => return Some(k),
            Blocked::Completed(_) => {}
            Blocked::TimedOut => return None,
            Blocked::Retry => crate::yield_now(),
        }
    }
}

/// What `select!` expands to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use super::{CaseRef, RecvCase, SendCase};
    use crate::chan::sealed::{RecvHandle, SendHandle};
    use crate::chan::{AsReceiver, AsSender};

    /// A receive arm on `rx`.
    #[inline]
    pub fn recv_case<T, H: AsReceiver<T> + ?Sized>(rx: &H) -> RecvCase<'_, T> {
        RecvCase::new(<H as RecvHandle<T>>::core(rx))
    }

    /// A send arm of `value` on `tx`.
    #[inline]
    pub fn send_case<T, H: AsSender<T> + ?Sized>(tx: &H, value: T) -> SendCase<'_, T> {
        SendCase::new(<H as SendHandle<T>>::core(tx), value)
    }

    /// Runs the select core without a deadline.
    #[inline]
    pub fn select(cases: &mut [CaseRef<'_>], has_default: bool) -> Option<usize> {
        super::select_core(cases, has_default, None)
    }

    /// The result of the winning arm.
    #[inline]
    pub fn chosen<V>(result: Option<V>) -> V {
        match result {
            Some(v) => v,
            None => unreachable!("select!: the chosen arm has a result"),
        }
    }
}

/// An arm of a [`Select`]: its case and what to do with its result.
trait Arm<R> {
    fn case(&mut self) -> CaseRef<'_>;
    fn finish(self: Box<Self>) -> R;
}

struct RecvArm<'a, T, F> {
    case: RecvCase<'a, T>,
    f: F,
}

struct SendArm<'a, T, F> {
    case: SendCase<'a, T>,
    f: F,
}

impl<T, F: FnOnce(Option<T>) -> R, R> Arm<R> for RecvArm<'_, T, F> {
    fn case(&mut self) -> CaseRef<'_> {
        self.case.as_case()
    }

    fn finish(self: Box<Self>) -> R {
        let RecvArm { mut case, f } = *self;
        f(case.take_result())
    }
}

impl<T, F: FnOnce(Result<(), SendError<T>>) -> R, R> Arm<R> for SendArm<'_, T, F> {
    fn case(&mut self) -> CaseRef<'_> {
        self.case.as_case()
    }

    fn finish(self: Box<Self>) -> R {
        let SendArm { mut case, f } = *self;
        f(case.take_result())
    }
}

/// A select over a set of cases known only at run time (`select!` is for a fixed set).
///
/// Add receive and send cases of any element types, optionally a default, then
/// [`wait`](Select::wait): the chosen case's closure runs and its value is returned. The
/// choice follows `select!`: among the cases ready at the moment of the choice each is
/// chosen with equal probability; without a default the call blocks until a case is
/// ready; a receive from a closed channel is ready (`None`), and so is a send to one (the
/// value comes back in the error). A send case's value is dropped if another case wins.
///
/// ```
/// let chans: Vec<goro::Chan<usize>> = (0..4).map(|_| goro::chan(1)).collect();
/// chans[2].send(42).unwrap();
///
/// let mut sel = goro::Select::new();
/// for (i, ch) in chans.iter().enumerate() {
///     sel = sel.recv(ch, move |v| (i, v));
/// }
/// assert_eq!(sel.wait(), (2, Some(42)));
/// ```
#[must_use = "a Select does nothing until `wait` or `wait_timeout` is called"]
pub struct Select<'a, R> {
    arms: Vec<Box<dyn Arm<R> + 'a>>,
    default: Option<Box<dyn FnOnce() -> R + 'a>>,
}

impl<'a, R> Select<'a, R> {
    /// A select with no cases.
    ///
    /// ```
    /// let out = goro::Select::new().default(|| "nothing to do").wait();
    /// assert_eq!(out, "nothing to do");
    /// ```
    pub fn new() -> Self {
        Select {
            arms: Vec::new(),
            default: None,
        }
    }

    /// Adds a receive case on `rx` (a [`Chan`](crate::Chan) or [`Receiver`](crate::Receiver));
    /// if it is chosen, `f` gets the value, or `None` if the channel is closed and drained.
    ///
    /// ```
    /// let ch = goro::chan::<i32>(0);
    /// ch.close();
    /// let got = goro::Select::new().recv(&ch, |v| v).wait();
    /// assert_eq!(got, None); // a closed channel is ready
    /// ```
    pub fn recv<T, H>(mut self, rx: &'a H, f: impl FnOnce(Option<T>) -> R + 'a) -> Self
    where
        T: 'a,
        H: AsReceiver<T> + ?Sized,
    {
        let case = __private::recv_case(rx);
        self.arms.push(Box::new(RecvArm { case, f }));
        self
    }

    /// Adds a case sending `value` on `tx` (a [`Chan`](crate::Chan) or
    /// [`Sender`](crate::Sender)); if it is chosen, `f` gets `Ok(())`, or the value back if
    /// the channel is closed. If another case wins, `value` is dropped.
    ///
    /// ```
    /// let ch = goro::chan::<&str>(1);
    /// let sent = goro::Select::new()
    ///     .send(&ch, "hello", |r| r.is_ok())
    ///     .wait();
    /// assert!(sent);
    /// assert_eq!(ch.recv(), Some("hello"));
    /// ```
    pub fn send<T, H>(
        mut self,
        tx: &'a H,
        value: T,
        f: impl FnOnce(Result<(), SendError<T>>) -> R + 'a,
    ) -> Self
    where
        T: 'a,
        H: AsSender<T> + ?Sized,
    {
        let case = __private::send_case(tx, value);
        self.arms.push(Box::new(SendArm { case, f }));
        self
    }

    /// Sets the default: if no case is ready right away, `f` runs instead of blocking.
    ///
    /// ```
    /// let ch = goro::chan::<i32>(0);
    /// let got = goro::Select::new().recv(&ch, |_| "value").default(|| "empty").wait();
    /// assert_eq!(got, "empty");
    /// ```
    pub fn default(mut self, f: impl FnOnce() -> R + 'a) -> Self {
        self.default = Some(Box::new(f));
        self
    }

    /// Chooses a case, blocking until one is ready (unless there is a default), and returns
    /// what its closure returns. With no case and no default it blocks forever, like Go's
    /// `select {}`.
    ///
    /// ```
    /// let (a, b) = (goro::chan::<i32>(0), goro::chan::<i32>(0));
    /// let tx = b.sender();
    /// goro::go(move || tx.send(2).unwrap());
    /// let got = goro::Select::new()
    ///     .recv(&a, |v| ("a", v))
    ///     .recv(&b, |v| ("b", v))
    ///     .wait();
    /// assert_eq!(got, ("b", Some(2)));
    /// ```
    pub fn wait(self) -> R {
        match self.run(None) {
            Some(out) => out,
            None => unreachable!("a select without a deadline returns only with a case or default"),
        }
    }

    /// Like [`wait`](Select::wait), but gives up after `timeout` and returns `None`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let ch = goro::chan::<i32>(0);
    /// let got = goro::Select::new()
    ///     .recv(&ch, |v| v)
    ///     .wait_timeout(Duration::from_millis(5));
    /// assert_eq!(got, None);
    /// ```
    pub fn wait_timeout(self, timeout: Duration) -> Option<R> {
        let deadline = Instant::now().checked_add(timeout);
        self.run(deadline)
    }

    /// Like [`wait`](Select::wait), but gives up at `deadline` and returns `None`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let ch = goro::chan::<i32>(1);
    /// ch.send(1).unwrap();
    /// let deadline = Instant::now() + Duration::from_secs(1);
    /// let got = goro::Select::new().recv(&ch, |v| v).wait_deadline(deadline);
    /// assert_eq!(got, Some(Some(1)));
    /// ```
    pub fn wait_deadline(self, deadline: Instant) -> Option<R> {
        self.run(Some(deadline))
    }

    fn run(mut self, deadline: Option<Instant>) -> Option<R> {
        let has_default = self.default.is_some();
        let chosen = {
            let mut cases: Vec<CaseRef<'_>> = self.arms.iter_mut().map(|a| a.case()).collect();
            select_core(&mut cases, has_default, deadline)
        };
        match chosen {
            Some(i) => Some(self.arms.swap_remove(i).finish()),
            None => self.default.take().map(|f| f()),
        }
    }
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Select::new()
    }
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.arms.len())
            .field("default", &self.default.is_some())
            .finish()
    }
}

/// Waits on several channel operations at once and runs the arm of the one that happens
/// (Go's `select`).
///
/// ```text
/// goro::select! {
///     recv(rx) -> v => expr,        // rx: &Chan<T> or &Receiver<T>; v binds Option<T>
///     send(tx, value) -> r => expr, // tx: &Chan<T> or &Sender<T>; r: Result<(), SendError<T>>
///     default => expr,              // optional; with it, select never blocks
/// }
/// ```
///
/// - Arms are separated by commas (a trailing comma is allowed; an arm whose body is a block
///   needs none). The macro evaluates to the chosen arm's value.
/// - The channel operand is any expression of type `&Chan<T>`, `&Receiver<T>` or
///   `&Sender<T>`; temporaries such as `&ctx.done()` live through the select. A handle
///   given by value (`recv(rx)` with `rx: Receiver<T>`, as crossbeam-channel users write it)
///   is borrowed, not moved. Operands and send values are evaluated once, in order, before
///   anything else.
/// - `-> pat` binds the result with an irrefutable pattern (a name, `mut name` or `_`).
/// - Among the arms ready at the moment of the choice, each is chosen with equal
///   probability; a blocked select registers its arms in random order too.
/// - Without `default` it blocks until an arm is ready. A receive from a closed channel is
///   ready (`None`); a send to a closed channel is ready (`Err` with the value back). A
///   [`never`](crate::never) channel is never ready.
/// - The same channel may appear in several arms, and a select may both send and receive
///   on one channel (it never pairs with itself).
/// - A send arm's value is moved in; if another arm wins, it is dropped.
/// - Arm bodies run in the caller's frame: `break`, `continue`, `return` and `?` work, and
///   a body may reassign the variables the operands borrowed.
///
/// ```
/// use std::time::Duration;
///
/// let (data, quit) = (goro::chan::<u32>(0), goro::chan::<()>(0));
/// let (tx, q) = (data.sender(), quit.sender());
/// goro::go(move || {
///     for i in 1..=3 {
///         tx.send(i).unwrap();
///     }
///     q.close();
/// });
/// let mut sum = 0;
/// loop {
///     goro::select! {
///         recv(&data) -> v => sum += v.unwrap(),
///         recv(&quit) -> _ => break,
///         recv(&goro::time::after(Duration::from_secs(10))) -> _ => panic!("timed out"),
///     }
/// }
/// assert_eq!(sum, 6);
/// ```
///
/// Sending, with a default:
///
/// ```
/// let ch = goro::chan::<i32>(1);
/// let mut dropped = 0;
/// for i in 0..3 {
///     goro::select! {
///         send(&ch, i) -> r => r.unwrap(),
///         default => dropped += 1, // full: the value is dropped
///     }
/// }
/// assert_eq!((ch.recv(), dropped), (Some(0), 2));
/// ```
#[macro_export]
macro_rules! select {
    // Parse one arm at a time into `(name index [case constructor] pattern body)`,
    // taking a fresh name from the list for each.
    (@arms [$($done:tt)*] $def:tt [($n:ident $i:tt) $($names:tt)*]
        recv($rx:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::select!(@arms [$($done)* ($n $i [$crate::__private::recv_case(&$rx)] $p $body)]
            $def [$($names)*] $($rest)*)
    };
    (@arms [$($done:tt)*] $def:tt [($n:ident $i:tt) $($names:tt)*]
        recv($rx:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::select!(@arms [$($done)* ($n $i [$crate::__private::recv_case(&$rx)] $p $body)]
            $def [$($names)*] $($rest)*)
    };
    (@arms [$($done:tt)*] $def:tt [($n:ident $i:tt) $($names:tt)*]
        recv($rx:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@arms [$($done)* ($n $i [$crate::__private::recv_case(&$rx)] $p $body)]
            $def [$($names)*] $($rest)*)
    };
    (@arms [$($done:tt)*] $def:tt [($n:ident $i:tt) $($names:tt)*]
        recv($rx:expr) -> $p:pat => $body:expr) => {
        $crate::select!(@arms [$($done)* ($n $i [$crate::__private::recv_case(&$rx)] $p $body)]
            $def [$($names)*])
    };
    (@arms [$($done:tt)*] $def:tt [($n:ident $i:tt) $($names:tt)*]
        send($tx:expr, $v:expr) -> $p:pat => $body:block, $($rest:tt)*) => {
        $crate::select!(@arms [$($done)* ($n $i [$crate::__private::send_case(&$tx, $v)] $p $body)]
            $def [$($names)*] $($rest)*)
    };
    (@arms [$($done:tt)*] $def:tt [($n:ident $i:tt) $($names:tt)*]
        send($tx:expr, $v:expr) -> $p:pat => $body:expr, $($rest:tt)*) => {
        $crate::select!(@arms [$($done)* ($n $i [$crate::__private::send_case(&$tx, $v)] $p $body)]
            $def [$($names)*] $($rest)*)
    };
    (@arms [$($done:tt)*] $def:tt [($n:ident $i:tt) $($names:tt)*]
        send($tx:expr, $v:expr) -> $p:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@arms [$($done)* ($n $i [$crate::__private::send_case(&$tx, $v)] $p $body)]
            $def [$($names)*] $($rest)*)
    };
    (@arms [$($done:tt)*] $def:tt [($n:ident $i:tt) $($names:tt)*]
        send($tx:expr, $v:expr) -> $p:pat => $body:expr) => {
        $crate::select!(@arms [$($done)* ($n $i [$crate::__private::send_case(&$tx, $v)] $p $body)]
            $def [$($names)*])
    };
    (@arms $done:tt [] $names:tt default => $body:block, $($rest:tt)*) => {
        $crate::select!(@arms $done [$body] $names $($rest)*)
    };
    (@arms $done:tt [] $names:tt default => $body:expr, $($rest:tt)*) => {
        $crate::select!(@arms $done [$body] $names $($rest)*)
    };
    (@arms $done:tt [] $names:tt default => $body:block $($rest:tt)*) => {
        $crate::select!(@arms $done [$body] $names $($rest)*)
    };
    (@arms $done:tt [] $names:tt default => $body:expr) => {
        $crate::select!(@arms $done [$body] $names)
    };
    (@arms $done:tt [$($def:tt)+] $names:tt default $($rest:tt)*) => {
        ::core::compile_error!("select!: more than one `default` arm")
    };
    (@arms $done:tt $def:tt $names:tt) => {
        $crate::select!(@emit $done $def)
    };
    (@arms $done:tt $def:tt [] $($rest:tt)+) => {
        ::core::compile_error!("select!: too many arms (at most 64)")
    };
    (@arms $done:tt $def:tt $names:tt $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `recv(rx) -> pat => body`, `send(tx, value) -> pat => body` ",
            "or `default => body`, found `",
            ::core::stringify!($($rest)+),
            "`"
        ))
    };
    // Evaluate the operands (temporaries live to the end of the `match`), run the core, move
    // every arm's result out (so the arms' borrows end), then run the chosen body here, in
    // the caller's frame.
    (@emit [$(($n:ident $i:tt [$($case:tt)*] $p:tt $body:tt))*] $def:tt) => {
        match ($($($case)*,)*) {
            ($(mut $n,)*) => {
                let __goro_chosen = $crate::__private::select(
                    &mut [$($n.as_case(),)*],
                    $crate::select!(@has_default $def),
                );
                let __goro_results = ($(
                    if __goro_chosen == ::core::option::Option::Some($i) {
                        let __goro_result = $n.take_result();
                        ::core::mem::drop($n);
                        ::core::option::Option::Some(__goro_result)
                    } else {
                        ::core::mem::drop($n);
                        ::core::option::Option::None
                    },
                )*);
                match __goro_chosen {
                    $(::core::option::Option::Some($i) => {
                        let $p = $crate::__private::chosen(__goro_results.$i);
                        $body
                    })*
                    _ => $crate::select!(@default $def),
                }
            }
        }
    };
    (@has_default []) => { false };
    (@has_default [$body:tt]) => { true };
    (@default []) => { ::core::unreachable!("select!: no arm was chosen") };
    (@default [$body:tt]) => { $body };
    ($($tokens:tt)*) => {
        $crate::select!(@arms [] [] [
            (__sel0 0) (__sel1 1) (__sel2 2) (__sel3 3) (__sel4 4) (__sel5 5)
            (__sel6 6) (__sel7 7) (__sel8 8) (__sel9 9) (__sel10 10) (__sel11 11)
            (__sel12 12) (__sel13 13) (__sel14 14) (__sel15 15) (__sel16 16) (__sel17 17)
            (__sel18 18) (__sel19 19) (__sel20 20) (__sel21 21) (__sel22 22) (__sel23 23)
            (__sel24 24) (__sel25 25) (__sel26 26) (__sel27 27) (__sel28 28) (__sel29 29)
            (__sel30 30) (__sel31 31) (__sel32 32) (__sel33 33) (__sel34 34) (__sel35 35)
            (__sel36 36) (__sel37 37) (__sel38 38) (__sel39 39) (__sel40 40) (__sel41 41)
            (__sel42 42) (__sel43 43) (__sel44 44) (__sel45 45) (__sel46 46) (__sel47 47)
            (__sel48 48) (__sel49 49) (__sel50 50) (__sel51 51) (__sel52 52) (__sel53 53)
            (__sel54 54) (__sel55 55) (__sel56 56) (__sel57 57) (__sel58 58) (__sel59 59)
            (__sel60 60) (__sel61 61) (__sel62 62) (__sel63 63)
        ] $($tokens)*)
    };
}
