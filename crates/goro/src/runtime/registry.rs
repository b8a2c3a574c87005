//! registry: every live goroutine of a runtime, for dumps, shutdown and the deadlock
//! detector. Sharded by goroutine id so spawning and finishing on different workers rarely
//! meet on one lock; each shard is a slab, and a goroutine remembers its slot, so insert and
//! remove are O(1) without hashing. A goroutine is registered before it is queued and
//! removed when it finishes or is abandoned; the registry's `Arc` keeps a parked goroutine
//! alive.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::goroutine::Goroutine;
use super::worker::lock;

#[derive(Default)]
struct Shard {
    slots: Vec<Option<Arc<Goroutine>>>,
    free: Vec<usize>,
}

pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
    live: AtomicUsize,
}

impl Registry {
    pub(crate) fn new(workers: usize) -> Registry {
        let n = (workers * 4).next_power_of_two();
        Registry {
            shards: (0..n).map(|_| Mutex::new(Shard::default())).collect(),
            live: AtomicUsize::new(0),
        }
    }

    fn shard(&self, g: &Goroutine) -> &Mutex<Shard> {
        &self.shards[g.id().as_u64() as usize & (self.shards.len() - 1)]
    }

    pub(crate) fn insert(&self, g: &Arc<Goroutine>) {
        self.live.fetch_add(1, Ordering::Relaxed);
        let mut shard = lock(self.shard(g));
        let slot = match shard.free.pop() {
            Some(i) => {
                shard.slots[i] = Some(g.clone());
                i
            }
            None => {
                shard.slots.push(Some(g.clone()));
                shard.slots.len() - 1
            }
        };
        g.registry_slot.store(slot, Ordering::Relaxed);
    }

    pub(crate) fn remove(&self, g: &Goroutine) {
        let slot = g.registry_slot.load(Ordering::Relaxed);
        let mut shard = lock(self.shard(g));
        let taken = shard
            .slots
            .get_mut(slot)
            .filter(|s| s.as_ref().is_some_and(|s| std::ptr::eq(&**s, g)))
            .and_then(Option::take);
        if taken.is_some() {
            shard.free.push(slot);
            drop(shard);
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// How many goroutines are live.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Visits live goroutines, shard by shard, until `f` breaks.
    pub(crate) fn visit<B>(
        &self,
        mut f: impl FnMut(&Arc<Goroutine>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        for shard in self.shards.iter() {
            for g in lock(shard).slots.iter().flatten() {
                f(g)?;
            }
        }
        ControlFlow::Continue(())
    }

    /// Every live goroutine, in no particular order.
    pub(crate) fn snapshot(&self) -> Vec<Arc<Goroutine>> {
        let mut all = Vec::with_capacity(self.len());
        let _ = self.visit(|g| {
            all.push(g.clone());
            ControlFlow::<()>::Continue(())
        });
        all
    }
}
