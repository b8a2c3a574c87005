//! context: Go's `context` package — cancellation and deadlines that flow down a tree of
//! contexts.
//!
//! ```
//! use std::time::Duration;
//! use goro::context::{Context, ContextError};
//!
//! let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(5));
//! let (child, _c) = ctx.with_cancel();
//! let worker = goro::go(move || {
//!     child.done().recv(); // closed when the parent's deadline passes
//!     child.err()
//! });
//! assert_eq!(worker.join().unwrap(), Some(ContextError::DeadlineExceeded));
//! ```
//!
//! A derived context is a `Node`: its deadline, an error code set once, the receiving side
//! of an unbuffered `()` channel (handed out by `done()`), and, under its lock, the sending
//! side and the weak links to its children. Cancelling a node sets its error, cancels its
//! children with the same error, closes the channel (so every `done()` receiver, in
//! `select!` or not, sees it ready), and unlinks it from its parent. The background context
//! is no node at all: never done, no deadline, and its children register nowhere.
//!
//! Invariants: the error is set, and every descendant cancelled, before the channel closes,
//! so whoever sees `done()` closed sees `err()` and finds the whole subtree done; a node
//! registers with its parent under the parent's lock, after checking that the parent is not
//! cancelled, so no child misses its parent's cancellation; locks are taken parent before
//! child, never the reverse while holding one; a deadline is a runtime timer holding only a
//! weak link, and firing it after cancellation changes nothing.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::chan::{Receiver, Sender};
use crate::runtime::worker::lock;
use crate::runtime::TimerTarget;

/// Why a context is done (Go's `context.Canceled` and `context.DeadlineExceeded`).
///
/// ```
/// use goro::context::ContextError;
/// assert_eq!(ContextError::Canceled.to_string(), "context canceled");
/// assert_eq!(ContextError::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// The context (or an ancestor) was cancelled through its [`CancelHandle`].
    Canceled,
    /// The context's deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    /// Go's error texts.
    ///
    /// ```
    /// let e = goro::context::ContextError::Canceled;
    /// assert_eq!(format!("request failed: {e}"), "request failed: context canceled");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl Error for ContextError {}

const NOT_DONE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE_EXCEEDED: u8 = 2;

fn encode(err: ContextError) -> u8 {
    match err {
        ContextError::Canceled => CANCELED,
        ContextError::DeadlineExceeded => DEADLINE_EXCEEDED,
    }
}

fn decode(code: u8) -> Option<ContextError> {
    match code {
        CANCELED => Some(ContextError::Canceled),
        DEADLINE_EXCEEDED => Some(ContextError::DeadlineExceeded),
        _ => None,
    }
}

/// Keys children in their parent's table.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// What a node's lock protects.
struct Links {
    /// The sending side of the `done` channel, until cancellation closes it.
    closer: Option<Sender<()>>,
    children: HashMap<u64, Weak<Node>>,
}

/// A cancellable context; see the module docs.
struct Node {
    parent: Option<Arc<Node>>,
    id: u64,
    deadline: Option<Instant>,
    err: AtomicU8,
    done: Receiver<()>,
    links: Mutex<Links>,
}

impl Node {
    fn err(&self) -> Option<ContextError> {
        decode(self.err.load(Ordering::Acquire))
    }

    /// Cancels this node and its subtree with `err`; a no-op if it is already done.
    fn cancel(&self, err: ContextError, unlink_from_parent: bool) {
        let mut links = lock(&self.links);
        if self.err.load(Ordering::Relaxed) != NOT_DONE {
            return;
        }
        self.err.store(encode(err), Ordering::Release);
        let closer = links.closer.take();
        let children = std::mem::take(&mut links.children);
        drop(links);
        // Descendants first: whoever sees this context's `done()` closed finds them done.
        for child in children.into_values().filter_map(|c| c.upgrade()) {
            child.cancel(err, false);
        }
        if let Some(tx) = closer {
            tx.close();
        }
        if unlink_from_parent {
            if let Some(parent) = &self.parent {
                lock(&parent.links).children.remove(&self.id);
            }
        }
    }
}

/// Fires a node's deadline. Holds the node weakly: a context dropped before its deadline
/// is not kept alive by the timer.
struct DeadlineTimer(Weak<Node>);

impl TimerTarget for DeadlineTimer {
    fn fire(self: Arc<Self>, _arming: u64) {
        if let Some(node) = self.0.upgrade() {
            node.cancel(ContextError::DeadlineExceeded, true);
        }
    }

    fn is_live(&self, _arming: u64) -> bool {
        self.0.upgrade().is_some_and(|node| node.err().is_none())
    }
}

/// Carries a cancellation signal and an optional deadline across goroutines (Go's
/// `context.Context`, without values).
///
/// Start from [`background`](Context::background) and derive children with
/// [`with_cancel`](Context::with_cancel), [`with_timeout`](Context::with_timeout) or
/// [`with_deadline`](Context::with_deadline). Cancelling a context cancels everything derived
/// from it, never its parent. Goroutines watch [`done`](Context::done) in a `select!`, or
/// poll [`err`](Context::err). Clones are cheap and share the same state.
///
/// ```
/// use std::time::Duration;
/// use goro::context::{Context, ContextError};
///
/// goro::run(|| {
///     let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
///     let slow = goro::time::after(Duration::from_secs(10));
///     let outcome = goro::select! {
///         recv(&slow) -> _ => "finished",
///         recv(&ctx.done()) -> _ => "gave up",
///     };
///     assert_eq!(outcome, "gave up");
///     assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// });
/// ```
#[derive(Clone)]
pub struct Context {
    node: Option<Arc<Node>>,
}

impl Context {
    /// The root context: never cancelled, no deadline (Go's `context.Background()`).
    ///
    /// ```
    /// let ctx = goro::context::Context::background();
    /// assert!(!ctx.is_done());
    /// assert_eq!(ctx.deadline(), None);
    /// ```
    pub fn background() -> Context {
        Context { node: None }
    }

    /// A child that is cancelled when the returned handle is cancelled or dropped, or when
    /// this context is (Go's `WithCancel`). It keeps this context's deadline.
    ///
    /// Keep the handle alive while the child is in use: `let (ctx, _) = ...` drops it at
    /// once and so cancels the child immediately. Name it `_cancel` instead.
    ///
    /// ```
    /// use goro::context::{Context, ContextError};
    ///
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let watcher = {
    ///     let ctx = ctx.clone();
    ///     goro::go(move || {
    ///         ctx.done().recv(); // returns None once the context is cancelled
    ///         ctx.err()
    ///     })
    /// };
    /// cancel.cancel();
    /// assert_eq!(watcher.join().unwrap(), Some(ContextError::Canceled));
    /// ```
    pub fn with_cancel(&self) -> (Context, CancelHandle) {
        self.child(self.deadline())
    }

    /// A child whose deadline is `timeout` from now (Go's `WithTimeout`); see
    /// [`with_deadline`](Context::with_deadline).
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::context::{Context, ContextError};
    ///
    /// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(10));
    /// assert_eq!(ctx.done().recv(), None); // blocks until the deadline
    /// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> (Context, CancelHandle) {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.with_deadline(deadline),
            None => self.with_cancel(),
        }
    }

    /// A child that is done at `deadline` (with [`ContextError::DeadlineExceeded`]), when its
    /// handle is cancelled or dropped, or when this context is done (Go's `WithDeadline`).
    /// A deadline later than this context's keeps this context's. A deadline already past
    /// gives a child that is done at once.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use goro::context::Context;
    ///
    /// let soon = Instant::now() + Duration::from_secs(1);
    /// let (parent, _p) = Context::background().with_deadline(soon);
    /// let (child, _c) = parent.with_deadline(soon + Duration::from_secs(60));
    /// assert_eq!(child.deadline(), Some(soon)); // the earlier one wins
    /// ```
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelHandle) {
        if self.deadline().is_some_and(|d| d <= deadline) {
            return self.with_cancel();
        }
        let (ctx, handle) = self.child(Some(deadline));
        if deadline <= Instant::now() {
            handle.node.cancel(ContextError::DeadlineExceeded, true);
        } else if !ctx.is_done() {
            let timer = DeadlineTimer(Arc::downgrade(&handle.node));
            crate::runtime::add_timer(deadline, Arc::new(timer), 0);
        }
        (ctx, handle)
    }

    /// A receiver that is closed when this context is done (Go's `Done()`): receiving
    /// from it blocks until then and returns `None` after. Usable in `select!`. For the
    /// background context it is never ready. By the time it closes, every context derived
    /// from this one is done too.
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::context::Context;
    ///
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let work = goro::chan::<u32>(1);
    /// drop(cancel);
    /// let got = goro::select! {
    ///     recv(&work) -> v => v,
    ///     recv(&ctx.done()) -> _ => None,
    /// };
    /// assert_eq!(got, None);
    /// ```
    pub fn done(&self) -> Receiver<()> {
        match &self.node {
            Some(node) => node.done.clone(),
            None => crate::chan::never(),
        }
    }

    /// Why this context is done, or `None` while it is not (Go's `Err()`).
    ///
    /// ```
    /// use goro::context::{Context, ContextError};
    ///
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    pub fn err(&self) -> Option<ContextError> {
        self.node.as_ref().and_then(|n| n.err())
    }

    /// Whether this context is done: `err().is_some()`.
    ///
    /// ```
    /// let (ctx, cancel) = goro::context::Context::background().with_cancel();
    /// assert!(!ctx.is_done());
    /// cancel.cancel();
    /// assert!(ctx.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// When this context will be done by itself, if ever (Go's `Deadline()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use goro::context::Context;
    ///
    /// assert_eq!(Context::background().deadline(), None);
    /// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(5));
    /// assert!(ctx.deadline().is_some());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.node.as_ref().and_then(|n| n.deadline)
    }

    /// A new node under this context, registered with it (or cancelled at once if this
    /// context is already done).
    fn child(&self, deadline: Option<Instant>) -> (Context, CancelHandle) {
        let ch = crate::chan::<()>(0);
        let node = Arc::new(Node {
            parent: self.node.clone(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            deadline,
            err: AtomicU8::new(NOT_DONE),
            done: ch.receiver(),
            links: Mutex::new(Links {
                closer: Some(ch.sender()),
                children: HashMap::new(),
            }),
        });
        if let Some(parent) = &self.node {
            let mut links = lock(&parent.links);
            match parent.err() {
                None => {
                    links.children.insert(node.id, Arc::downgrade(&node));
                }
                Some(err) => {
                    drop(links);
                    node.cancel(err, false);
                }
            }
        }
        let ctx = Context {
            node: Some(node.clone()),
        };
        (ctx, CancelHandle { node })
    }
}

impl Default for Context {
    /// The background context.
    ///
    /// ```
    /// let ctx = goro::context::Context::default();
    /// assert!(!ctx.is_done());
    /// ```
    fn default() -> Self {
        Context::background()
    }
}

impl fmt::Debug for Context {
    /// Shows the deadline and the error.
    ///
    /// ```
    /// let ctx = goro::context::Context::background();
    /// assert_eq!(format!("{ctx:?}"), "Context { deadline: None, err: None }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("deadline", &self.deadline())
            .field("err", &self.err())
            .finish()
    }
}

/// Cancels the context it was returned with (Go's `CancelFunc`); dropping it cancels too,
/// so a derived context never outlives the scope that owns its handle.
///
/// ```
/// use goro::context::Context;
///
/// let (ctx, cancel) = Context::background().with_cancel();
/// {
///     let _handle = cancel; // moved into this scope
/// } // dropped: cancelled
/// assert!(ctx.is_done());
/// ```
pub struct CancelHandle {
    node: Arc<Node>,
}

impl CancelHandle {
    /// Cancels the context and everything derived from it with
    /// [`ContextError::Canceled`]; a no-op if it is already done.
    ///
    /// ```
    /// use goro::context::{Context, ContextError};
    ///
    /// let (parent, cancel) = Context::background().with_cancel();
    /// let (child, _child_cancel) = parent.with_cancel();
    /// cancel.cancel();
    /// assert_eq!(child.err(), Some(ContextError::Canceled));
    /// cancel.cancel(); // again: nothing changes
    /// ```
    pub fn cancel(&self) {
        self.node.cancel(ContextError::Canceled, true);
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for CancelHandle {
    /// Shows whether the context is done.
    ///
    /// ```
    /// let (_ctx, cancel) = goro::context::Context::background().with_cancel();
    /// assert_eq!(format!("{cancel:?}"), "CancelHandle { done: false }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("done", &self.node.err().is_some())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn children(ctx: &Context) -> usize {
        lock(&ctx.node.as_ref().unwrap().links).children.len()
    }

    #[test]
    fn children_leave_a_long_lived_parent() {
        let (parent, _cancel) = Context::background().with_cancel();
        for _ in 0..1000 {
            let (child, cancel) = parent.with_cancel();
            let (_grandchild, _gc) = child.with_timeout(Duration::from_secs(3600));
            drop(cancel);
        }
        assert_eq!(
            children(&parent),
            0,
            "cancelled children unlinked themselves"
        );
        let (_kept, _keep) = parent.with_cancel();
        assert_eq!(children(&parent), 1);
    }

    #[test]
    fn a_pending_deadline_does_not_keep_the_context_alive() {
        let (ctx, cancel) = Context::background().with_timeout(Duration::from_secs(3600));
        let weak = Arc::downgrade(ctx.node.as_ref().unwrap());
        drop(ctx);
        drop(cancel);
        assert!(weak.upgrade().is_none(), "the timer holds the node weakly");
    }
}
