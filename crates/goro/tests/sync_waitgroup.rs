//! goro::sync::WaitGroup: counting, many waiters, `go`, misuse panics, one worker, threads.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::{Mutex, WaitGroup};
use support::{on_runtime, watchdog};

fn count_with(procs: usize) {
    let n = on_runtime(procs, || {
        let hits = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for i in 0..200 {
            wg.add(1);
            let (hits, wg) = (hits.clone(), wg.clone());
            goro::go(move || {
                if i % 3 == 0 {
                    goro::yield_now();
                }
                hits.fetch_add(1, Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait();
        hits.load(Ordering::Relaxed)
    });
    assert_eq!(n, 200);
}

#[test]
fn waits_for_every_goroutine_on_one_worker() {
    count_with(1);
}

#[test]
fn waits_for_every_goroutine_on_two_workers() {
    count_with(2);
}

#[test]
fn many_waiters_goroutines_and_threads_are_all_released() {
    watchdog(60, || {
        let wg = WaitGroup::new();
        wg.add(1);
        let released = Arc::new(AtomicUsize::new(0));
        let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
        let gs: Vec<_> = (0..10)
            .map(|_| {
                let (wg, released) = (wg.clone(), released.clone());
                rt.go(move || {
                    wg.wait();
                    released.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let ts: Vec<_> = (0..3)
            .map(|_| {
                let (wg, released) = (wg.clone(), released.clone());
                std::thread::spawn(move || {
                    wg.wait();
                    released.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            released.load(Ordering::SeqCst),
            0,
            "nobody passes before done"
        );
        wg.done();
        gs.into_iter().for_each(|h| h.join().unwrap());
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(released.load(Ordering::SeqCst), 13);
    });
}

#[test]
fn go_counts_and_survives_panics() {
    let (n, panicked) = on_runtime(2, || {
        let hits = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let hits = hits.clone();
                wg.go(move || {
                    hits.fetch_add(1, Ordering::Relaxed);
                    if i % 5 == 0 {
                        panic!("worker {i} failed");
                    }
                    i
                })
            })
            .collect();
        wg.wait(); // done() ran for the panicking ones too
        let n = hits.load(Ordering::Relaxed);
        let panicked = hs
            .into_iter()
            .map(|h| h.join())
            .filter(Result::is_err)
            .count();
        (n, panicked)
    });
    assert_eq!(n, 20);
    assert_eq!(panicked, 4);
}

#[test]
fn go_returns_the_value_and_reports_the_panic() {
    on_runtime(1, || {
        let wg = WaitGroup::new();
        let ok = wg.go(|| 7);
        let bad = wg.go(|| -> u8 { panic!("bad") });
        wg.wait();
        assert_eq!(ok.join().unwrap(), 7);
        assert!(bad.join().is_err());
    });
}

#[test]
fn done_below_zero_panics_with_go_s_message() {
    let wg = WaitGroup::new();
    let err = std::panic::catch_unwind(|| wg.done()).unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.starts_with("negative WaitGroup counter"), "{msg}");
    // The counter was left intact.
    wg.add(1);
    wg.done();
    wg.wait();
}

#[test]
fn reusable_after_wait_returns() {
    on_runtime(1, || {
        let wg = WaitGroup::default();
        for round in 0..5 {
            for _ in 0..=round {
                let wg2 = wg.clone();
                wg.add(1);
                goro::go(move || {
                    goro::yield_now();
                    wg2.done();
                });
            }
            wg.wait();
            assert_eq!(format!("{wg:?}"), "WaitGroup { count: 0 }");
        }
    });
}

/// Single-worker property: a goroutine holding a Mutex parks in `wait` while the workers
/// it waits for (and goroutines queued on the Mutex) share the only worker.
#[test]
fn waiting_holder_on_one_worker() {
    let total = on_runtime(1, || {
        let m = Arc::new(Mutex::new(0));
        let wg = WaitGroup::new();
        let holder = {
            let (m, wg) = (m.clone(), wg.clone());
            wg.add(3);
            goro::go(move || {
                let mut g = m.lock();
                wg.wait();
                *g += 10;
            })
        };
        goro::yield_now();
        let lockers: Vec<_> = (0..3)
            .map(|_| {
                let m = m.clone();
                goro::go(move || *m.lock() += 1)
            })
            .collect();
        for _ in 0..3 {
            let wg = wg.clone();
            goro::go(move || {
                goro::time::sleep(Duration::from_millis(5));
                wg.done();
            });
        }
        holder.join().unwrap();
        lockers.into_iter().for_each(|h| h.join().unwrap());
        let total = *m.lock();
        total
    });
    assert_eq!(total, 13);
}

#[test]
fn plain_threads() {
    watchdog(60, || {
        let wg = WaitGroup::new();
        let hits = Arc::new(AtomicUsize::new(0));
        for _ in 0..8 {
            wg.add(1);
            let (wg, hits) = (wg.clone(), hits.clone());
            std::thread::spawn(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(hits.load(Ordering::SeqCst), 8);
    });
}
