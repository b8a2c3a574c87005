//! timer: a worker's deadlines.
//!
//! Each worker owns one `Timers` heap. A goroutine's park deadline lives on its home worker;
//! channel timers (`after`, `tick`, `Timer`, `Ticker`) live on the worker that created them,
//! or on a worker of the default runtime when a plain thread created them. The worker fires
//! due entries between goroutines and bounds its idle sleep by the earliest deadline.
//!
//! Invariant: `Timers::earliest()` is the deadline of the heap's top entry (or `None`).
//!
//! Nothing removes an entry when its wait ends early: a park timer whose park has ended is
//! stale (its goroutine's `park_seq` moved on), and other targets know their own staleness
//! (`TimerTarget::is_live`); firing a stale entry does nothing. Stale entries are dropped
//! in bulk instead: whenever the heap has doubled since the last prune, `add` keeps only the
//! live ones. So a loop of `recv_timeout`s that succeed, or of `after`s that lose their
//! select, costs memory in proportion to the deadlines still pending, not to every deadline
//! ever set, at an amortized O(1) per entry (Go's timer heap likewise sweeps out its deleted
//! timers in bulk).

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::goroutine::Goroutine;

/// Something a timer fires other than a park deadline: a time channel, a context deadline.
/// Each timer entry carries an arming number, so one target can be armed again and again
/// (a `Timer` reset, a `Ticker`) and tell its current arming from stale ones; a target armed
/// once ignores the number.
pub(crate) trait TimerTarget: Send + Sync {
    /// Does what arming number `arming` is for.
    fn fire(self: Arc<Self>, arming: u64);

    /// Whether firing arming number `arming` could still make anything happen (a stopped
    /// timer, or one whose channel nobody can receive from, cannot). Once false it stays
    /// false: the deadlock detector asks, and pruning drops entries for which it is false.
    fn is_live(&self, arming: u64) -> bool;
}

/// What a due timer does.
pub(crate) enum TimerAction {
    /// Ends park number `seq` of a goroutine, if it is still that park.
    Park(Arc<Goroutine>, u64),
    /// Fires arming number `arming` of a time channel or context deadline.
    Target(Arc<dyn TimerTarget>, u64),
}

struct TimerEntry {
    when: Instant,
    seq: u64,
    action: TimerAction,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl Eq for TimerEntry {}

impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl Ord for TimerEntry {
    /// Reversed, so the max-heap pops the earliest deadline (ties in arrival order).
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

/// Pending entries below which `add` never prunes.
const PRUNE_FLOOR: usize = 64;

/// A min-heap of deadlines.
pub(crate) struct Timers {
    heap: BinaryHeap<TimerEntry>,
    next_seq: u64,
    /// Length at which `add` next drops the stale entries.
    prune_at: usize,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            heap: BinaryHeap::new(),
            next_seq: 0,
            prune_at: PRUNE_FLOOR,
        }
    }
}

impl Timers {
    /// Adds an entry. If the heap has doubled since it was last pruned, first moves the
    /// stale entries to `stale`, for the caller to drop once it has released the lock
    /// around this heap (an entry may hold the last reference to a goroutine or a channel).
    pub(crate) fn add(&mut self, when: Instant, action: TimerAction, stale: &mut Vec<TimerAction>) {
        if self.heap.len() >= self.prune_at {
            self.prune(stale);
        }
        self.next_seq += 1;
        self.heap.push(TimerEntry {
            when,
            seq: self.next_seq,
            action,
        });
    }

    pub(crate) fn earliest(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.when)
    }

    /// Removes the entries due at `now` and returns their actions, to run once the lock
    /// protecting this heap is released.
    pub(crate) fn take_due(&mut self, now: Instant, out: &mut Vec<TimerAction>) {
        while self.heap.peek().is_some_and(|e| e.when <= now) {
            out.push(self.heap.pop().expect("peeked").action);
        }
    }

    /// Whether any pending entry could still wake something (used by the deadlock
    /// detector).
    pub(crate) fn has_live(&self) -> bool {
        self.heap.iter().any(|e| e.action.is_live())
    }

    /// Moves the entries that can no longer do anything to `stale`.
    fn prune(&mut self, stale: &mut Vec<TimerAction>) {
        let (live, dead): (Vec<TimerEntry>, Vec<TimerEntry>) = std::mem::take(&mut self.heap)
            .into_vec()
            .into_iter()
            .partition(|e| e.action.is_live());
        stale.extend(dead.into_iter().map(|e| e.action));
        self.heap = BinaryHeap::from(live);
        self.prune_at = (2 * self.heap.len()).max(PRUNE_FLOOR);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

impl TimerAction {
    /// Whether firing could still do anything. A park entry whose park has ended, a
    /// stopped timer, or one nobody can receive from cannot, and never will again.
    fn is_live(&self) -> bool {
        match self {
            TimerAction::Park(g, seq) => g.park_seq.load(Ordering::Acquire) == *seq,
            TimerAction::Target(t, arming) => t.is_live(*arming),
        }
    }

    pub(crate) fn fire(self) {
        match self {
            TimerAction::Park(g, seq) => {
                if g.park_seq.load(Ordering::Acquire) == seq {
                    g.unpark();
                }
            }
            TimerAction::Target(t, arming) => t.fire(arming),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::Duration;

    /// Counts its firings; live until told otherwise.
    struct Count {
        fired: AtomicUsize,
        live: AtomicBool,
    }

    impl Count {
        fn new() -> Arc<Count> {
            Arc::new(Count {
                fired: AtomicUsize::new(0),
                live: AtomicBool::new(true),
            })
        }
    }

    impl TimerTarget for Count {
        fn fire(self: Arc<Self>, _arming: u64) {
            self.fired.fetch_add(1, Ordering::SeqCst);
        }

        fn is_live(&self, _arming: u64) -> bool {
            self.live.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn fires_due_entries_in_deadline_order() {
        let base = Instant::now();
        let mut t = Timers::default();
        let counters: Vec<Arc<Count>> = (0..3).map(|_| Count::new()).collect();
        let mut stale = Vec::new();
        for (i, c) in counters.iter().enumerate() {
            let when = base + Duration::from_millis(10 * (3 - i as u64));
            t.add(when, TimerAction::Target(c.clone(), 0), &mut stale);
        }
        assert!(stale.is_empty());
        assert_eq!(t.earliest(), Some(base + Duration::from_millis(10)));
        let mut due = Vec::new();
        t.take_due(base + Duration::from_millis(20), &mut due);
        assert_eq!(due.len(), 2);
        due.into_iter().for_each(TimerAction::fire);
        let fired: Vec<usize> = counters
            .iter()
            .map(|c| c.fired.load(Ordering::SeqCst))
            .collect();
        assert_eq!(fired, vec![0, 1, 1]);
        assert!(t.has_live());
        assert_eq!(t.earliest(), Some(base + Duration::from_millis(30)));
    }

    #[test]
    fn stale_entries_are_pruned_and_live_ones_kept() {
        let base = Instant::now();
        let mut t = Timers::default();
        let keep: Vec<Arc<Count>> = (0..10).map(|_| Count::new()).collect();
        let mut stale = Vec::new();
        for (i, c) in keep.iter().enumerate() {
            t.add(
                base + Duration::from_secs(10 - i as u64),
                TimerAction::Target(c.clone(), 0),
                &mut stale,
            );
        }
        let mut most = 0;
        for i in 0..10_000 {
            let gone = Count::new();
            gone.live.store(false, Ordering::SeqCst);
            let when = base + Duration::from_millis(i);
            t.add(when, TimerAction::Target(gone, 0), &mut stale);
            most = most.max(t.len());
        }
        // Pruned whenever the heap doubles: never more than twice the floor, while 10,000
        // stale entries went through.
        assert!(most <= 2 * PRUNE_FLOOR, "the heap grew to {most} entries");
        assert!(
            stale.len() >= 10_000 - 2 * PRUNE_FLOOR,
            "only {} pruned",
            stale.len()
        );
        assert!(stale.iter().all(|a| !a.is_live()));
        let mut due = Vec::new();
        t.take_due(base + Duration::from_secs(60), &mut due);
        let live: Vec<TimerAction> = due.into_iter().filter(TimerAction::is_live).collect();
        assert_eq!(live.len(), 10, "every live entry survived");
        live.into_iter().for_each(TimerAction::fire);
        assert!(keep.iter().all(|c| c.fired.load(Ordering::SeqCst) == 1));
    }
}
