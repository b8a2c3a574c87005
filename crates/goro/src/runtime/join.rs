//! join: a goroutine's result and the handle that waits for it.
//!
//! `JoinState` holds the result once the goroutine ends (normally, by panic, or abandoned
//! by a shutting-down runtime) and the queue of whoever waits for it. `Spawned` puts the
//! goroutine's identity, function and `JoinState` in one allocation: until it starts, that
//! allocation is all a goroutine is (`Unstarted`). Its worker either runs the function or
//! abandons it, and both store a result exactly once, so `join` never hangs.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::goroutine::GoroutineId;
use super::WaitReason;
use crate::park::Waiter;
use crate::spin::SpinLock;
use crate::waitq::{Entry, QueueOwner, WaitQueue};

struct Inner<T> {
    result: Option<thread::Result<T>>,
    waiters: WaitQueue,
}

pub(crate) struct JoinState<T> {
    inner: SpinLock<Inner<T>>,
    finished: AtomicBool,
}

impl<T> QueueOwner for JoinState<T> {
    unsafe fn unlink(&self, entry: *mut Entry) {
        // SAFETY: the entry was linked only into this queue (caller's contract).
        unsafe { self.inner.lock().waiters.remove(entry) };
    }
}

impl<T> JoinState<T> {
    pub(crate) fn new() -> JoinState<T> {
        JoinState {
            inner: SpinLock::new(Inner {
                result: None,
                waiters: WaitQueue::new(),
            }),
            finished: AtomicBool::new(false),
        }
    }

    pub(crate) fn finish(&self, result: thread::Result<T>) {
        let mut inner = self.inner.lock();
        inner.result = Some(result);
        self.finished.store(true, Ordering::Release);
        if inner.waiters.is_empty() {
            return;
        }
        let wakers: Vec<_> = inner
            .waiters
            .claim_all()
            .into_iter()
            // SAFETY: each entry was just claimed by `claim_all`.
            .map(|e| unsafe { e.waiter().complete(e.case()) })
            .collect();
        drop(inner);
        wakers.into_iter().for_each(|w| w.wake());
    }

    fn wait(&self) -> thread::Result<T> {
        loop {
            if let Some(result) = self.wait_until(None) {
                return result;
            }
        }
    }

    /// Waits like `wait`, but every `every` asks `give_up`; `None` once it says yes.
    pub(crate) fn wait_or(
        &self,
        every: Duration,
        mut give_up: impl FnMut() -> bool,
    ) -> Option<thread::Result<T>> {
        loop {
            if let Some(result) = self.wait_until(Some(Instant::now() + every)) {
                return Some(result);
            }
            if give_up() {
                return None;
            }
        }
    }

    /// One wait for the result, until `deadline`.
    fn wait_until(&self, deadline: Option<Instant>) -> Option<thread::Result<T>> {
        let mut inner = self.inner.lock();
        if let Some(result) = inner.result.take() {
            return Some(result);
        }
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, std::ptr::null_mut());
        // SAFETY: `entry` stays in this frame until dropped, and `self` outlives it.
        unsafe { entry.link(&mut inner.waiters, self) };
        drop(inner);
        waiter.wait(WaitReason::Join, deadline);
        drop(entry);
        self.inner.lock().result.take()
    }
}

/// A goroutine that has not started: its function, queued until a worker runs it.
pub(crate) type Unstarted = Arc<dyn Body>;

/// A goroutine's identity, function and result, in one allocation shared by the goroutine
/// (as `dyn Body`) and its `JoinHandle` (as `dyn AsJoinState`).
pub(crate) struct Spawned<F, T> {
    id: GoroutineId,
    spawned_at: &'static Location<'static>,
    f: UnsafeCell<Option<F>>,
    state: JoinState<T>,
}

// SAFETY: `f` is taken exactly once, by the worker that owns the goroutine (`run` or
// `abandon`, see `Body`); everything else is behind the state's lock.
unsafe impl<F: Send, T: Send> Sync for Spawned<F, T> {}

impl<F, T> Spawned<F, T> {
    pub(crate) fn new(f: F, id: GoroutineId, spawned_at: &'static Location<'static>) -> Self {
        Spawned {
            id,
            spawned_at,
            f: UnsafeCell::new(Some(f)),
            state: JoinState::new(),
        }
    }

    /// Takes the function.
    ///
    /// # Safety
    /// Called once, by the worker that owns the goroutine.
    unsafe fn take(&self) -> Option<F> {
        // SAFETY: exclusive per the contract.
        unsafe { (*self.f.get()).take() }
    }
}

/// What a worker does with a goroutine's function.
pub(crate) trait Body: Send + Sync {
    /// The goroutine's id, chosen when it was spawned.
    fn id(&self) -> GoroutineId;

    /// Where it was spawned.
    fn spawned_at(&self) -> &'static Location<'static>;

    /// Runs the function, calls `ending`, then stores its result or panic for `join`.
    ///
    /// # Safety
    /// Called at most once in total with `abandon`, by the worker that owns the goroutine.
    unsafe fn run(&self, ending: &dyn Fn());

    /// Drops the function unrun, calls `ending`, then stores an error for `join`.
    ///
    /// # Safety
    /// As for `run`.
    unsafe fn abandon(&self, ending: &dyn Fn());
}

impl<F, T> Body for Spawned<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn id(&self) -> GoroutineId {
        self.id
    }

    fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    unsafe fn run(&self, ending: &dyn Fn()) {
        // SAFETY: forwarded contract.
        if let Some(f) = unsafe { self.take() } {
            let result = panic::catch_unwind(AssertUnwindSafe(f));
            ending();
            self.state.finish(result);
        }
    }

    unsafe fn abandon(&self, ending: &dyn Fn()) {
        // SAFETY: forwarded contract.
        if let Some(f) = unsafe { self.take() } {
            drop(f);
            ending();
            let payload: Box<dyn Any + Send> =
                Box::new("goroutine never ran: its runtime shut down or it could not get a stack");
            self.state.finish(Err(payload));
        }
    }
}

/// The join side of a `Spawned`, without its function type.
pub(crate) trait AsJoinState<T>: Send + Sync {
    fn join_state(&self) -> &JoinState<T>;
}

impl<F: Send, T: Send> AsJoinState<T> for Spawned<F, T> {
    fn join_state(&self) -> &JoinState<T> {
        &self.state
    }
}

/// An owned permission to wait for a goroutine and take its result (Go has no handle; this
/// is `std::thread::JoinHandle` for goroutines).
///
/// Dropping the handle detaches the goroutine: it keeps running.
///
/// ```
/// let h = goro::go(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
///
/// let h = goro::go(|| panic!("boom"));
/// assert!(h.join().is_err()); // the panic stays in its goroutine, delivered here
/// ```
pub struct JoinHandle<T> {
    pub(crate) id: GoroutineId,
    pub(crate) spawned: Arc<dyn AsJoinState<T>>,
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine to finish: parks the calling goroutine, or blocks the calling
    /// thread. Returns its value, or the payload of its panic. A goroutine abandoned by a
    /// runtime that shut down before it could finish reports an error payload too.
    ///
    /// ```
    /// let h = goro::go(|| "done");
    /// assert_eq!(h.join().unwrap(), "done");
    /// ```
    pub fn join(self) -> thread::Result<T> {
        self.spawned.join_state().wait()
    }

    /// The goroutine's id.
    ///
    /// ```
    /// let h = goro::go(goro::current_id);
    /// let id = h.id();
    /// assert_eq!(h.join().unwrap(), Some(id));
    /// ```
    pub fn id(&self) -> GoroutineId {
        self.id
    }

    /// Whether the goroutine has finished (its result is ready for `join`).
    ///
    /// ```
    /// let h = goro::go(|| ());
    /// while !h.is_finished() {
    ///     goro::yield_now();
    /// }
    /// h.join().unwrap();
    /// ```
    pub fn is_finished(&self) -> bool {
        self.spawned.join_state().finished.load(Ordering::Acquire)
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
