//! timer: a worker's deadlines.
//!
//! Each worker owns one `Timers` heap. A goroutine's park deadline lives on its home worker;
//! channel timers (`after`, `tick`, `Timer`, `Ticker`) live on the worker that created them,
//! or on a worker of the default runtime when a plain thread created them. The worker fires
//! due entries between goroutines and bounds its idle sleep by the earliest deadline.
//!
//! Invariant: `Timers::earliest()` is the deadline of the heap's top entry (or `None`);
//! entries are never removed early — a park timer whose park has ended is stale and firing it
//! does nothing (its goroutine's `park_seq` moved on); other targets know their own
//! staleness (`TimerTarget::is_live`).

use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::goroutine::Goroutine;

/// Something a timer fires other than a park deadline: a time channel, a context deadline.
pub(crate) trait TimerTarget: Send + Sync {
    /// Does what the timer is for.
    fn fire(self: Arc<Self>);

    /// Whether firing could still make anything happen (a stopped timer, or one whose
    /// channel nobody can receive from, cannot): the deadlock detector asks.
    fn is_live(&self) -> bool;
}

/// What a due timer does.
pub(crate) enum TimerAction {
    /// Ends park number `seq` of a goroutine, if it is still that park.
    Park(Arc<Goroutine>, u64),
    /// Fires a time channel or context deadline.
    Target(Arc<dyn TimerTarget>),
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

/// A min-heap of deadlines.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<TimerEntry>,
    next_seq: u64,
}

impl Timers {
    pub(crate) fn add(&mut self, when: Instant, action: TimerAction) {
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
    /// detector): stale park entries do not count.
    pub(crate) fn has_live(&self) -> bool {
        self.heap.iter().any(|e| match &e.action {
            TimerAction::Park(g, seq) => g.park_seq.load(Ordering::Acquire) == *seq,
            TimerAction::Target(t) => t.is_live(),
        })
    }
}

impl TimerAction {
    pub(crate) fn fire(self) {
        match self {
            TimerAction::Park(g, seq) => {
                if g.park_seq.load(Ordering::Acquire) == seq {
                    g.unpark();
                }
            }
            TimerAction::Target(t) => t.fire(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    struct Count(AtomicUsize);
    impl TimerTarget for Count {
        fn fire(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }

        fn is_live(&self) -> bool {
            true
        }
    }

    #[test]
    fn fires_due_entries_in_deadline_order() {
        let base = Instant::now();
        let mut t = Timers::default();
        let counters: Vec<Arc<Count>> = (0..3)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        for (i, c) in counters.iter().enumerate() {
            let when = base + Duration::from_millis(10 * (3 - i as u64));
            t.add(when, TimerAction::Target(c.clone()));
        }
        assert_eq!(t.earliest(), Some(base + Duration::from_millis(10)));
        let mut due = Vec::new();
        t.take_due(base + Duration::from_millis(20), &mut due);
        assert_eq!(due.len(), 2);
        due.into_iter().for_each(TimerAction::fire);
        let fired: Vec<usize> = counters
            .iter()
            .map(|c| c.0.load(Ordering::SeqCst))
            .collect();
        assert_eq!(fired, vec![0, 1, 1]);
        assert!(t.has_live());
        assert_eq!(t.earliest(), Some(base + Duration::from_millis(30)));
    }
}
