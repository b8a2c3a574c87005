//! registry: the goroutines started on one worker, for dumps, shutdown and the deadlock
//! detector.
//!
//! Each worker owns one: a goroutine is inserted when the worker first resumes it and
//! removed when it finishes there, so both happen on that worker's thread and the lock is
//! contended only by dumps and the deadlock detector. It is a spin lock: the worker's
//! critical sections are a push or a pop, and a plain store unlocks it. The registry's
//! `Arc` keeps a parked goroutine alive. Goroutines that have not started yet are not here:
//! they sit in run queues, and `Shared::live` counts every goroutine, started or not.

use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::goroutine::Goroutine;
use crate::spin::SpinLock;

/// A slab: a goroutine remembers its slot, so insert and remove are O(1) without hashing.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<Arc<Goroutine>>>,
    free: Vec<usize>,
}

pub(crate) struct Registry {
    slab: SpinLock<Slab>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry {
            slab: SpinLock::new(Slab::default()),
        }
    }
}

impl Registry {
    pub(crate) fn insert(&self, g: &Arc<Goroutine>) {
        let mut slab = self.slab.lock();
        let slot = match slab.free.pop() {
            Some(i) => {
                slab.slots[i] = Some(g.clone());
                i
            }
            None => {
                slab.slots.push(Some(g.clone()));
                slab.slots.len() - 1
            }
        };
        g.registry_slot.store(slot, Ordering::Relaxed);
    }

    /// Removes `g`; returns whether it was here.
    pub(crate) fn remove(&self, g: &Goroutine) -> bool {
        let slot = g.registry_slot.load(Ordering::Relaxed);
        let mut slab = self.slab.lock();
        let taken = slab
            .slots
            .get_mut(slot)
            .filter(|s| s.as_ref().is_some_and(|s| std::ptr::eq(&**s, g)))
            .and_then(Option::take);
        if taken.is_some() {
            slab.free.push(slot);
        }
        taken.is_some()
    }

    /// Visits the goroutines until `f` breaks.
    pub(crate) fn visit<B>(
        &self,
        mut f: impl FnMut(&Arc<Goroutine>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        for g in self.slab.lock().slots.iter().flatten() {
            f(g)?;
        }
        ControlFlow::Continue(())
    }

    /// The goroutines, in no particular order.
    pub(crate) fn snapshot(&self) -> Vec<Arc<Goroutine>> {
        self.slab.lock().slots.iter().flatten().cloned().collect()
    }
}
