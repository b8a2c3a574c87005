//! goro::sync::Mutex: exact counts under contention, parking (not blocking) the worker,
//! plain threads, and the small API.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::{Mutex, MutexGuard, WaitGroup};
use support::{on_runtime, watchdog};

/// `goroutines` goroutines each add `per` to one counter; every 16th increment yields while
/// holding the lock, so the others really queue for it.
fn contended_count(procs: usize, goroutines: usize, per: usize) {
    let total = on_runtime(procs, move || {
        let m = Arc::new(Mutex::new(0usize));
        let hs: Vec<_> = (0..goroutines)
            .map(|_| {
                let m = m.clone();
                goro::go(move || {
                    for i in 0..per {
                        let mut g = m.lock();
                        *g += 1;
                        if i % 16 == 0 {
                            goro::yield_now();
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let total = *m.lock();
        total
    });
    assert_eq!(total, goroutines * per);
}

#[test]
fn exact_count_on_one_worker() {
    contended_count(1, 8, 5_000);
}

#[test]
fn exact_count_on_two_workers() {
    contended_count(2, 8, 20_000);
}

/// The single-worker property: the holder parks (sleeps) with the lock held while others
/// queue for it; nobody blocks the only worker, and everything completes.
#[test]
fn holder_may_sleep_while_others_queue_on_one_worker() {
    let order = on_runtime(1, || {
        let m = Arc::new(Mutex::new(Vec::new()));
        let started = Arc::new(AtomicUsize::new(0));
        let holder = {
            let m = m.clone();
            goro::go(move || {
                let mut g = m.lock();
                goro::time::sleep(Duration::from_millis(20));
                g.push(usize::MAX);
            })
        };
        goro::yield_now(); // the holder takes the lock and parks in sleep
        let waiters: Vec<_> = (0..10)
            .map(|i| {
                let (m, started) = (m.clone(), started.clone());
                goro::go(move || {
                    started.fetch_add(1, Ordering::Relaxed);
                    m.lock().push(i);
                })
            })
            .collect();
        holder.join().unwrap();
        waiters.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(started.load(Ordering::Relaxed), 10);
        let order = m.lock().clone();
        order
    });
    assert_eq!(order.len(), 11);
    assert_eq!(order[0], usize::MAX, "the holder finished first");
}

/// The holder blocks on another primitive (a WaitGroup finished by a goroutine that does
/// not need the lock) while others queue for the lock, on one worker.
#[test]
fn holder_may_wait_on_a_wait_group_on_one_worker() {
    let total = on_runtime(1, || {
        let m = Arc::new(Mutex::new(0));
        let gate = WaitGroup::new();
        gate.add(1);
        let holder = {
            let (m, gate) = (m.clone(), gate.clone());
            goro::go(move || {
                let mut g = m.lock();
                gate.wait();
                *g += 100;
            })
        };
        goro::yield_now();
        let queued: Vec<_> = (0..5)
            .map(|_| {
                let m = m.clone();
                goro::go(move || *m.lock() += 1)
            })
            .collect();
        for _ in 0..3 {
            goro::yield_now(); // let the lockers queue up
        }
        gate.done();
        holder.join().unwrap();
        queued.into_iter().for_each(|h| h.join().unwrap());
        let total = *m.lock();
        total
    });
    assert_eq!(total, 105);
}

#[test]
fn plain_threads_and_goroutines_share_a_mutex() {
    let total = watchdog(60, || {
        let m = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
        let gs: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                rt.go(move || {
                    for i in 0..10_000 {
                        let mut g = m.lock();
                        *g += 1;
                        if i % 64 == 0 {
                            goro::yield_now();
                        }
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        gs.into_iter().for_each(|h| h.join().unwrap());
        let total = *m.lock();
        total
    });
    assert_eq!(total, 80_000);
}

#[test]
fn try_lock_into_inner_get_mut_and_debug() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().push(2);
    {
        let g = m.try_lock().expect("free");
        assert!(m.try_lock().is_none(), "held");
        assert_eq!(format!("{g:?}"), "[1, 2]");
        assert_eq!(format!("{m:?}"), "Mutex { data: <locked>, .. }");
    }
    assert_eq!(format!("{m:?}"), "Mutex { data: [1, 2], .. }");
    assert_eq!(m.into_inner(), [1, 2]);
    let d: Mutex<u8> = Mutex::default();
    assert_eq!(*d.lock(), 0);
}

#[test]
fn unsized_and_static() {
    static NAMES: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    NAMES.lock().push("a");
    assert_eq!(NAMES.lock().len(), 1);

    let boxed: Box<Mutex<[i32]>> = Box::new(Mutex::new([1, 2, 3]));
    boxed.lock()[1] = 20;
    assert_eq!(&*boxed.lock(), &[1, 20, 3]);
}

#[test]
fn a_panic_while_locked_unlocks_without_poisoning() {
    let m = Arc::new(Mutex::new(1));
    let m2 = m.clone();
    let r = std::thread::spawn(move || {
        let _g = m2.lock();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    *m.lock() += 1;
    assert_eq!(*m.lock(), 2);
}

#[test]
fn guards_are_sync_for_sync_data() {
    fn sync<T: Sync>() {}
    fn send_sync<T: Send + Sync>() {}
    sync::<MutexGuard<'static, u32>>();
    send_sync::<Mutex<std::cell::Cell<u32>>>();
}

/// A runtime dropped while its goroutines queue for a Mutex held by a plain thread (one of
/// them possibly just woken) leaves the Mutex fully usable: its queue unlinks, a wake-up
/// given to a goroutine that unwinds instead is passed on.
#[test]
fn a_runtime_shutdown_leaves_the_mutex_usable() {
    watchdog(60, || {
        let m = Arc::new(Mutex::new(0));
        let g = m.lock();
        let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                rt.go(move || *m.lock() += 1)
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20)); // they all queue
        drop(g); // wakes one of them...
        let g = m.lock(); // ...and barges past it (or waits its turn)
        drop(rt); // the queued goroutines unwind
        let finished = hs.into_iter().filter_map(|h| h.join().ok()).count();
        assert_eq!(*g, finished);
        // A new waiter must still be woken by the next unlock.
        let t = {
            let m = m.clone();
            std::thread::spawn(move || *m.lock() += 100)
        };
        std::thread::sleep(Duration::from_millis(10));
        drop(g);
        t.join().unwrap();
        assert_eq!(*m.lock(), finished + 100);
    });
}
