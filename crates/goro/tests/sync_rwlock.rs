//! goro::sync::RwLock: shared readers, exclusive writers, writer preference, parking on one
//! worker, plain threads.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::{Mutex, RwLock};
use support::{on_runtime, watchdog};

/// Writers keep the two halves equal; readers must never see them differ.
fn readers_and_writers(procs: usize) {
    let (a, b) = on_runtime(procs, || {
        let l = Arc::new(RwLock::new((0u64, 0u64)));
        let mut hs = Vec::new();
        for w in 0..4 {
            let l = l.clone();
            hs.push(goro::go(move || {
                for i in 0..2_000 {
                    let mut g = l.write();
                    g.0 += 1;
                    if (i + w) % 8 == 0 {
                        goro::yield_now();
                    }
                    g.1 += 1;
                }
            }));
        }
        for r in 0..8 {
            let l = l.clone();
            hs.push(goro::go(move || {
                for i in 0..2_000 {
                    let g = l.read();
                    if (i + r) % 8 == 0 {
                        goro::yield_now();
                    }
                    assert_eq!(g.0, g.1, "a reader saw a half-done write");
                }
            }));
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
        let v = *l.read();
        v
    });
    assert_eq!((a, b), (8_000, 8_000));
}

#[test]
fn readers_and_writers_on_one_worker() {
    readers_and_writers(1);
}

#[test]
fn readers_and_writers_on_two_workers() {
    readers_and_writers(2);
}

#[test]
fn readers_share_the_lock() {
    let max = on_runtime(1, || {
        let l = Arc::new(RwLock::new(()));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let (l, inside, max) = (l.clone(), inside.clone(), max.clone());
                goro::go(move || {
                    let _g = l.read();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    goro::time::sleep(Duration::from_millis(10)); // parks holding the read lock
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        max.load(Ordering::SeqCst)
    });
    assert_eq!(max, 5, "all readers were inside at once");
}

/// A reader holds the lock; a writer queues; a later reader must wait behind the writer.
fn writer_preference(procs: usize) {
    let order = on_runtime(procs, || {
        let l = Arc::new(RwLock::new(()));
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = l.read();
        let writer = {
            let (l, order) = (l.clone(), order.clone());
            goro::go(move || {
                let _w = l.write();
                order.lock().push("writer");
            })
        };
        // Wait until the writer is queued: from then on new readers are refused.
        while l.try_read().is_some() {
            goro::yield_now();
        }
        let late_reader = {
            let (l, order) = (l.clone(), order.clone());
            goro::go(move || {
                let _r = l.read();
                order.lock().push("late reader");
            })
        };
        for _ in 0..10 {
            goro::yield_now();
        }
        assert!(
            order.lock().is_empty(),
            "nobody may get in while the first reader holds"
        );
        drop(first);
        writer.join().unwrap();
        late_reader.join().unwrap();
        let order = order.lock().clone();
        order
    });
    assert_eq!(order, ["writer", "late reader"]);
}

#[test]
fn a_waiting_writer_blocks_new_readers_on_one_worker() {
    writer_preference(1);
}

#[test]
fn a_waiting_writer_blocks_new_readers_on_two_workers() {
    writer_preference(2);
}

/// Single-worker property: a writer sleeps holding the lock while readers and writers queue.
#[test]
fn writer_may_sleep_while_others_queue_on_one_worker() {
    let log = on_runtime(1, || {
        let l = Arc::new(RwLock::new(Vec::new()));
        let holder = {
            let l = l.clone();
            goro::go(move || {
                let mut g = l.write();
                goro::time::sleep(Duration::from_millis(20));
                g.push("holder");
            })
        };
        goro::yield_now();
        let mut hs = Vec::new();
        for i in 0..6 {
            let l = l.clone();
            hs.push(goro::go(move || {
                if i % 2 == 0 {
                    l.write().push("writer");
                } else {
                    let n = l.read().len();
                    assert!(n >= 1, "readers come after the holder");
                }
            }));
        }
        holder.join().unwrap();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let log = l.read().clone();
        log
    });
    assert_eq!(log, ["holder", "writer", "writer", "writer"]);
}

#[test]
fn plain_threads_share_an_rwlock() {
    let v = watchdog(60, || {
        let l = Arc::new(RwLock::new(0u64));
        let ts: Vec<_> = (0..6)
            .map(|i| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..5_000 {
                        if i % 2 == 0 {
                            *l.write() += 1;
                        } else {
                            let _ = *l.read();
                        }
                    }
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        let v = *l.read();
        v
    });
    assert_eq!(v, 15_000);
}

#[test]
fn try_variants_into_inner_get_mut() {
    let mut l = RwLock::new(1);
    *l.get_mut() += 1;
    {
        let r = l.try_read().unwrap();
        assert!(l.try_read().is_some());
        assert!(l.try_write().is_none());
        assert_eq!(*r, 2);
        assert_eq!(format!("{l:?}"), "RwLock { data: 2, .. }");
    }
    {
        let mut w = l.try_write().unwrap();
        *w = 3;
        assert!(l.try_read().is_none());
        assert!(l.try_write().is_none());
        assert_eq!(format!("{l:?}"), "RwLock { data: <locked>, .. }");
    }
    assert_eq!(l.into_inner(), 3);
    let d: RwLock<Vec<u8>> = RwLock::default();
    assert!(d.read().is_empty());
}
