//! registry: every live goroutine of a runtime, for dumps, shutdown and the deadlock
//! detector. Sharded by goroutine id so spawning and finishing on different workers rarely
//! meet on one lock. A goroutine is registered before it is queued and removed when it
//! finishes or is abandoned; the registry's `Arc` keeps a parked goroutine alive.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::goroutine::Goroutine;
use super::worker::lock;

/// Ids are unique integers: use them as their own hash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Shard = HashMap<u64, Arc<Goroutine>, BuildHasherDefault<IdHasher>>;

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
        lock(self.shard(g)).insert(g.id().as_u64(), g.clone());
    }

    pub(crate) fn remove(&self, g: &Goroutine) {
        if lock(self.shard(g)).remove(&g.id().as_u64()).is_some() {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// How many goroutines are live.
    pub(crate) fn len(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Every live goroutine, in no particular order.
    pub(crate) fn snapshot(&self) -> Vec<Arc<Goroutine>> {
        let mut all = Vec::with_capacity(self.len());
        for shard in self.shards.iter() {
            all.extend(lock(shard).values().cloned());
        }
        all
    }
}
