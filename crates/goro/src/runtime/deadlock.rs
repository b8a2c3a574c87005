//! deadlock: Go's "all goroutines are asleep - deadlock!", for `run`.
//!
//! While `run` waits for its main goroutine it checks, every `CHECK_EVERY`, whether
//! anything could still wake any goroutine. The rule (false alarms are worse than a missed
//! deadlock, so every doubt counts as "something could still act"):
//!
//! 1. every goroutine of every live runtime is parked on a goro primitive — not running,
//!    not runnable (a goroutine stuck in a std lock or a syscall counts as running);
//! 2. no runtime has a live timer (a sleep, a deadline, `after`, `tick`, a context
//!    deadline): a timer will wake something. Timers that can no longer do anything (a
//!    stopped `Timer`, a tick nobody can receive, a finished park) do not count;
//! 3. no plain OS thread could still act. Plain threads are the hard part: a thread that
//!    was handed a `Chan` is invisible until it uses it. A thread counts as able to act while
//!    it is alive if it has touched goro (spawned a goroutine, blocked on a goro primitive,
//!    armed a timer), or was started after this `run` began (Linux's `/proc/self/task`
//!    lists them), or is running or in a timed sleep right now (its `/proc` state and
//!    system call: it will carry on by itself) — unless it is blocked right now, with no
//!    deadline, on a goro primitive, or is itself inside a `run`, or is a goro worker.
//!    Threads that existed before the run began, never touched goro and wait on something
//!    else (a test harness's own) do not hold the report back;
//! 4. all of the above holds over `CONFIRM` (checks every `CHECK_EVERY`), with no goroutine
//!    or blocked thread having parked or woken in between (their park counters unchanged).
//!
//! Then `run` panics with `all goroutines are asleep - deadlock!` and a dump. Nothing here
//! touches the hot paths: goroutines are inspected through the registry, and plain threads
//! register themselves only on their own slow paths.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::worker::lock;
use super::Shared;

/// How often a waiting `run` looks for a deadlock.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(100);
/// How long the all-asleep state must hold before it is reported.
const CONFIRM: Duration = Duration::from_millis(500);

/// What the detector knows about OS threads, by kernel thread id.
#[derive(Default)]
struct Threads {
    workers: HashSet<i32>,
    in_run: HashMap<i32, usize>,
    touched: HashSet<i32>,
    /// Threads blocked on a goro primitive with no deadline, with a count of such blocks.
    blocked: HashMap<i32, u64>,
}

static THREADS: Mutex<Option<Threads>> = Mutex::new(None);
static RUNTIMES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
/// Bumped whenever a plain thread blocks or wakes, so a confirmation sees it.
static THREAD_ACTIVITY: AtomicU64 = AtomicU64::new(0);

fn with_threads<R>(f: impl FnOnce(&mut Threads) -> R) -> R {
    f(lock(&THREADS).get_or_insert_with(Threads::default))
}

fn tid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

thread_local! {
    static TOUCHED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes a runtime visible to every `run`'s detector.
pub(crate) fn register_runtime(shared: &Arc<Shared>) {
    let mut all = lock(&RUNTIMES);
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(shared));
}

/// Called by each worker thread at start and exit.
pub(crate) fn worker_thread(started: bool) {
    let me = tid();
    with_threads(|t| {
        if started {
            t.workers.insert(me);
        } else {
            t.workers.remove(&me);
        }
    });
}

/// Records that a plain thread used goro (first time only; cheap afterwards).
pub(crate) fn touch() {
    if !TOUCHED.with(|c| c.replace(true)) {
        let me = tid();
        with_threads(|t| t.touched.insert(me));
    }
}

/// Marks a plain thread as blocked with no deadline on a goro primitive for the guard's
/// life.
pub(crate) struct Blocked(i32);

impl Blocked {
    pub(crate) fn new() -> Blocked {
        touch();
        let me = tid();
        THREAD_ACTIVITY.fetch_add(1, Ordering::SeqCst);
        with_threads(|t| *t.blocked.entry(me).or_insert(0) += 1);
        Blocked(me)
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        THREAD_ACTIVITY.fetch_add(1, Ordering::SeqCst);
        with_threads(|t| {
            if let Some(n) = t.blocked.get_mut(&self.0) {
                *n -= 1;
                if *n == 0 {
                    t.blocked.remove(&self.0);
                }
            }
        });
    }
}

/// Marks the calling thread as inside `run` for the guard's life.
pub(crate) struct InRun(i32);

impl InRun {
    pub(crate) fn new() -> InRun {
        touch();
        let me = tid();
        with_threads(|t| *t.in_run.entry(me).or_insert(0) += 1);
        InRun(me)
    }
}

impl Drop for InRun {
    fn drop(&mut self) {
        with_threads(|t| {
            if let Some(n) = t.in_run.get_mut(&self.0) {
                *n -= 1;
                if *n == 0 {
                    t.in_run.remove(&self.0);
                }
            }
        });
    }
}

/// Whether a thread is running, or sleeping with a timeout it set itself (`thread::sleep`):
/// either way it will go on by itself and may then use a channel it holds.
fn looks_busy(tid: i32) -> bool {
    let task = format!("/proc/self/task/{tid}");
    let Ok(stat) = std::fs::read_to_string(format!("{task}/stat")) else {
        return false;
    };
    // The state is the first field after the parenthesised command name.
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next());
    if state == Some("R") {
        return true;
    }
    let syscall = std::fs::read_to_string(format!("{task}/syscall")).ok();
    let number = syscall
        .as_deref()
        .and_then(|s| s.split_whitespace().next()?.parse().ok());
    matches!(
        number,
        Some(libc::SYS_nanosleep | libc::SYS_clock_nanosleep)
    )
}

/// The threads of this process now.
fn live_tids() -> Option<HashSet<i32>> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
    )
}

/// One `run`'s detector.
pub(crate) struct Detector {
    baseline: HashSet<i32>,
    /// The fingerprint of the first all-asleep check and how many checks confirmed it.
    pending: Option<(u64, Duration)>,
}

impl Detector {
    pub(crate) fn new() -> Detector {
        Detector {
            baseline: live_tids().unwrap_or_default(),
            pending: None,
        }
    }

    /// Called every `CHECK_EVERY` while `run` waits; true once a deadlock is confirmed.
    pub(crate) fn check(&mut self) -> bool {
        match asleep_fingerprint(&self.baseline) {
            None => {
                self.pending = None;
                false
            }
            Some(print) => match self.pending {
                Some((seen, waited)) if seen == print => {
                    let waited = waited + CHECK_EVERY;
                    self.pending = Some((seen, waited));
                    waited >= CONFIRM
                }
                _ => {
                    self.pending = Some((print, Duration::ZERO));
                    false
                }
            },
        }
    }
}

/// A fingerprint of the all-asleep state (sum of park counters and thread activity), or
/// `None` if something could still act.
fn asleep_fingerprint(baseline: &HashSet<i32>) -> Option<u64> {
    let runtimes: Vec<Arc<Shared>> = lock(&RUNTIMES).iter().filter_map(Weak::upgrade).collect();
    let mut print = THREAD_ACTIVITY.load(Ordering::SeqCst);
    for rt in &runtimes {
        if rt.workers.iter().any(|w| w.has_live_timer()) {
            return None;
        }
        // Every goroutine must be a started one, visible in a registry, and parked.
        let mut parked = 0;
        for w in rt.workers.iter() {
            let all_parked = w.registry.visit(|g| {
                if !g.sched.is_parked() {
                    return ControlFlow::Break(());
                }
                parked += 1;
                print = print
                    .wrapping_add(g.park_seq.load(Ordering::SeqCst))
                    .rotate_left(1);
                ControlFlow::Continue(())
            });
            if all_parked.is_break() {
                return None;
            }
        }
        if parked != rt.live() {
            return None;
        }
    }
    let live = live_tids()?;
    let could_act = with_threads(|t| {
        t.touched.retain(|tid| live.contains(tid));
        live.iter().any(|tid| {
            let plain = !t.workers.contains(tid) && !t.in_run.contains_key(tid);
            let may_act = t.touched.contains(tid) || !baseline.contains(tid) || looks_busy(*tid);
            plain && may_act && !t.blocked.contains_key(tid)
        })
    });
    (!could_act).then_some(print)
}

/// Every goroutine of every live runtime, for the SIGQUIT dump.
pub(crate) fn all_goroutines() -> Vec<super::GoroutineInfo> {
    let runtimes: Vec<Arc<Shared>> = lock(&RUNTIMES).iter().filter_map(Weak::upgrade).collect();
    runtimes.iter().flat_map(|rt| rt.dump()).collect()
}
