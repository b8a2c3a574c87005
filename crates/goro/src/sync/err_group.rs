//! err_group: x/sync's `errgroup.Group` — goroutines working on subtasks of one task, with
//! the first error (or panic) reported to whoever waits.
//!
//! The group is a `WaitGroup` plus shared state: the first error, the first panic payload,
//! and, for a group made by `with_context`, the handle that cancels the group's context.
//! Each goroutine catches its own panic, records the first failure of each kind, cancels the
//! context on failure, and counts itself done; `wait` waits for all of them, cancels the
//! context, and re-raises a recorded panic or returns the first error.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use super::WaitGroup;
use crate::context::{CancelHandle, Context};
use crate::runtime::worker::lock;

struct Failures<E> {
    error: Option<E>,
    panic: Option<Box<dyn Any + Send>>,
}

struct Shared<E> {
    failures: Mutex<Failures<E>>,
    cancel: Option<CancelHandle>,
}

impl<E> Shared<E> {
    fn cancel(&self) {
        if let Some(c) = &self.cancel {
            c.cancel();
        }
    }
}

/// A group of goroutines working on subtasks of a common task (x/sync's `errgroup.Group`).
///
/// [`go`](ErrGroup::go) runs a fallible function in a new goroutine; [`wait`](ErrGroup::wait)
/// waits for all of them and returns the first error. A group made by
/// [`with_context`](ErrGroup::with_context) also cancels its context as soon as a function
/// fails (or panics), so the others can stop early, and in any case once `wait` returns.
/// A panic in a goroutine is caught, cancels the context, and is re-raised by `wait`.
///
/// ```
/// use goro::sync::ErrGroup;
///
/// let result = goro::run(|| {
///     let group = ErrGroup::new();
///     for n in [2, 4, 5, 8] {
///         group.go(move || if n % 2 == 0 { Ok(()) } else { Err(format!("{n} is odd")) });
///     }
///     group.wait()
/// });
/// assert_eq!(result, Err("5 is odd".to_string()));
/// ```
pub struct ErrGroup<E> {
    wg: WaitGroup,
    shared: Arc<Shared<E>>,
}

impl<E> ErrGroup<E> {
    /// A group with no context.
    ///
    /// ```
    /// let group: goro::sync::ErrGroup<std::io::Error> = goro::sync::ErrGroup::new();
    /// assert!(group.wait().is_ok()); // nothing ran
    /// ```
    pub fn new() -> ErrGroup<E> {
        ErrGroup::with_cancel(None)
    }

    fn with_cancel(cancel: Option<CancelHandle>) -> ErrGroup<E> {
        ErrGroup {
            wg: WaitGroup::new(),
            shared: Arc::new(Shared {
                failures: Mutex::new(Failures {
                    error: None,
                    panic: None,
                }),
                cancel,
            }),
        }
    }

    /// A group and a context derived from `ctx` that is cancelled when a goroutine of the
    /// group first fails or panics, or when [`wait`](ErrGroup::wait) returns, whichever
    /// comes first (x/sync's `WithContext`).
    ///
    /// ```
    /// use goro::context::{Context, ContextError};
    /// use goro::sync::ErrGroup;
    ///
    /// let outcome = goro::run(|| {
    ///     let (group, ctx) = ErrGroup::with_context(&Context::background());
    ///     group.go(|| Err("disk full"));
    ///     let sibling = ctx.clone();
    ///     group.go(move || {
    ///         sibling.done().recv(); // stops when the first error cancels the context
    ///         Ok(())
    ///     });
    ///     (group.wait(), ctx.err())
    /// });
    /// assert_eq!(outcome, (Err("disk full"), Some(ContextError::Canceled)));
    /// ```
    pub fn with_context(ctx: &Context) -> (ErrGroup<E>, Context) {
        let (ctx, cancel) = ctx.with_cancel();
        (ErrGroup::with_cancel(Some(cancel)), ctx)
    }

    /// Runs `f` in a new goroutine of this group (spawned like [`goro::go`](crate::go)).
    /// The first error returned by any goroutine of the group is what
    /// [`wait`](ErrGroup::wait) returns; with a context, it also cancels it.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use goro::sync::ErrGroup;
    ///
    /// let done = Arc::new(AtomicUsize::new(0));
    /// let group = ErrGroup::<()>::new();
    /// for _ in 0..5 {
    ///     let done = done.clone();
    ///     group.go(move || {
    ///         done.fetch_add(1, Ordering::Relaxed);
    ///         Ok(())
    ///     });
    /// }
    /// assert!(group.wait().is_ok());
    /// assert_eq!(done.load(Ordering::Relaxed), 5);
    /// ```
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
        E: Send + 'static,
    {
        let shared = self.shared.clone();
        self.wg.go(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(f));
            let failed = {
                let mut failures = lock(&shared.failures);
                match outcome {
                    Ok(Ok(())) => false,
                    Ok(Err(e)) => {
                        failures.error.get_or_insert(e);
                        true
                    }
                    Err(payload) => {
                        failures.panic.get_or_insert(payload);
                        true
                    }
                }
            };
            if failed {
                shared.cancel();
            }
        });
    }

    /// Waits for every goroutine of the group, cancels the group's context (if any), and
    /// returns the first error. If a goroutine panicked, re-raises its panic instead.
    ///
    /// ```
    /// use goro::sync::ErrGroup;
    ///
    /// let group = ErrGroup::<&str>::new();
    /// group.go(|| panic!("boom"));
    /// let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.wait()));
    /// assert!(caught.is_err());
    /// ```
    pub fn wait(self) -> Result<(), E> {
        self.wg.wait();
        self.shared.cancel();
        let mut failures = lock(&self.shared.failures);
        if let Some(payload) = failures.panic.take() {
            drop(failures);
            panic::resume_unwind(payload);
        }
        failures.error.take().map_or(Ok(()), Err)
    }
}

impl<E> Default for ErrGroup<E> {
    /// Same as [`ErrGroup::new`].
    ///
    /// ```
    /// let group = goro::sync::ErrGroup::<String>::default();
    /// assert_eq!(group.wait(), Ok(()));
    /// ```
    fn default() -> Self {
        ErrGroup::new()
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    /// Shows the running count and whether the group has a context.
    ///
    /// ```
    /// let group = goro::sync::ErrGroup::<()>::new();
    /// assert_eq!(format!("{group:?}"), "ErrGroup { running: 0, context: false }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let running = self.wg.count();
        f.debug_struct("ErrGroup")
            .field("running", &running)
            .field("context", &self.shared.cancel.is_some())
            .finish()
    }
}
