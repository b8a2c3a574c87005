//! goro::sync::Semaphore: never more holders than permits, FIFO hand-off, no barging past
//! waiters, parking on one worker, plain threads.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::{Mutex, Semaphore, WaitGroup};
use support::{on_runtime, watchdog};

fn bounded_holders(procs: usize) {
    let (max, total) = on_runtime(procs, || {
        let sem = Arc::new(Semaphore::new(3));
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for i in 0..30 {
            let (sem, inside, max, total) =
                (sem.clone(), inside.clone(), max.clone(), total.clone());
            wg.go(move || {
                for j in 0..20 {
                    let _p = sem.acquire();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(now, Ordering::SeqCst);
                    if (i + j) % 4 == 0 {
                        goro::yield_now(); // hold the permit across a switch
                    }
                    inside.fetch_sub(1, Ordering::SeqCst);
                    total.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        wg.wait();
        assert_eq!(sem.available_permits(), 3);
        (max.load(Ordering::SeqCst), total.load(Ordering::SeqCst))
    });
    assert!(max <= 3, "{max} holders at once with 3 permits");
    assert!(max >= 2, "the permits were never shared");
    assert_eq!(total, 600);
}

#[test]
fn never_more_holders_than_permits_on_one_worker() {
    bounded_holders(1);
}

#[test]
fn never_more_holders_than_permits_on_two_workers() {
    bounded_holders(2);
}

/// Waiters get permits in arrival order, and a newcomer cannot take a permit that was
/// released while someone waits.
#[test]
fn fifo_and_no_barging() {
    let order = on_runtime(1, || {
        let sem = Arc::new(Semaphore::new(0));
        let order = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = (0..5)
            .map(|i| {
                let (sem, order) = (sem.clone(), order.clone());
                let h = goro::go(move || {
                    let p = sem.acquire();
                    order.lock().push(i);
                    std::mem::forget(p); // keep it: the next waiter needs a new permit
                });
                goro::yield_now(); // it runs and queues before the next one is spawned
                h
            })
            .collect();
        for i in 1..=5 {
            sem.add_permits(1);
            // The permit went to the first waiter, which has not run yet: nothing is free.
            assert!(sem.try_acquire().is_none(), "a newcomer overtook a waiter");
            assert_eq!(sem.available_permits(), 0);
            while order.lock().len() < i {
                goro::yield_now();
            }
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
        let order = order.lock().clone();
        order
    });
    assert_eq!(order, [0, 1, 2, 3, 4]);
}

/// Single-worker property: permit holders park (sleep) while others queue.
#[test]
fn holders_may_sleep_while_others_queue_on_one_worker() {
    let done = on_runtime(1, || {
        let sem = Arc::new(Semaphore::default());
        sem.add_permits(2);
        let done = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (sem, done) = (sem.clone(), done.clone());
                goro::go(move || {
                    let _p = sem.acquire();
                    goro::time::sleep(Duration::from_millis(2));
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        done.load(Ordering::SeqCst)
    });
    assert_eq!(done, 8);
}

#[test]
fn plain_threads_and_api() {
    watchdog(60, || {
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(AtomicUsize::new(0));
        let ts: Vec<_> = (0..6)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let _p = sem.acquire();
                        assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(sem.available_permits(), 2);
        let a = sem.try_acquire().unwrap();
        let _b = sem.acquire();
        assert!(sem.try_acquire().is_none());
        assert_eq!(format!("{sem:?}"), "Semaphore { permits: 0 }");
        assert_eq!(format!("{a:?}"), "SemaphorePermit");
        drop(a);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn static_semaphore() {
    static SEM: Semaphore = Semaphore::new(1);
    let p = SEM.acquire();
    assert_eq!(SEM.available_permits(), 0);
    drop(p);
    assert_eq!(SEM.available_permits(), 1);
}

/// A permit handed to a goroutine that unwinds (its runtime dropped) goes back.
#[test]
fn a_runtime_shutdown_returns_handed_permits() {
    watchdog(60, || {
        let sem = Arc::new(Semaphore::new(1));
        let p = sem.acquire();
        let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let sem = sem.clone();
                rt.go(move || drop(sem.acquire()))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        drop(p); // handed to the first waiter
        drop(rt);
        hs.into_iter().for_each(|h| drop(h.join()));
        assert_eq!(sem.available_permits(), 1);
        drop(sem.acquire());
    });
}
