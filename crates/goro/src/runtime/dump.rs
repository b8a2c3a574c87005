//! dump: what every live goroutine is doing, for `runtime::dump`, SIGQUIT and the deadlock
//! report. Reads the registry and each goroutine's published status; never stops anyone,
//! so a dump is a consistent view of each goroutine, not of all of them at one instant.
//! A waiting goroutine's time is exact (it reads the clock when it parks); a running or
//! runnable one's is measured from the first dump that saw it in that state.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::coarse_now;
use super::goroutine::{Goroutine, GoroutineId};
use super::join::Unstarted;

/// Why a goroutine is waiting; `Display` prints Go's words.
///
/// ```
/// use goro::runtime::WaitReason;
/// assert_eq!(WaitReason::ChanRecv.to_string(), "chan receive");
/// assert_eq!(WaitReason::Other("custom").to_string(), "custom");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitReason {
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked receiving from a channel.
    ChanRecv,
    /// Blocked in `select!` or `Select`.
    Select,
    /// In `time::sleep`.
    Sleep,
    /// Waiting for a `sync::Mutex`.
    Mutex,
    /// Waiting for a `sync::RwLock`.
    RwLock,
    /// In `WaitGroup::wait`.
    WaitGroup,
    /// In `Cond::wait`.
    Cond,
    /// Waiting for a `Semaphore` permit.
    Semaphore,
    /// In `JoinHandle::join`.
    Join,
    /// Waiting for I/O.
    Io,
    /// Anything else, in the waiter's words.
    Other(&'static str),
}

impl WaitReason {
    /// Go's words for the reason.
    fn as_str(&self) -> &'static str {
        match self {
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan receive",
            WaitReason::Select => "select",
            WaitReason::Sleep => "sleep",
            WaitReason::Mutex => "sync.Mutex.Lock",
            WaitReason::RwLock => "sync.RWMutex.Lock",
            WaitReason::WaitGroup => "sync.WaitGroup.Wait",
            WaitReason::Cond => "sync.Cond.Wait",
            WaitReason::Semaphore => "semacquire",
            WaitReason::Join => "join",
            WaitReason::Io => "IO wait",
            WaitReason::Other(s) => s,
        }
    }

    /// A tag and, for `Other`, its text: how a goroutine publishes its reason atomically.
    pub(crate) fn encode(self) -> (u8, &'static str) {
        let tag = match self {
            WaitReason::ChanSend => 0,
            WaitReason::ChanRecv => 1,
            WaitReason::Select => 2,
            WaitReason::Sleep => 3,
            WaitReason::Mutex => 4,
            WaitReason::RwLock => 5,
            WaitReason::WaitGroup => 6,
            WaitReason::Cond => 7,
            WaitReason::Semaphore => 8,
            WaitReason::Join => 9,
            WaitReason::Io => 10,
            WaitReason::Other(s) => return (11, s),
        };
        (tag, "")
    }

    pub(crate) fn decode(tag: u8, text: &'static str) -> WaitReason {
        match tag {
            0 => WaitReason::ChanSend,
            1 => WaitReason::ChanRecv,
            2 => WaitReason::Select,
            3 => WaitReason::Sleep,
            4 => WaitReason::Mutex,
            5 => WaitReason::RwLock,
            6 => WaitReason::WaitGroup,
            7 => WaitReason::Cond,
            8 => WaitReason::Semaphore,
            9 => WaitReason::Join,
            10 => WaitReason::Io,
            _ => WaitReason::Other(text),
        }
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a goroutine is doing.
///
/// ```
/// use goro::runtime::{State, WaitReason};
/// let s = State::Waiting(WaitReason::Sleep);
/// assert_eq!(s.to_string(), "sleep");
/// assert_eq!(State::Running.to_string(), "running");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Executing on a worker.
    Running,
    /// Ready, queued for a worker.
    Runnable,
    /// Parked until something wakes it.
    Waiting(WaitReason),
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Running => f.write_str("running"),
            State::Runnable => f.write_str("runnable"),
            State::Waiting(r) => r.fmt(f),
        }
    }
}

/// One goroutine in a [`dump`].
///
/// `Display` reads like Go's traceback header, with the time in the state once it is a
/// second or more, and a mark on goroutines that have run 10 ms or more without blocking
/// or yielding (goro does not preempt: such a goroutine holds its worker):
///
/// ```
/// let info = goro::runtime::GoroutineInfo {
///     id: goro::go(|| ()).id(),
///     state: goro::runtime::State::Waiting(goro::runtime::WaitReason::ChanRecv),
///     spawned_at: std::panic::Location::caller(),
///     since: std::time::Duration::from_secs(3),
/// };
/// let text = info.to_string();
/// assert!(text.starts_with(&format!("goroutine {} [chan receive, 3s]: spawned at ", info.id)));
/// ```
#[derive(Clone, Debug)]
pub struct GoroutineInfo {
    /// Its id.
    pub id: GoroutineId,
    /// What it is doing.
    pub state: State,
    /// Where `go` was called for it.
    pub spawned_at: &'static Location<'static>,
    /// How long it has been in `state`.
    pub since: Duration,
}

/// How long a goroutine may run without blocking or yielding before dumps point it out.
const LONG_RUN: Duration = Duration::from_millis(10);

impl fmt::Display for GoroutineInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goroutine {} [{}", self.id, self.state)?;
        let secs = self.since.as_secs();
        match self.state {
            State::Running if self.since >= LONG_RUN => write!(
                f,
                ", {} ms without yielding — add goro::yield_now() to long loops",
                self.since.as_millis()
            )?,
            State::Waiting(_) if secs >= 60 => write!(f, ", {} minutes", secs / 60)?,
            State::Waiting(_) if secs >= 1 => write!(f, ", {secs}s")?,
            _ => {}
        }
        write!(f, "]: spawned at {}", self.spawned_at)
    }
}

/// Every live goroutine of the current goroutine's runtime, or of the default runtime
/// from a plain thread, ordered by id.
///
/// The dump does not stop the world, so it is a snapshot of each goroutine in turn. Every
/// goroutine is in it, started or not, with one exception: a goroutine that a goroutine on
/// *another* worker has just spawned, and that waits to start in that worker's next slot,
/// appears only once it starts or moves to the worker's queue. Goroutines spawned by the
/// caller itself are always listed.
///
/// ```
/// let (tx, rx) = (goro::chan::<()>(0), ());
/// let _ = rx;
/// let rx = tx.receiver();
/// let h = goro::go(move || rx.recv());
/// // wait until it parks
/// while !goro::runtime::dump().iter().any(|g| g.id == h.id()
///     && g.state == goro::runtime::State::Waiting(goro::runtime::WaitReason::ChanRecv)) {
///     std::thread::yield_now();
/// }
/// drop(tx);
/// assert_eq!(h.join().unwrap(), None);
/// ```
pub fn dump() -> Vec<GoroutineInfo> {
    super::current_shared().dump()
}

/// When a dump first saw each goroutine in its current state: goroutines do not read the
/// clock when they are resumed or queued (it would cost more than the switch), so the time
/// a goroutine has been running or runnable is measured from the first dump that saw it so.
#[derive(Default)]
pub(crate) struct Observed {
    /// Goroutine id → (its switch counters, `coarse_now()` when first seen with them).
    seen: HashMap<u64, ((u64, u64), u64)>,
}

impl Observed {
    /// Describes every goroutine in `started` and `unstarted`, and forgets goroutines not
    /// among them.
    pub(crate) fn describe(
        &mut self,
        started: &[Arc<Goroutine>],
        unstarted: &[Unstarted],
    ) -> Vec<GoroutineInfo> {
        let now = coarse_now();
        let mut seen = HashMap::with_capacity(started.len() + unstarted.len());
        let mut first_seen = |id: GoroutineId, switches: (u64, u64)| {
            let first = match self.seen.get(&id.as_u64()) {
                Some(&(s, at)) if s == switches => at,
                _ => now,
            };
            seen.insert(id.as_u64(), (switches, first));
            first
        };
        let mut infos: Vec<GoroutineInfo> = started
            .iter()
            .map(|g| info(g, first_seen(g.id(), g.switches()), now))
            .collect();
        infos.extend(unstarted.iter().map(|body| GoroutineInfo {
            id: body.id(),
            state: State::Runnable,
            spawned_at: body.spawned_at(),
            since: Duration::from_nanos(now.saturating_sub(first_seen(body.id(), (0, 0)))),
        }));
        self.seen = seen;
        infos
    }
}

/// Describes one goroutine; `first_seen` is when dumps first saw it in this state.
fn info(g: &Goroutine, first_seen: u64, now: u64) -> GoroutineInfo {
    let (reason, parked_at) = g.wait_status();
    let (state, since) = if g.sched.is_parked() {
        (State::Waiting(reason), parked_at)
    } else if g.on_cpu.load(Ordering::Relaxed) {
        (State::Running, first_seen)
    } else {
        (State::Runnable, first_seen)
    };
    GoroutineInfo {
        id: g.id(),
        state,
        spawned_at: g.spawned_at,
        since: Duration::from_nanos(now.saturating_sub(since)),
    }
}
