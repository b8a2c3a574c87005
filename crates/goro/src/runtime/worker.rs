//! worker: one scheduler thread (Go's M+P) and the queues around it.
//!
//! Each worker owns, on its own thread (`Local`, reached through a thread-local pointer):
//! - `next`: the goroutine to run next (Go's runnext). A goroutine readied by a goroutine
//!   on the same worker — a channel partner, a freshly spawned child — goes here, so
//!   communicating pairs hand off with a context switch. Not stealable.
//! - `runq`: started goroutines homed here, in FIFO order. Not stealable: started
//!   goroutines never migrate.
//! - `headers`: headers of goroutines that finished here, for the next ones to start here
//!   (see `goroutine`).
//!
//! and shares with other threads (`WorkerShared`):
//! - `unstarted`: goroutines that have not run yet. Idle workers steal half of it, once it
//!   has waited `STEAL_AFTER`.
//! - `inbox`: goroutines homed here and readied by another thread.
//! - `timers`: deadlines (see `timer`).
//!
//! A goroutine that spawns while `SPAWN_BACKLOG` goroutines wait to start on its worker
//! yields (see `spawn`).
//!
//! Locality: a goroutine stays on the worker that starts it, and goroutines that talk to
//! each other pay far less on one worker than across two (a hand-off is then a context
//! switch, not a cross-core wake-up). So a worker starts its own new goroutines first: while
//! any wait to start, `next` is taken at most `NEXT_STREAK_BEFORE_NEW` times in a row, and
//! another worker steals them only after they have waited `STEAL_AFTER`. Goroutines
//! spawned by one that then blocks (a worker pool, a pipeline, producers and consumers) thus
//! start beside it; those that keep a worker busy longer are still stolen.
//!
//! Fairness: `next` may be taken at most `NEXT_STREAK` times in a row; then it goes to the
//! back of the queue, so two goroutines readying each other cannot starve the rest. Picks
//! outside `next` alternate between `runq` and `unstarted`, so a goroutine looping on
//! `yield_now` cannot starve a new one. The inbox is drained into `runq` on every scheduling
//! round; timers are checked every `TIMER_CHECK_INTERVAL` rounds and whenever the worker
//! runs out of work.
//!
//! Idle workers spin briefly (counted in `Shared::spinning`), then sleep. Whoever makes
//! stealable work wakes one sleeper when nobody spins (Go's spinning-M rule); whoever
//! readies a goroutine into an inbox wakes its home worker.

use std::cell::Cell;
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::Instant;

use corosensei::{Coroutine, CoroutineResult};
use crossbeam_utils::{Backoff, CachePadded};

use super::goroutine::{Goroutine, Switch};
use super::inbox::Inbox;
use super::join::Unstarted;
use super::registry::Registry;
use super::stack::{self, StackPool};
use super::timer::{TimerAction, Timers};
use super::Shared;
use crate::spin::SpinLock;

const NEXT_STREAK: u32 = 32;
const TIMER_CHECK_INTERVAL: u64 = 16;
const SPIN_FOR: std::time::Duration = std::time::Duration::from_micros(50);
/// While goroutines wait to start on a worker, at most this many goroutines in a row run
/// from its next slot before one of them starts (see the module docs, Locality).
const NEXT_STREAK_BEFORE_NEW: u32 = 2;
/// How long an idle worker watches goroutines wait to start on another worker before it
/// steals them (see the module docs, Locality). Measured on two workers: 20 µs leaves
/// four producers and four consumers on one worker about half the time, 50 µs nearly
/// always; a burst of CPU-bound goroutines loses at most this much of its parallel start.
const STEAL_AFTER: std::time::Duration = std::time::Duration::from_micros(50);
const NO_TIMER: u64 = u64::MAX;
/// Goroutines waiting to start on a worker beyond which a spawner there yields: a few
/// hundred KiB of pending goroutines. Large enough that idle workers steal big batches
/// (spawn_join on 2 workers ran fastest at 4096 among 64..16384), small enough to bound
/// memory.
const SPAWN_BACKLOG: usize = 4096;
/// Most finished goroutine headers a worker keeps for reuse.
const KEEP_HEADERS: usize = 256;

/// A goroutine ready to run: one that has started (homed here), or a new one.
pub(crate) enum Runnable {
    Started(Arc<Goroutine>),
    New(Unstarted),
}

/// The part of a worker other threads reach.
pub(crate) struct WorkerShared {
    unstarted: CachePadded<SpinLock<VecDeque<Unstarted>>>,
    unstarted_len: AtomicUsize,
    inbox: CachePadded<Inbox>,
    timers: Mutex<Timers>,
    /// The goroutines started here and not finished.
    pub(crate) registry: Registry,
    /// Goroutines spawned and ended by this worker's thread (written by it alone).
    pub(crate) spawned: AtomicUsize,
    pub(crate) ended: AtomicUsize,
    /// Earliest timer deadline in nanoseconds since `Shared::epoch`, or `NO_TIMER`.
    next_timer: AtomicU64,
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

impl WorkerShared {
    pub(crate) fn new() -> WorkerShared {
        WorkerShared {
            unstarted: CachePadded::new(SpinLock::new(VecDeque::new())),
            unstarted_len: AtomicUsize::new(0),
            inbox: CachePadded::new(Inbox::new()),
            timers: Mutex::new(Timers::default()),
            registry: Registry::default(),
            spawned: AtomicUsize::new(0),
            ended: AtomicUsize::new(0),
            next_timer: AtomicU64::new(NO_TIMER),
            sleeping: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    /// Wakes the worker if it sleeps.
    pub(crate) fn notify(&self) {
        if self.sleeping.load(Ordering::SeqCst) {
            if let Some(t) = self.thread.get() {
                t.unpark();
            }
        }
    }

    fn push_unstarted(&self, g: Unstarted) {
        let mut q = self.unstarted.lock();
        q.push_back(g);
        self.unstarted_len.store(q.len(), Ordering::Release);
    }

    /// The unstarted goroutines queued here.
    pub(crate) fn unstarted_snapshot(&self) -> Vec<Unstarted> {
        self.unstarted.lock().iter().cloned().collect()
    }

    pub(crate) fn has_unstarted(&self) -> bool {
        self.unstarted_len.load(Ordering::Acquire) > 0
    }

    fn pop_unstarted(&self) -> Option<Unstarted> {
        if self.unstarted_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut q = self.unstarted.lock();
        let g = q.pop_front();
        self.unstarted_len.store(q.len(), Ordering::Release);
        g
    }

    /// Moves half of this worker's unstarted goroutines into `into` (through `buf`, which
    /// is left empty) and returns one to run.
    fn steal_unstarted(&self, into: &WorkerShared, buf: &mut Vec<Unstarted>) -> Option<Unstarted> {
        if self.unstarted_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut q = self.unstarted.lock();
        let take = q.len().div_ceil(2);
        buf.extend(q.drain(..take));
        self.unstarted_len.store(q.len(), Ordering::Release);
        drop(q);
        let mut stolen = buf.drain(..);
        let first = stolen.next();
        if stolen.len() > 0 {
            let mut mine = into.unstarted.lock();
            mine.extend(stolen);
            into.unstarted_len.store(mine.len(), Ordering::Release);
        }
        first
    }

    fn push_inbox(&self, g: Arc<Goroutine>) {
        self.inbox.push(g);
        self.notify();
    }

    /// Arms a timer on this worker and wakes it if the deadline is its new earliest.
    pub(crate) fn add_timer(&self, shared: &Shared, when: Instant, action: TimerAction) {
        let mut stale = Vec::new();
        let mut t = lock(&self.timers);
        t.add(when, action, &mut stale);
        let earliest = t
            .earliest()
            .map_or(NO_TIMER, |e| shared.nanos_since_epoch(e));
        let before = self.next_timer.swap(earliest, Ordering::SeqCst);
        drop(t);
        drop(stale);
        if earliest < before {
            self.notify();
        }
    }

    /// Whether a timer is pending that could still wake something.
    pub(crate) fn has_live_timer(&self) -> bool {
        lock(&self.timers).has_live()
    }

    /// Fires due timers; returns the earliest remaining deadline.
    fn fire_timers(&self, shared: &Shared) -> Option<Instant> {
        if self.next_timer.load(Ordering::Acquire) == NO_TIMER {
            return None;
        }
        let now = Instant::now();
        let mut due = Vec::new();
        let mut t = lock(&self.timers);
        t.take_due(now, &mut due);
        let earliest = t.earliest();
        self.next_timer.store(
            earliest.map_or(NO_TIMER, |e| shared.nanos_since_epoch(e)),
            Ordering::SeqCst,
        );
        drop(t);
        due.into_iter().for_each(TimerAction::fire);
        earliest
    }
}

/// Locks a scheduler mutex. Nothing panics while holding one, so poisoning cannot happen;
/// recover anyway rather than cascade.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The part of a worker only its own thread touches.
pub(crate) struct Local {
    pub(crate) shared: Arc<Shared>,
    pub(crate) index: usize,
    /// `shared.workers[index]`, reached in one step: the scheduler loop looks at it on
    /// every pick.
    me: NonNull<WorkerShared>,
    next: Option<Runnable>,
    next_streak: u32,
    /// Whether the last pick outside `next` was an unstarted goroutine.
    took_unstarted: bool,
    runq: VecDeque<Arc<Goroutine>>,
    headers: Vec<Arc<Goroutine>>,
    /// Scratch space for `steal`, kept to save an allocation per steal.
    stolen: Vec<Unstarted>,
    stacks: StackPool,
    /// Goroutines started on this worker and not finished.
    homed: usize,
    tick: u64,
    rng: u64,
    /// When this worker, idle, first saw goroutines waiting to start elsewhere (since it
    /// last stole or saw none); see `steal`.
    stealable_since: Option<Instant>,
    /// Shutdown passes since the number of goroutines homed here last went down.
    shutdown_passes: u32,
    shutdown_homed: usize,
}

thread_local! {
    static LOCAL: Cell<*mut Local> = const { Cell::new(std::ptr::null_mut()) };
    static CURRENT: Cell<*const Goroutine> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` on this thread's worker state, if this thread is a worker. `f` must not
/// switch goroutines.
pub(crate) fn with_local<R>(f: impl FnOnce(&mut Local) -> R) -> Option<R> {
    let p = LOCAL.with(Cell::get);
    if p.is_null() {
        return None;
    }
    // SAFETY: the pointer is set by `worker_main` for the thread's life as a worker; every
    // borrow made through it is short and never spans a context switch, so borrows do not
    // overlap.
    Some(f(unsafe { &mut *p }))
}

/// The new goroutine in this thread's next slot, if this thread is a worker of `shared`:
/// the one goroutine of this worker that no shared queue lists.
pub(crate) fn unstarted_in_next(shared: &Shared) -> Option<Unstarted> {
    with_local(|l| match &l.next {
        Some(Runnable::New(g)) if std::ptr::eq(&*l.shared, shared) => Some(g.clone()),
        _ => None,
    })
    .flatten()
}

/// The goroutine running on this thread, if any.
pub(crate) fn current() -> Option<Arc<Goroutine>> {
    let p = CURRENT.with(Cell::get);
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` came from `Arc::as_ptr` of the goroutine the worker is running, and the
    // worker holds that `Arc` for as long as `CURRENT` points at it.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// Runs `f` on the running goroutine without touching its reference count.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Goroutine>) -> R) -> R {
    let p = CURRENT.with(Cell::get);
    // SAFETY: see `current`.
    f(unsafe { p.as_ref() })
}

/// Queues a goroutine that has just become runnable (`sched` is `RUNNABLE`): into the
/// next slot when readied on its home worker, else into its home worker's inbox.
pub(crate) fn ready(g: Arc<Goroutine>) {
    let home = g.home;
    let at_home = with_local(|l| l.index == home && Arc::ptr_eq(&l.shared, &g.shared));
    if at_home == Some(true) {
        with_local(|l| l.push_next(Runnable::Started(g)));
        return;
    }
    // The home worker may run and drop `g` as soon as it is in the inbox; this reference
    // keeps the runtime, and so the inbox, alive until its owner has been notified.
    let keep = g.clone();
    keep.shared.workers[home].push_inbox(g);
}

/// Queues a new goroutine: into the spawner's next slot when the spawner is a goroutine of
/// the same runtime, else into a worker's stealable queue.
///
/// A spawner that has more than `SPAWN_BACKLOG` goroutines waiting to start on its worker
/// yields after queueing, so that its worker runs one of them: a loop spawning faster than
/// goroutines finish then holds a bounded backlog instead of memory for every goroutine.
pub(crate) fn spawn(shared: &Arc<Shared>, g: Unstarted) {
    let same_runtime = with_local(|l| Arc::ptr_eq(&l.shared, shared));
    if same_runtime == Some(true) {
        let backlog = with_local(|l| {
            l.push_next(Runnable::New(g));
            l.me().unstarted_len.load(Ordering::Relaxed)
        });
        if backlog > Some(SPAWN_BACKLOG) {
            super::yield_now();
        }
        return;
    }
    let i = shared.spawn_rr.fetch_add(1, Ordering::Relaxed) % shared.workers.len();
    shared.workers[i].push_unstarted(g);
    // The push (a store under the queue's spin lock) must be visible before we read
    // whether the worker sleeps, or the worker, checking its queue as it goes to sleep,
    // and we could both miss each other and leave the goroutine queued on a sleeping
    // worker. `sleep` has the matching fence.
    std::sync::atomic::fence(Ordering::SeqCst);
    shared.workers[i].notify();
    shared.wake_idle();
}

impl Local {
    fn new(shared: Arc<Shared>, index: usize) -> Local {
        let stacks = StackPool::new(shared.stack_size);
        let me = NonNull::from(&shared.workers[index]);
        Local {
            shared,
            index,
            me,
            next: None,
            next_streak: 0,
            took_unstarted: false,
            runq: VecDeque::new(),
            headers: Vec::new(),
            stolen: Vec::new(),
            stacks,
            homed: 0,
            tick: 0,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1),
            stealable_since: None,
            shutdown_passes: 0,
            shutdown_homed: usize::MAX,
        }
    }

    fn me(&self) -> &WorkerShared {
        // SAFETY: `me` points into `shared.workers`, a boxed slice that never moves and
        // lives as long as `shared`, which this `Local` holds.
        unsafe { self.me.as_ref() }
    }

    /// Puts `g` in the next slot; the previous occupant goes behind the others (stealable
    /// if it has not started).
    fn push_next(&mut self, g: Runnable) {
        if let Some(prev) = self.next.replace(g) {
            self.push_back(prev);
        }
    }

    fn push_back(&mut self, g: Runnable) {
        match g {
            Runnable::Started(g) => self.runq.push_back(g),
            Runnable::New(g) => {
                self.me().push_unstarted(g);
                self.shared.wake_idle();
            }
        }
    }

    fn drain_inbox(&mut self) {
        let me = &self.shared.workers[self.index];
        if !me.inbox.is_empty() {
            me.inbox.take_all(&mut self.runq);
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// The next goroutine to run from local sources, without stealing or sleeping.
    fn find_local(&mut self) -> Option<Runnable> {
        self.drain_inbox();
        if let Some(g) = self.next.take() {
            let started = matches!(g, Runnable::Started(_));
            let take_next = self.next_streak < NEXT_STREAK_BEFORE_NEW
                || (!self.me().has_unstarted()
                    && (self.next_streak < NEXT_STREAK || (started && self.runq.is_empty())));
            if take_next {
                self.next_streak += 1;
                self.took_unstarted = false;
                return Some(g);
            }
            self.push_back(g);
        }
        self.next_streak = 0;
        // Alternate between started and unstarted goroutines, so that a goroutine looping
        // on `yield_now` cannot starve a new one it waits for.
        if !self.took_unstarted {
            if let Some(g) = self.me().pop_unstarted() {
                self.took_unstarted = true;
                return Some(Runnable::New(g));
            }
        }
        self.took_unstarted = false;
        if let Some(g) = self.runq.pop_front() {
            return Some(Runnable::Started(g));
        }
        self.took_unstarted = true;
        self.me().pop_unstarted().map(Runnable::New)
    }

    fn steal(&mut self) -> Option<Runnable> {
        let elsewhere = |(i, w): (usize, &WorkerShared)| i != self.index && w.has_unstarted();
        if !self.shared.workers.iter().enumerate().any(elsewhere) {
            self.stealable_since = None;
            return None;
        }
        let since = *self.stealable_since.get_or_insert_with(Instant::now);
        if since.elapsed() < STEAL_AFTER {
            return None;
        }
        self.stealable_since = None;
        let n = self.shared.workers.len();
        let start = self.random() as usize % n;
        let workers = &self.shared.workers;
        (0..n)
            .map(|k| (start + k) % n)
            .filter(|&i| i != self.index)
            .find_map(|i| workers[i].steal_unstarted(&workers[self.index], &mut self.stolen))
            .map(Runnable::New)
    }

    /// A header for goroutine `g`, homed here: a recycled one if any.
    fn header_for(&mut self, g: &Unstarted) -> Arc<Goroutine> {
        while let Some(mut h) = self.headers.pop() {
            if let Some(header) = Arc::get_mut(&mut h) {
                header.reuse(g.id(), g.spawned_at());
                return h;
            }
        }
        Arc::new(Goroutine::new(
            self.shared.clone(),
            self.index,
            g.id(),
            g.spawned_at(),
        ))
    }

    /// Keeps a finished goroutine's header for reuse if nothing else refers to it. The
    /// count is only a filter: nothing can clone the last reference, and `header_for`
    /// proves uniqueness (with the memory ordering that takes) before reusing a header.
    fn recycle(&mut self, g: Arc<Goroutine>) {
        if self.headers.len() < KEEP_HEADERS && Arc::strong_count(&g) == 1 {
            self.headers.push(g);
        }
    }

    fn has_local_work(&self) -> bool {
        let me = self.me();
        self.next.is_some()
            || !self.runq.is_empty()
            || !me.inbox.is_empty()
            || me.unstarted_len.load(Ordering::Acquire) > 0
    }
}

/// The body of a worker thread.
pub(crate) fn worker_main(shared: Arc<Shared>, index: usize) {
    stack::prepare_thread();
    super::deadlock::worker_thread(true);
    // Set once, before this worker's index is handed to anyone who could queue work here.
    let _ = shared.workers[index].thread.set(std::thread::current());
    let mut local = Box::new(Local::new(shared.clone(), index));
    LOCAL.with(|c| c.set(&mut *local));
    while let Some(g) = find_runnable(&shared, index) {
        run(&shared, g);
    }
    LOCAL.with(|c| c.set(std::ptr::null_mut()));
    super::deadlock::worker_thread(false);
}

/// Blocks until there is a goroutine to run; `None` once the runtime has shut down and
/// nothing is left on this worker.
///
/// Anything that can run user code or wake goroutines (timers, abandoning goroutines) runs
/// outside `with_local`, since a wake re-enters the worker state.
fn find_runnable(shared: &Shared, index: usize) -> Option<Runnable> {
    let me = &shared.workers[index];
    loop {
        let check_timers = with_local(|l| {
            l.tick += 1;
            l.tick % TIMER_CHECK_INTERVAL == 0
        })?;
        if check_timers {
            me.fire_timers(shared);
        }
        if let Some(g) = with_local(Local::find_local)? {
            return Some(g);
        }
        me.fire_timers(shared);
        if with_local(|l| l.has_local_work())? {
            continue;
        }
        if shared.shutdown.load(Ordering::Acquire) {
            match super::shutdown::drain(shared, index) {
                super::shutdown::Drain::Progress => continue,
                super::shutdown::Drain::Finished => return None,
            }
        }
        if let Some(g) = spin(shared) {
            return Some(g);
        }
        sleep(shared, index);
    }
}

/// Looks for work for up to `SPIN_FOR` before sleeping: a sleep and wake-up costs two
/// system calls, far more than a short spin when work arrives in bursts.
fn spin(shared: &Shared) -> Option<Runnable> {
    shared.spinning.fetch_add(1, Ordering::SeqCst);
    let backoff = Backoff::new();
    let start = Instant::now();
    let mut found = None;
    while start.elapsed() < SPIN_FOR {
        if let Some(g) = with_local(|l| l.find_local().or_else(|| l.steal())).flatten() {
            found = Some(g);
            break;
        }
        if backoff.is_completed() {
            std::thread::yield_now();
        } else {
            backoff.spin();
        }
    }
    shared.spinning.fetch_sub(1, Ordering::SeqCst);
    found
}

/// Sleeps until woken or until the earliest timer is due.
fn sleep(shared: &Shared, index: usize) {
    let me = &shared.workers[index];
    me.sleeping.store(true, Ordering::SeqCst);
    shared.idle_push(index);
    // Pairs with the fence in `spawn`: our `sleeping` must be visible before we look at
    // the queues one last time.
    std::sync::atomic::fence(Ordering::SeqCst);
    let has_work = with_local(|l| l.has_local_work()).unwrap_or(false)
        || shared.stealable_work()
        || shared.shutdown.load(Ordering::SeqCst);
    if !has_work {
        match me.next_timer.load(Ordering::SeqCst) {
            NO_TIMER => std::thread::park(),
            at => {
                let now = shared.nanos_since_epoch(Instant::now());
                if at > now {
                    std::thread::park_timeout(std::time::Duration::from_nanos(at - now));
                }
            }
        }
    }
    shared.idle_remove(index);
    me.sleeping.store(false, Ordering::SeqCst);
}

/// Runs `g` until it parks, yields or returns.
fn run(shared: &Shared, g: Runnable) {
    let g = match g {
        Runnable::Started(g) => g,
        Runnable::New(body) => match start(shared, body) {
            Some(g) => g,
            None => return,
        },
    };
    // SAFETY: this worker is `g`'s home and dequeued it, so it owns the coroutine.
    let task = unsafe { g.task() };
    let body = task.as_mut().expect("a queued goroutine has a coroutine");
    g.on_cpu.store(true, Ordering::Relaxed);
    g.count_resume();
    CURRENT.with(|c| c.set(Arc::as_ptr(&g)));
    stack::note_running(g.id().as_u64());
    let outcome = body.resume(());
    stack::note_running(0);
    CURRENT.with(|c| c.set(std::ptr::null()));
    g.on_cpu.store(false, Ordering::Relaxed);
    match outcome {
        CoroutineResult::Yield(Switch::Park) => park(g),
        CoroutineResult::Yield(Switch::Yield) => requeue(g),
        CoroutineResult::Return(()) => finish(g),
    }
}

/// Parks a goroutine that switched out to wait, unless a wake arrived since it last looked:
/// then it goes back in the queue, to re-check what it waits for.
fn park(g: Arc<Goroutine>) {
    if !g.sched.park() {
        requeue(g);
    }
}

/// Makes this worker the home of a new goroutine: gives it a header, a stack and a
/// coroutine. `None` if no stack could be had: the goroutine then ends without running (its
/// join reports the error).
fn start(shared: &Shared, body: Unstarted) -> Option<Arc<Goroutine>> {
    let stack = match with_local(|l| l.stacks.take()).expect("on a worker") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("goro: goroutine {} cannot start: {e}", body.id());
            abandon(shared, body);
            return None;
        }
    };
    let g = with_local(|l| {
        l.homed += 1;
        l.header_for(&body)
    })
    .expect("on a worker");
    shared.workers[g.home].registry.insert(&g);
    let gp = Arc::as_ptr(&g) as usize;
    let coroutine = Coroutine::with_stack(stack, move |yielder, ()| {
        // SAFETY: `gp` is the goroutine running this coroutine; its `Arc` is held by the
        // worker while the coroutine runs.
        let g = unsafe { &*(gp as *const Goroutine) };
        // SAFETY: called by the coroutine itself, on its home worker.
        unsafe { g.set_yielder(yielder) };
        // SAFETY: the body runs once, here, on the goroutine's home worker.
        unsafe { body.run(&|| g.shared.count_ended()) };
    });
    // SAFETY: this worker has just made itself `g`'s home; nothing else touches the task.
    unsafe { *g.task() = Some(coroutine) };
    Some(g)
}

/// Queues a started goroutine behind the others; its `sched` stays as it is.
fn requeue(g: Arc<Goroutine>) {
    with_local(|l| l.runq.push_back(g));
}

fn finish(g: Arc<Goroutine>) {
    g.sched.finish();
    // SAFETY: `g` just returned on this, its home worker.
    let body = unsafe { g.task() }
        .take()
        .expect("a finished goroutine had a coroutine");
    let stack = body.into_stack();
    g.shared.forget(&g);
    with_local(|l| {
        l.stacks.give_back(stack);
        l.homed -= 1;
        l.recycle(g);
    });
}

/// Shutdown support: what is left on this worker.
impl Local {
    pub(crate) fn homed(&self) -> usize {
        self.homed
    }

    /// Counts a shutdown pass that still found `homed` goroutines; returns the passes made
    /// since that number last went down.
    pub(crate) fn count_shutdown_pass(&mut self, homed: usize) -> u32 {
        if homed < self.shutdown_homed {
            self.shutdown_homed = homed;
            self.shutdown_passes = 0;
        }
        self.shutdown_passes += 1;
        self.shutdown_passes
    }

    /// Takes every unstarted goroutine queued here, for the caller to abandon.
    pub(crate) fn take_unstarted(&mut self) -> Vec<Unstarted> {
        let mut out = Vec::new();
        while let Some(g) = self.me().pop_unstarted() {
            out.push(g);
        }
        match self.next.take() {
            Some(Runnable::Started(g)) => self.runq.push_back(g),
            Some(Runnable::New(g)) => out.push(g),
            None => {}
        }
        out
    }
}

/// Ends an unstarted goroutine without running it; its closure is dropped here (its join
/// then reports that it never ran).
pub(crate) fn abandon(shared: &Shared, g: Unstarted) {
    // SAFETY: the caller dequeued `g` (or never queued it), so it owns the body.
    unsafe { g.abandon(&|| shared.count_ended()) };
}

/// Gives up on a goroutine homed here that would not finish during shutdown: its stack is
/// leaked rather than unwound on the wrong thread or run forever.
pub(crate) fn leak(g: &Arc<Goroutine>) {
    // SAFETY: called by the goroutine's home worker while it is parked.
    if let Some(body) = unsafe { g.task() }.take() {
        std::mem::forget(body);
    }
    g.sched.finish();
    g.shared.forget(g);
    g.shared.count_ended();
    with_local(|l| l.homed -= 1);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::runtime::Runtime;

    fn one_worker() -> Runtime {
        Runtime::builder().max_procs(1).build().unwrap()
    }

    fn header_address() -> usize {
        Arc::as_ptr(&current().expect("on a goroutine")) as usize
    }

    #[test]
    fn a_finished_goroutines_header_serves_the_next_one() {
        let (first, pooled, second) = one_worker().run(|| {
            let first = crate::go(header_address).join().unwrap();
            let pooled = with_local(|l| l.headers.len());
            let second = crate::go(header_address).join().unwrap();
            (first, pooled, second)
        });
        assert_eq!(pooled, Some(1));
        assert_eq!(first, second);
    }

    #[test]
    fn a_header_still_referenced_is_not_reused() {
        let (kept, kept_id, later) = one_worker().run(|| {
            let h = crate::go(|| current().expect("on a goroutine"));
            let kept_id = h.id();
            let kept = h.join().unwrap();
            (kept, kept_id, crate::go(header_address).join().unwrap())
        });
        assert_ne!(Arc::as_ptr(&kept) as usize, later);
        assert_eq!(kept.id(), kept_id);
        assert!(kept.sched.is_done());
    }

    #[test]
    fn waits_that_end_before_their_deadline_do_not_pile_up_timers() {
        let (rounds, pending) = one_worker().run(|| {
            // Buffered, so that the sends never park and every receive does, with a
            // deadline.
            let (ping, pong) = (crate::chan::<u32>(1), crate::chan::<u32>(1));
            let (rx, tx) = (ping.receiver(), pong.sender());
            let minute = std::time::Duration::from_secs(60);
            crate::go(move || {
                while let Ok(v) = rx.recv_timeout(minute) {
                    tx.send(v + 1).unwrap();
                }
            });
            let mut rounds = 0;
            for i in 0..5_000 {
                ping.send(i).unwrap();
                rounds += u32::from(pong.recv_timeout(minute) == Ok(i + 1));
            }
            let pending = with_local(|l| lock(&l.me().timers).len()).unwrap();
            (rounds, pending)
        });
        assert_eq!(rounds, 5_000);
        // 10,000 deadlines were set, each a minute away; all but the last two are stale.
        assert!(pending <= 128, "{pending} timers pending");
    }

    #[test]
    fn time_channels_dropped_before_firing_do_not_pile_up_timers() {
        let (won, pending) = one_worker().run(|| {
            let ch = crate::chan::<u32>(1);
            let mut won = 0;
            for i in 0..5_000 {
                ch.send(i).unwrap();
                won += crate::select! {
                    recv(&ch) -> v => u32::from(v == Some(i)),
                    recv(&crate::time::after(std::time::Duration::from_secs(60))) -> _ => 0,
                };
            }
            let pending = with_local(|l| lock(&l.me().timers).len()).unwrap();
            (won, pending)
        });
        assert_eq!(won, 5_000);
        assert!(pending <= 128, "{pending} timers pending");
    }
}
