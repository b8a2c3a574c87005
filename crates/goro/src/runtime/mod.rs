//! The runtime: [`Runtime`] and its [`Builder`], [`JoinHandle`], [`GoroutineId`], and
//! introspection — [`dump`] with [`GoroutineInfo`], [`State`] and [`WaitReason`].
//!
//! A goroutine belongs to one runtime for life. [`go`] from a goroutine spawns
//! onto that goroutine's runtime, and from a plain thread onto the default runtime, which
//! starts on first use (with `GOMAXPROCS` workers) and lives until the process exits.
//!
//! ```
//! let rt = goro::runtime::Runtime::builder().max_procs(2).build().unwrap();
//! let id = rt.run(|| goro::current_id().unwrap());
//! println!("the main goroutine was {id}");
//! ```

// Inside: a `Runtime` is `max_procs` worker threads (see `worker`) sharing one `Shared`:
// the workers' queues, timers and registries, the idle/spinning bookkeeping and the
// shutdown flag. Goroutines (see `goroutine`) run on goro stacks (see `stack`) and wait
// through `crate::park`, which lands in `park_goroutine` here.

mod deadlock;
mod dump;
mod goroutine;
mod inbox;
mod join;
mod registry;
mod sched;
mod shutdown;
mod sigquit;
pub(crate) mod stack;
mod timer;
pub(crate) mod worker;

use std::panic::{self, Location};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Waker;
use std::time::Instant;

use crossbeam_utils::CachePadded;

pub use dump::{dump, GoroutineInfo, State, WaitReason};
pub use goroutine::GoroutineId;
pub use join::JoinHandle;

use goroutine::{Goroutine, Switch};
use join::Spawned;
use shutdown::RuntimeShutdown;
use timer::TimerAction;
pub(crate) use timer::TimerTarget;
use worker::{lock, with_current, with_local, WorkerShared};

/// Default virtual size of a goroutine stack.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// State shared by a runtime's workers and everything that reaches into them. Counters
/// written on hot paths sit on cache lines of their own, away from the read-mostly fields
/// and from the `Arc`'s reference count.
pub(crate) struct Shared {
    pub(crate) workers: Box<[WorkerShared]>,
    pub(crate) stack_size: usize,
    pub(crate) detect_deadlocks: bool,
    pub(crate) spinning: CachePadded<AtomicUsize>,
    idle: Mutex<Vec<usize>>,
    nidle: CachePadded<AtomicUsize>,
    pub(crate) shutdown: AtomicBool,
    /// Goroutines spawned and ended by threads that are not this runtime's workers (each
    /// worker counts its own, without contention, in `WorkerShared`).
    spawned_elsewhere: CachePadded<AtomicUsize>,
    ended_elsewhere: CachePadded<AtomicUsize>,
    observed: Mutex<dump::Observed>,
    epoch: Instant,
    pub(crate) spawn_rr: CachePadded<AtomicUsize>,
}

impl Shared {
    pub(crate) fn nanos_since_epoch(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// Wakes one sleeping worker if nobody is spinning (Go's rule for new stealable work).
    pub(crate) fn wake_idle(&self) {
        if self.spinning.load(Ordering::SeqCst) != 0 || self.nidle.load(Ordering::SeqCst) == 0 {
            return;
        }
        let idle = lock(&self.idle).last().copied();
        if let Some(i) = idle {
            self.workers[i].notify();
        }
    }

    pub(crate) fn idle_push(&self, i: usize) {
        let mut idle = lock(&self.idle);
        idle.push(i);
        self.nidle.store(idle.len(), Ordering::SeqCst);
    }

    pub(crate) fn idle_remove(&self, i: usize) {
        let mut idle = lock(&self.idle);
        idle.retain(|&w| w != i);
        self.nidle.store(idle.len(), Ordering::SeqCst);
    }

    /// Whether some worker has goroutines another could steal.
    pub(crate) fn stealable_work(&self) -> bool {
        self.workers.iter().any(WorkerShared::has_unstarted)
    }

    /// Drops a finished goroutine from its worker's registry.
    pub(crate) fn forget(&self, g: &Goroutine) {
        self.workers[g.home].registry.remove(g);
    }

    /// Counts a goroutine as gone: called before its `join` can return, so that
    /// `num_goroutine` no longer counts a goroutine whose result is out.
    pub(crate) fn count_ended(&self) {
        self.count(|w| &w.ended, &self.ended_elsewhere);
    }

    /// Counts an event on the calling worker's own counter, or on the shared one from any
    /// other thread.
    fn count(&self, mine: impl Fn(&WorkerShared) -> &AtomicUsize, elsewhere: &AtomicUsize) {
        let worker = with_local(|l| std::ptr::eq(Arc::as_ptr(&l.shared), self).then_some(l.index));
        match worker.flatten() {
            Some(i) => {
                let c = mine(&self.workers[i]);
                c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
            None => {
                elsewhere.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// How many goroutines exist (spawned and not yet finished or abandoned).
    pub(crate) fn live(&self) -> usize {
        let sum = |get: fn(&WorkerShared) -> usize| self.workers.iter().map(get).sum::<usize>();
        let spawned = sum(|w| w.spawned.load(Ordering::Relaxed))
            + self.spawned_elsewhere.load(Ordering::Relaxed);
        let ended =
            sum(|w| w.ended.load(Ordering::Relaxed)) + self.ended_elsewhere.load(Ordering::Relaxed);
        spawned.saturating_sub(ended)
    }

    fn spawn<F, T>(self: &Arc<Self>, f: F, at: &'static Location<'static>) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let id = GoroutineId::next();
        let spawned = Arc::new(Spawned::new(f, id, at));
        let handle = JoinHandle {
            id,
            spawned: spawned.clone(),
        };
        if !on_goroutine() {
            deadlock::touch();
        }
        self.count(|w| &w.spawned, &self.spawned_elsewhere);
        if self.shutdown.load(Ordering::Acquire) {
            worker::abandon(self, spawned);
        } else {
            worker::spawn(self, spawned);
        }
        handle
    }

    /// Every goroutine that has started, every unstarted one waiting in a stealable queue,
    /// and the one in the calling worker's next slot (next slots of other workers are not
    /// visible to this thread).
    pub(crate) fn dump(&self) -> Vec<GoroutineInfo> {
        let mut started = Vec::with_capacity(self.live());
        let mut unstarted: Vec<_> = worker::unstarted_in_next(self).into_iter().collect();
        for w in self.workers.iter() {
            started.extend(w.registry.snapshot());
            unstarted.extend(w.unstarted_snapshot());
        }
        let mut all = lock(&self.observed).describe(&started, &unstarted);
        all.sort_by_key(|g| g.id);
        all.dedup_by_key(|g| g.id);
        all
    }
}

/// A goroutine runtime: `max_procs` worker threads running goroutines M:N.
///
/// Most programs never build one: [`go`] and [`run`] use the default
/// runtime. Build your own to choose the worker count or stack size, or to shut goroutines
/// down deterministically: dropping a `Runtime` wakes every goroutine still parked so that
/// it unwinds (its destructors run; its `join` reports an error), drops goroutines that
/// never started, and joins the workers. A goroutine that never blocks or yields keeps the
/// drop waiting, as a thread would.
///
/// ```
/// let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
/// let sum = rt.run(|| {
///     let hs: Vec<_> = (0..10u64).map(|i| goro::go(move || i * i)).collect();
///     hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
/// });
/// assert_eq!(sum, 285);
/// assert_eq!(rt.max_procs(), 2);
/// ```
pub struct Runtime {
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Runtime {
    /// A builder with the defaults: `GOMAXPROCS` workers (else the available parallelism),
    /// 256 KiB stacks, deadlock detection on.
    ///
    /// ```
    /// let rt = goro::Runtime::builder().build().unwrap();
    /// assert!(rt.max_procs() >= 1);
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Spawns a goroutine on this runtime.
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
    /// assert_eq!(rt.go(|| 1 + 1).join().unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn go<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.shared.spawn(f, Location::caller())
    }

    /// Runs `f` as a goroutine on this runtime, blocks the calling thread until it returns,
    /// and re-raises its panic.
    ///
    /// # Panics
    /// When called from inside a goroutine (blocking a worker thread on its own runtime
    /// could deadlock it): use `go(f).join()` there instead.
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
    /// assert_eq!(rt.run(|| "hello"), "hello");
    /// ```
    #[track_caller]
    pub fn run<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        assert!(
            !on_goroutine(),
            "goro::run called inside a goroutine: it blocks the calling OS thread, which is a \
             worker here; use goro::go(f).join() inside goroutines instead"
        );
        let _in_run = deadlock::InRun::new();
        // The detector's view of which threads existed must predate the main goroutine.
        let mut detector = self.shared.detect_deadlocks.then(deadlock::Detector::new);
        let handle = self.shared.spawn(f, Location::caller());
        let outcome = handle
            .spawned
            .join_state()
            .wait_or(deadlock::CHECK_EVERY, || {
                detector.as_mut().is_some_and(deadlock::Detector::check)
            });
        match outcome {
            Some(Ok(v)) => v,
            Some(Err(payload)) => panic::resume_unwind(payload),
            None => panic!("{}", self.deadlock_report()),
        }
    }

    /// Go's deadlock message followed by a dump of this runtime's goroutines.
    fn deadlock_report(&self) -> String {
        let mut report = String::from("all goroutines are asleep - deadlock!\n");
        for g in self.shared.dump() {
            report.push_str(&format!("\n{g}"));
        }
        report
    }

    /// The number of worker threads (Go's `runtime.GOMAXPROCS(0)`).
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(3).build().unwrap();
    /// assert_eq!(rt.max_procs(), 3);
    /// ```
    pub fn max_procs(&self) -> usize {
        self.shared.workers.len()
    }

    /// The number of goroutines that exist now: running, runnable or waiting.
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
    /// rt.go(|| ()).join().unwrap();
    /// assert_eq!(rt.num_goroutine(), 0);
    /// ```
    pub fn num_goroutine(&self) -> usize {
        self.shared.live()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let own = with_current(|g| g.is_some_and(|g| Arc::ptr_eq(&g.shared, &self.shared)));
        assert!(
            !own,
            "a goro::Runtime was dropped from inside one of its own goroutines; drop it from \
             the thread that built it"
        );
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for w in self.shared.workers.iter() {
            w.notify();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("max_procs", &self.max_procs())
            .field("num_goroutine", &self.num_goroutine())
            .finish()
    }
}

/// Configures and starts a [`Runtime`].
///
/// ```
/// let rt = goro::Runtime::builder()
///     .max_procs(2)
///     .stack_size(128 * 1024)
///     .detect_deadlocks(false)
///     .build()
///     .unwrap();
/// assert_eq!(rt.max_procs(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    max_procs: Option<usize>,
    stack_size: usize,
    detect_deadlocks: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            max_procs: None,
            stack_size: DEFAULT_STACK_SIZE,
            detect_deadlocks: true,
        }
    }
}

impl Builder {
    /// The number of worker threads (Go's GOMAXPROCS).
    ///
    /// # Panics
    /// If `n` is 0.
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
    /// assert_eq!(rt.max_procs(), 1);
    /// ```
    pub fn max_procs(mut self, n: usize) -> Self {
        assert!(
            n >= 1,
            "Builder::max_procs(0): a runtime needs at least one worker thread; pass 1 or more"
        );
        self.max_procs = Some(n);
        self
    }

    /// The virtual size of each goroutine stack, in bytes (default 256 KiB). Memory is
    /// committed only as a stack is touched; a guard page below each stack turns an
    /// overflow into the message `goroutine N overflowed its stack (S KiB)` and an abort.
    ///
    /// ```
    /// let rt = goro::Runtime::builder().stack_size(1 << 20).build().unwrap();
    /// rt.run(|| {
    ///     let big = [1u8; 512 * 1024];
    ///     assert_eq!(std::hint::black_box(&big)[0], 1);
    /// });
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Whether [`Runtime::run`] reports a deadlock instead of hanging (default on; see
    /// [`run`] for the exact rule).
    ///
    /// ```
    /// let rt = goro::Runtime::builder().detect_deadlocks(false).build().unwrap();
    /// assert_eq!(rt.run(|| 5), 5);
    /// ```
    pub fn detect_deadlocks(mut self, on: bool) -> Self {
        self.detect_deadlocks = on;
        self
    }

    /// Starts the worker threads.
    ///
    /// ```
    /// let rt = goro::Runtime::builder().max_procs(2).build()?;
    /// assert_eq!(rt.run(|| 2 + 2), 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(self) -> std::io::Result<Runtime> {
        let n = self.max_procs.unwrap_or_else(default_max_procs);
        let shared = Arc::new(Shared {
            workers: (0..n).map(|_| WorkerShared::new()).collect(),
            stack_size: self.stack_size,
            detect_deadlocks: self.detect_deadlocks,
            spinning: CachePadded::new(AtomicUsize::new(0)),
            idle: Mutex::new(Vec::with_capacity(n)),
            nidle: CachePadded::new(AtomicUsize::new(0)),
            shutdown: AtomicBool::new(false),
            spawned_elsewhere: CachePadded::new(AtomicUsize::new(0)),
            ended_elsewhere: CachePadded::new(AtomicUsize::new(0)),
            observed: Mutex::new(dump::Observed::default()),
            epoch: Instant::now(),
            spawn_rr: CachePadded::new(AtomicUsize::new(0)),
        });
        deadlock::register_runtime(&shared);
        sigquit::install();
        let mut rt = Runtime {
            shared: shared.clone(),
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            let shared = shared.clone();
            let t = std::thread::Builder::new()
                .name(format!("goro-worker-{i}"))
                .spawn(move || worker::worker_main(shared, i))?;
            rt.threads.push(t);
        }
        Ok(rt)
    }
}

/// `GOMAXPROCS` when it holds a positive integer, else the available parallelism.
fn default_max_procs() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n >= 1)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

static DEFAULT: OnceLock<Runtime> = OnceLock::new();

/// The process-wide default runtime, started on first use.
pub(crate) fn default_runtime() -> &'static Runtime {
    DEFAULT.get_or_init(|| {
        Builder::default()
            .build()
            .expect("goro: cannot start the default runtime's worker threads")
    })
}

/// The runtime of the running goroutine, else the default one.
pub(crate) fn current_shared() -> Arc<Shared> {
    with_current(|g| g.map(|g| g.shared.clone()))
        .unwrap_or_else(|| default_runtime().shared.clone())
}

/// Spawns a goroutine: a function running on its own small stack, multiplexed with other
/// goroutines over the runtime's worker threads (Go's `go f()`).
///
/// From a goroutine it spawns onto that goroutine's runtime; from a plain thread onto the
/// default runtime, which starts on first use. A panic inside the goroutine unwinds that
/// goroutine only and is delivered to [`JoinHandle::join`]. Dropping the handle detaches it.
///
/// ```
/// let ch = goro::chan::<i32>(0);
/// let tx = ch.sender();
/// goro::go(move || tx.send(42).unwrap());
/// assert_eq!(ch.recv(), Some(42));
/// ```
#[track_caller]
pub fn go<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let at = Location::caller();
    let mut f = Some(f);
    // Spawn through the running goroutine's runtime without cloning its `Arc`.
    let spawned = with_current(|g| g.map(|g| g.shared.spawn(f.take().expect("taken once"), at)));
    spawned.unwrap_or_else(|| {
        let f = f.take().expect("taken once");
        default_runtime().shared.spawn(f, at)
    })
}

/// Runs `f` as a goroutine on the default runtime, blocks the calling thread until it
/// returns, and re-raises its panic. This is what `#[goro::main]` and `#[goro::test]` do.
///
/// # Deadlocks
/// Where Go would die with `fatal error: all goroutines are asleep - deadlock!`, `run`
/// panics with a message that starts `all goroutines are asleep - deadlock!` followed by a
/// dump of every goroutine (`goroutine 7 [chan receive]: spawned at src/main.rs:12:5`). It
/// reports only when all of these hold for 500 ms, with nothing having parked or woken in
/// between:
/// - every goroutine of every runtime is parked on a goro primitive (one blocked in a std
///   lock or a system call counts as running);
/// - no timer that can still fire is pending anywhere (sleeps, timeouts, `after`, `tick`,
///   context deadlines; a stopped `Timer`, a tick nobody can receive and the deadline of a
///   context already done do not count);
/// - no plain OS thread could still act. A thread counts as able to act while it is alive
///   if it has used goro (spawned, blocked on a goro primitive, armed a timer), or was
///   started after this `run` began, or is running or in `thread::sleep` right now (Linux's
///   `/proc/self/task` tells) — unless it is blocked right now without a deadline on a goro
///   primitive, or is itself inside `run`. A thread that existed before the run began,
///   never used goro and is blocked on something else (a std lock, channel or condition
///   variable, I/O) is assumed not to act: if such a thread holds a goro channel and will
///   send on it later, build the runtime with
///   [`Builder::detect_deadlocks(false)`](crate::Builder::detect_deadlocks).
///
/// # Panics
/// Called from inside a goroutine, with a message saying so (it would block a worker);
/// on a deadlock, as above; and with the main goroutine's own panic.
///
/// ```
/// let v = goro::run(|| {
///     let h = goro::go(|| 20);
///     h.join().unwrap() + 22
/// });
/// assert_eq!(v, 42);
/// ```
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    default_runtime().run(f)
}

/// Yields the worker to other goroutines (Go's `runtime.Gosched()`); the caller is queued
/// behind every goroutine that is ready now. On a plain thread it yields the thread.
///
/// ```
/// let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
/// let order = rt.run(|| {
///     let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
///     let l = log.clone();
///     let h = goro::go(move || l.lock().unwrap().push("child"));
///     goro::yield_now(); // lets the child run on this single worker
///     log.lock().unwrap().push("parent");
///     h.join().unwrap();
///     std::sync::Arc::try_unwrap(log).unwrap().into_inner().unwrap()
/// });
/// assert_eq!(order, ["child", "parent"]);
/// ```
pub fn yield_now() {
    let yielded = with_current(|g| match g {
        // SAFETY: called by the running goroutine itself.
        Some(g) => unsafe {
            g.suspend(Switch::Yield);
            true
        },
        None => false,
    });
    if !yielded {
        std::thread::yield_now();
    }
}

/// The number of worker threads of the current runtime (Go's `runtime.GOMAXPROCS(0)`).
///
/// ```
/// assert!(goro::max_procs() >= 1);
/// ```
pub fn max_procs() -> usize {
    current_shared().workers.len()
}

/// The number of goroutines that exist in the current runtime (Go's
/// `runtime.NumGoroutine()`), counting the caller if it is one.
///
/// ```
/// let n = goro::run(goro::num_goroutine);
/// assert!(n >= 1);
/// ```
pub fn num_goroutine() -> usize {
    current_shared().live()
}

/// The id of the running goroutine; `None` on a plain OS thread.
///
/// ```
/// assert_eq!(goro::current_id(), None);
/// assert!(goro::run(goro::current_id).is_some());
/// ```
pub fn current_id() -> Option<GoroutineId> {
    with_current(|g| g.map(Goroutine::id))
}

/// Marks a plain thread as blocked on a goro primitive with no deadline, for the deadlock
/// detector, for as long as the guard lives.
pub(crate) fn thread_blocked() -> impl Drop {
    deadlock::Blocked::new()
}

/// Records that a plain thread used goro, for the deadlock detector.
pub(crate) fn thread_touched() {
    deadlock::touch();
}

/// Whether the caller runs on a goroutine.
pub(crate) fn on_goroutine() -> bool {
    with_current(|g| g.is_some())
}

/// The waker of the running goroutine.
pub(crate) fn current_goroutine_waker() -> Option<Waker> {
    worker::current().map(Waker::from)
}

/// A cheap monotonic timestamp in nanoseconds (tick resolution), for dumps.
pub(crate) fn coarse_now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC_COARSE exists on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Parks the running goroutine until it is woken or `deadline` passes (see `crate::park`).
/// During runtime shutdown it unwinds instead, so the goroutine's destructors run.
pub(crate) fn park_goroutine(reason: &WaitReason, deadline: Option<Instant>) {
    with_current(|g| {
        let g = g.expect("park_goroutine called off a goroutine");
        if g.shared.shutdown.load(Ordering::Acquire) && !std::thread::panicking() {
            panic::resume_unwind(Box::new(RuntimeShutdown));
        }
        let seq = g.park_seq.load(Ordering::Relaxed) + 1;
        g.park_seq.store(seq, Ordering::Release);
        g.set_waiting(reason, coarse_now());
        if let Some(d) = deadline {
            let me = worker::current().expect("running");
            let home = &g.shared.workers[g.home];
            home.add_timer(&g.shared, d, TimerAction::Park(me, seq));
        }
        if !g.sched.take_notification() {
            // SAFETY: called by the running goroutine itself.
            unsafe { g.suspend(Switch::Park) };
        }
        g.park_seq.store(seq + 1, Ordering::Release);
        if g.shared.shutdown.load(Ordering::Acquire) && !std::thread::panicking() {
            panic::resume_unwind(Box::new(RuntimeShutdown));
        }
    });
}

/// Arms a timer that fires arming number `arming` of `target` at `when`: on the calling
/// worker, or on a worker of the default runtime from a plain thread.
pub(crate) fn add_timer(when: Instant, target: Arc<dyn TimerTarget>, arming: u64) {
    let (shared, index) = with_local(|l| (l.shared.clone(), l.index)).unwrap_or_else(|| {
        deadlock::touch();
        let shared = default_runtime().shared.clone();
        let i = shared.spawn_rr.fetch_add(1, Ordering::Relaxed) % shared.workers.len();
        (shared, i)
    });
    shared.workers[index].add_timer(&shared, when, TimerAction::Target(target, arming));
}
