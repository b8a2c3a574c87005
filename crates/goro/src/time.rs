//! time: sleeping and Go's time channels (`after`, `tick`, `Timer`, `Ticker`).
//!
//! ```
//! use std::time::Duration;
//!
//! let ticker = goro::time::Ticker::new(Duration::from_millis(1));
//! let give_up = goro::time::after(Duration::from_secs(10));
//! let mut ticks = 0;
//! while ticks < 3 {
//!     goro::select! {
//!         recv(ticker.receiver()) -> _ => ticks += 1,
//!         recv(&give_up) -> _ => panic!("the ticker stopped ticking"),
//!     }
//! }
//! assert_eq!(ticks, 3);
//! ```
//!
//! Every wait here is a timer on a worker (see `runtime::timer`); a plain thread that
//! sleeps uses the OS. A time channel is a capacity-1 channel with a phantom sending handle
//! (it never closes) fed by a timer through `TimerShared`: when the timer fires it puts the
//! current `Instant` into the channel if there is room, and a ticker re-arms itself.
//!
//! Invariants (Go 1.23 semantics): worker timers are not cancelled when stopped, so each
//! timer entry carries the generation it was armed for, and a firing whose generation is
//! stale does nothing (the entry is also dropped at the worker's next prune, see
//! `runtime::timer`). `stop` and `reset` bump the generation and drain the channel under
//! the timer's lock, so once they return no value from before the call can be received.
//! Lock order: the timer's lock, then the channel's.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::chan::core::{wake, Core};
use crate::chan::{never, Receiver, TrySendError};
use crate::park::Waiter;
use crate::runtime::worker::lock;
use crate::runtime::{self, TimerTarget, WaitReason};

/// The longest span `sleep` waits at once: a sleep whose end is past what `Instant` holds
/// waits span after span, forever.
const LONGEST_SLEEP_SPAN: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Pauses the current goroutine for at least `d` (Go's `time.Sleep`); other goroutines run
/// on its worker meanwhile. On a plain thread it sleeps the thread. Any duration is
/// accepted: one whose end `Instant` cannot represent (such as `Duration::MAX`) sleeps
/// forever, and like every sleep it is never taken for a deadlock.
///
/// ```
/// let t = std::time::Instant::now();
/// goro::run(|| goro::time::sleep(std::time::Duration::from_millis(20)));
/// assert!(t.elapsed() >= std::time::Duration::from_millis(20));
/// ```
pub fn sleep(d: Duration) {
    let waiter = Waiter::current();
    let sleep_until = |deadline| {
        let completed = waiter.wait(WaitReason::Sleep, Some(deadline));
        debug_assert!(completed.is_none(), "nobody can complete a sleep");
    };
    match Instant::now().checked_add(d) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            sleep_until(Instant::now() + LONGEST_SLEEP_SPAN);
        },
    }
}

/// A receiver that gets the current time once, after `d`, and is never ready again (Go's
/// `time.After`). Handy as a timeout arm in [`select!`](crate::select!).
///
/// As in Go 1.23, dropping the receiver early is fine, also in a loop: the pending timer
/// can no longer do anything, and the worker drops such timers whenever its timer heap has
/// doubled, so memory follows the timers still pending, not every `after` ever made.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let fired = goro::time::after(Duration::from_millis(10)).recv().unwrap();
/// assert!(fired >= start + Duration::from_millis(10));
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (rx, shared) = TimerShared::new();
    shared.arm(d, Duration::ZERO);
    rx
}

/// A receiver that gets the current time every `d` (Go's `time.Tick`). It holds at most one
/// pending tick: ticks that find it full are dropped, so a slow receiver does not build up a
/// backlog. The ticking stops once the receiver is dropped. `d == 0` returns
/// [`never()`].
///
/// ```
/// use std::time::Duration;
/// let ticks = goro::time::tick(Duration::from_millis(2));
/// let a = ticks.recv().unwrap();
/// let b = ticks.recv().unwrap();
/// assert!(b > a);
/// assert!(goro::time::tick(Duration::ZERO).try_recv().is_err()); // never ready
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    if d.is_zero() {
        return never();
    }
    let (rx, shared) = TimerShared::new();
    shared.arm(d, d);
    rx
}

/// The state a time channel's timer firings share.
struct TimerShared {
    /// The channel, reached without a counted handle: its phantom sender keeps it open.
    core: Arc<Core<Instant>>,
    state: Mutex<TimerState>,
}

struct TimerState {
    /// Bumped by every `stop`/`reset`; a firing armed for another generation is stale.
    generation: u64,
    /// A firing of the current generation is pending.
    armed: bool,
    /// Zero for a one-shot timer, else the ticker's period.
    period: Duration,
    /// When the pending firing is due; `None` before the first arming, and when that is
    /// beyond what `Instant` holds.
    next: Option<Instant>,
}

impl TimerShared {
    /// A time channel and its timer state, not armed.
    fn new() -> (Receiver<Instant>, Arc<TimerShared>) {
        let core = Arc::new(Core::new(1, 1, 1));
        let shared = Arc::new(TimerShared {
            core: core.clone(),
            state: Mutex::new(TimerState {
                generation: 0,
                armed: false,
                period: Duration::ZERO,
                next: None,
            }),
        });
        (Receiver::from_core(core), shared)
    }

    /// Starts a new generation: the pending firing (if any) goes stale and a value not yet
    /// received is drained. Returns whether the timer was still pending in Go's sense
    /// (armed, or fired with the value not received).
    fn invalidate(&self, st: &mut TimerState) -> bool {
        st.generation += 1;
        let armed = std::mem::replace(&mut st.armed, false);
        let drained = self.core.try_recv().is_ok();
        armed || drained
    }

    /// Starts a new generation that fires after `d`, then every `period` (zero: once).
    /// Returns what `invalidate` returned.
    fn arm(self: &Arc<Self>, d: Duration, period: Duration) -> bool {
        let mut st = lock(&self.state);
        let was_pending = self.invalidate(&mut st);
        st.period = period;
        st.armed = true;
        // Beyond what `Instant` holds: pending forever, never fires.
        st.next = Instant::now().checked_add(d);
        let (next, generation) = (st.next, st.generation);
        drop(st);
        if let Some(when) = next {
            runtime::add_timer(when, self.clone(), generation);
        }
        was_pending
    }

    /// Stops the timer; see `invalidate`.
    fn stop(&self) -> bool {
        let mut st = lock(&self.state);
        self.invalidate(&mut st)
    }
}

/// A firing is for one generation (the timer entry's arming number) and does nothing once
/// `stop` or `reset` has started another.
impl TimerTarget for TimerShared {
    fn is_live(&self, generation: u64) -> bool {
        let st = lock(&self.state);
        st.generation == generation && st.armed && self.core.has_receivers()
    }

    fn fire(self: Arc<Self>, generation: u64) {
        let mut st = lock(&self.state);
        if st.generation != generation || !st.armed {
            return;
        }
        let now = Instant::now();
        // Send under the state lock (so a concurrent stop/reset sees the value and drains
        // it), but wake the receiver only once it is released.
        let receiver = match self.core.offer(now) {
            Ok(w) => w,
            Err(TrySendError::Full(_)) => None,
            Err(TrySendError::Closed(_)) => {
                // The receiver is gone: nothing more to do.
                st.armed = false;
                return;
            }
        };
        let next = if st.period.is_zero() {
            None
        } else {
            // The next tick on the original schedule, skipping the ticks already missed.
            let p = st.period.as_nanos();
            st.next.and_then(|due| {
                let late = now.saturating_duration_since(due).as_nanos();
                u64::try_from((late / p + 1) * p)
                    .ok()
                    .and_then(|n| due.checked_add(Duration::from_nanos(n)))
            })
        };
        st.next = next;
        st.armed = next.is_some();
        drop(st);
        wake(receiver);
        if let Some(next) = next {
            runtime::add_timer(next, self, generation);
        }
    }
}

/// A single event in the future (Go's `time.Timer`): after its duration, the current time
/// is put into its [`receiver`](Timer::receiver).
///
/// Go 1.23 semantics: after [`stop`](Timer::stop) or [`reset`](Timer::reset) returns, no
/// value from before the call can be received.
///
/// ```
/// use std::time::Duration;
/// let t = goro::time::Timer::new(Duration::from_millis(5));
/// let fired = goro::select! {
///     recv(t.receiver()) -> _ => true,
///     recv(&goro::time::after(Duration::from_secs(10))) -> _ => false,
/// };
/// assert!(fired);
/// ```
pub struct Timer {
    rx: Receiver<Instant>,
    shared: Arc<TimerShared>,
}

impl Timer {
    /// A timer that fires once, after `d`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Timer::new(Duration::from_millis(1));
    /// assert!(t.receiver().recv().is_some());
    /// ```
    pub fn new(d: Duration) -> Timer {
        let (rx, shared) = TimerShared::new();
        shared.arm(d, Duration::ZERO);
        Timer { rx, shared }
    }

    /// The channel the time is delivered on.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let start = Instant::now();
    /// let t = goro::time::Timer::new(Duration::from_millis(5));
    /// let at = t.receiver().recv().unwrap();
    /// assert!(at >= start + Duration::from_millis(5));
    /// ```
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the timer. Returns `true` if this call stopped it before its value was
    /// received, `false` if it had already been stopped or its value received. Afterwards
    /// nothing is received from it until a [`reset`](Timer::reset).
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Timer::new(Duration::from_secs(60));
    /// assert!(t.stop());
    /// assert!(!t.stop());
    /// assert!(t.receiver().try_recv().is_err());
    /// ```
    pub fn stop(&self) -> bool {
        self.shared.stop()
    }

    /// Re-arms the timer to fire after `d`, discarding any pending value. Returns what
    /// [`stop`](Timer::stop) would have returned.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Timer::new(Duration::from_millis(1));
    /// t.receiver().recv().unwrap();
    /// assert!(!t.reset(Duration::from_millis(1))); // it had fired and been received
    /// assert!(t.receiver().recv().is_some()); // fires again
    /// ```
    pub fn reset(&self, d: Duration) -> bool {
        self.shared.arm(d, Duration::ZERO)
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let armed = lock(&self.shared.state).armed;
        f.debug_struct("Timer").field("armed", &armed).finish()
    }
}

/// Delivers the current time every period (Go's `time.Ticker`). Holds at most one pending
/// tick; ticks that find it full are dropped.
///
/// Go 1.23 semantics: after [`stop`](Ticker::stop) or [`reset`](Ticker::reset) returns, no
/// tick from before the call can be received. Dropping the ticker stops it.
///
/// ```
/// use std::time::Duration;
/// let ticker = goro::time::Ticker::new(Duration::from_millis(2));
/// let mut n = 0;
/// for _ in ticker.receiver().iter().take(3) {
///     n += 1;
/// }
/// ticker.stop();
/// assert_eq!(n, 3);
/// ```
pub struct Ticker {
    rx: Receiver<Instant>,
    shared: Arc<TimerShared>,
}

impl Ticker {
    /// A ticker with period `d`.
    ///
    /// # Panics
    /// If `d` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Ticker::new(Duration::from_millis(1));
    /// assert!(t.receiver().recv().is_some());
    /// ```
    pub fn new(d: Duration) -> Ticker {
        assert!(
            !d.is_zero(),
            "goro::time::Ticker::new: the period must be positive, got zero"
        );
        let (rx, shared) = TimerShared::new();
        shared.arm(d, d);
        Ticker { rx, shared }
    }

    /// The channel the ticks are delivered on.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Ticker::new(Duration::from_millis(1));
    /// let (a, b) = (t.receiver().recv().unwrap(), t.receiver().recv().unwrap());
    /// assert!(b > a);
    /// ```
    pub fn receiver(&self) -> &Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticker: no more ticks, and a pending one is discarded.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Ticker::new(Duration::from_millis(1));
    /// goro::time::sleep(Duration::from_millis(5));
    /// t.stop();
    /// assert!(t.receiver().recv_timeout(Duration::from_millis(10)).is_err());
    /// ```
    pub fn stop(&self) {
        self.shared.stop();
    }

    /// Stops the ticker and restarts it with period `d`, discarding a pending tick.
    ///
    /// # Panics
    /// If `d` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = goro::time::Ticker::new(Duration::from_secs(60));
    /// t.reset(Duration::from_millis(1));
    /// assert!(t.receiver().recv_timeout(Duration::from_secs(10)).is_ok());
    /// ```
    pub fn reset(&self, d: Duration) {
        assert!(
            !d.is_zero(),
            "goro::time::Ticker::reset: the period must be positive, got zero"
        );
        self.shared.arm(d, d);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.shared.stop();
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (armed, period) = {
            let st = lock(&self.shared.state);
            (st.armed, st.period)
        };
        f.debug_struct("Ticker")
            .field("period", &period)
            .field("running", &armed)
            .finish()
    }
}
