//! goroutine: one goroutine's identity, scheduling state and body.
//!
//! A goroutine that has not started is only its function (`join::Unstarted`), which any
//! worker may take from a queue. The worker that first runs it gives it a `Goroutine`
//! header, and the goroutine stays on that worker (its `home`) for life (see DESIGN.md,
//! "Goroutines never migrate"). The header is shared (`Arc`) between that worker, the
//! wakers held by wait queues and timers, and the runtime's registry; its coroutine is
//! touched only by the home worker.
//!
//! Headers are recycled: when a goroutine finishes and its worker holds the only reference,
//! the header goes back to that worker's pool and serves the next goroutine it starts, so a
//! spawn allocates nothing but the goroutine's function, and the header stays in the cache
//! of the worker that uses it.
//!
//! Its scheduling state and the wake protocol live in `sched`.

use std::cell::UnsafeCell;
use std::fmt;
use std::num::NonZeroU64;
use std::panic::Location;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::sync::Arc;
use std::task::Wake;

use corosensei::{Coroutine, Yielder};

use super::sched::Sched;
use super::stack::GoroStack;
use super::{Shared, WaitReason};

/// Why a goroutine handed control back to its worker.
pub(crate) enum Switch {
    /// It waits; park it unless a wake already arrived.
    Park,
    /// `yield_now`: queue it behind the others.
    Yield,
}

/// The body of a goroutine that has started: a coroutine on its own stack.
pub(crate) type Coro = Coroutine<(), Switch, (), GoroStack>;

/// A goroutine's unique id; ids are never reused within a process.
///
/// ```
/// let h = goro::go(|| goro::current_id().unwrap());
/// let id = h.id();
/// assert_eq!(h.join().unwrap(), id);
/// assert!(goro::current_id().is_none()); // a plain thread has no goroutine id
/// println!("{id}"); // prints the number, as Go's tracebacks do
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoroutineId(NonZeroU64);

impl GoroutineId {
    pub(crate) fn next() -> GoroutineId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        GoroutineId(NonZeroU64::new(id).expect("goroutine ids exhausted"))
    }

    /// The id as a number (Go prints goroutines by this number).
    ///
    /// ```
    /// let id = goro::go(|| ()).id();
    /// assert!(id.as_u64() >= 1);
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoroutineId({})", self.0)
    }
}

impl fmt::Display for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which `WaitReason` a parked goroutine gave, published for dumps without a lock: a
/// sequence word makes the (tag, text) pair readable consistently (a seqlock with one writer,
/// the goroutine itself).
struct Status {
    seq: AtomicU32,
    tag: AtomicU8,
    other_ptr: AtomicUsize,
    other_len: AtomicUsize,
    /// `coarse_now()` when the goroutine last parked (0 before its first park: only a
    /// parked goroutine's time is read from here).
    since: AtomicU64,
}

pub(crate) struct Goroutine {
    id: GoroutineId,
    pub(crate) sched: Sched,
    /// Whether its home worker is running it now (for dumps; no wake reads it).
    pub(crate) on_cpu: AtomicBool,
    /// The worker it runs on; fixed for the header's life, recycling included.
    pub(crate) home: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) spawned_at: &'static Location<'static>,
    /// Counts parks; a timer armed for park `n` wakes only park `n`.
    pub(crate) park_seq: AtomicU64,
    /// Counts resumes, for dumps (a clock read per switch would cost more than the switch).
    resumes: AtomicU64,
    /// Its link while it waits in a worker's inbox (see `inbox`).
    pub(crate) inbox_next: AtomicPtr<Goroutine>,
    /// Its slot in its home worker's registry.
    pub(crate) registry_slot: AtomicUsize,
    status: Status,
    /// The coroutine, from the start until the goroutine finishes.
    task: UnsafeCell<Option<Coro>>,
    /// The coroutine's yielder while it runs; set by the coroutine itself.
    yielder: UnsafeCell<*const Yielder<(), Switch>>,
}

// SAFETY: `task` and `yielder` are only touched by the goroutine's home worker: see the
// module docs. The rest is atomics and `Sync` data.
unsafe impl Sync for Goroutine {}
// SAFETY: as above; the coroutine never leaves its home worker even though the `Arc`
// holding it does.
unsafe impl Send for Goroutine {}

impl Goroutine {
    /// A header for goroutine `id`, homed on worker `home`, with no coroutine yet.
    pub(crate) fn new(
        shared: Arc<Shared>,
        home: usize,
        id: GoroutineId,
        spawned_at: &'static Location<'static>,
    ) -> Goroutine {
        Goroutine {
            id,
            sched: Sched::new(),
            on_cpu: AtomicBool::new(false),
            home,
            shared,
            spawned_at,
            park_seq: AtomicU64::new(0),
            resumes: AtomicU64::new(0),
            inbox_next: AtomicPtr::new(std::ptr::null_mut()),
            registry_slot: AtomicUsize::new(usize::MAX),
            status: Status {
                seq: AtomicU32::new(0),
                tag: AtomicU8::new(0),
                other_ptr: AtomicUsize::new(0),
                other_len: AtomicUsize::new(0),
                since: AtomicU64::new(0),
            },
            task: UnsafeCell::new(None),
            yielder: UnsafeCell::new(std::ptr::null()),
        }
    }

    /// Makes a finished goroutine's header serve goroutine `id`. The exclusive borrow
    /// proves that no waker, timer or registry still refers to the old goroutine. Its park
    /// counter keeps counting (a deadlock fingerprint only needs it to change).
    pub(crate) fn reuse(&mut self, id: GoroutineId, spawned_at: &'static Location<'static>) {
        debug_assert!(
            self.task.get_mut().is_none(),
            "a recycled goroutine has finished"
        );
        self.id = id;
        self.spawned_at = spawned_at;
        self.sched.reset();
        *self.inbox_next.get_mut() = std::ptr::null_mut();
    }

    pub(crate) fn id(&self) -> GoroutineId {
        self.id
    }

    /// The task cell.
    ///
    /// # Safety
    /// Called only by the worker that owns this goroutine, with no other borrow live.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn task(&self) -> &mut Option<Coro> {
        // SAFETY: exclusive per the contract.
        unsafe { &mut *self.task.get() }
    }

    /// Records the yielder of the running coroutine.
    ///
    /// # Safety
    /// Called by the coroutine itself on its home worker.
    pub(crate) unsafe fn set_yielder(&self, y: *const Yielder<(), Switch>) {
        // SAFETY: only the running goroutine's own thread touches the cell.
        unsafe { *self.yielder.get() = y }
    }

    /// Switches back to the worker.
    ///
    /// # Safety
    /// Called by this goroutine itself while it runs.
    pub(crate) unsafe fn suspend(&self, why: Switch) {
        // SAFETY: the yielder was set when the coroutine started and stays valid while it
        // runs (it lives on the coroutine's own stack).
        unsafe { (**self.yielder.get()).suspend(why) }
    }

    /// Publishes the wait reason and the time it started waiting.
    pub(crate) fn set_waiting(&self, reason: &WaitReason, now: u64) {
        let s = &self.status;
        let seq = s.seq.load(Ordering::Relaxed);
        s.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        let (tag, text) = reason.encode();
        s.tag.store(tag, Ordering::Relaxed);
        s.other_ptr.store(text.as_ptr() as usize, Ordering::Relaxed);
        s.other_len.store(text.len(), Ordering::Relaxed);
        s.since.store(now, Ordering::Relaxed);
        s.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Counts a resume (called by the home worker only, so a plain store suffices).
    pub(crate) fn count_resume(&self) {
        let n = self.resumes.load(Ordering::Relaxed);
        self.resumes.store(n + 1, Ordering::Relaxed);
    }

    /// How many times the goroutine has been resumed, and parked: together they change
    /// whenever it changes state.
    pub(crate) fn switches(&self) -> (u64, u64) {
        (
            self.resumes.load(Ordering::Relaxed),
            self.park_seq.load(Ordering::Acquire),
        )
    }

    /// The published wait reason and the `coarse_now()` timestamp of the last park.
    pub(crate) fn wait_status(&self) -> (WaitReason, u64) {
        let s = &self.status;
        loop {
            let before = s.seq.load(Ordering::Acquire);
            let tag = s.tag.load(Ordering::Relaxed);
            let ptr = s.other_ptr.load(Ordering::Relaxed);
            let len = s.other_len.load(Ordering::Relaxed);
            let since = s.since.load(Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Acquire);
            if before % 2 == 0 && s.seq.load(Ordering::Relaxed) == before {
                let text: &'static str = if len == 0 {
                    ""
                } else {
                    // SAFETY: the seqlock read was consistent, so (ptr, len) is one non-empty
                    // `&'static str` published by `set_waiting`.
                    unsafe {
                        std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                            ptr as *const u8,
                            len,
                        ))
                    }
                };
                return (WaitReason::decode(tag, text), since);
            }
            std::hint::spin_loop();
        }
    }

    /// Wakes the goroutine (see `sched` for the transitions).
    pub(crate) fn unpark(self: &Arc<Self>) {
        if self.sched.wake() {
            super::worker::ready(self.clone());
        }
    }

    /// `unpark` for an owned reference: queues it without touching the count.
    fn unpark_owned(self: Arc<Self>) {
        if self.sched.wake() {
            super::worker::ready(self);
        }
    }
}

impl Wake for Goroutine {
    fn wake(self: Arc<Self>) {
        self.unpark_owned();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.unpark();
    }
}
