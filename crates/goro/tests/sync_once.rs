//! goro::sync::Once and OnceCell: exactly one run under contention, waiting callers park,
//! panics (Once: done; OnceCell: retried), plain threads.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::{Once, OnceCell, WaitGroup};
use support::{on_runtime, watchdog};

fn once_under_contention(procs: usize) {
    let (calls, seen) = on_runtime(procs, || {
        let once = Arc::new(Once::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for _ in 0..100 {
            let (once, calls, seen) = (once.clone(), calls.clone(), seen.clone());
            wg.go(move || {
                once.call_once(|| {
                    // The first caller parks mid-call; the others must wait for it.
                    goro::time::sleep(Duration::from_millis(5));
                    calls.fetch_add(1, Ordering::SeqCst);
                });
                // Whoever returns sees the call's effect.
                seen.fetch_add(calls.load(Ordering::SeqCst), Ordering::SeqCst);
            });
        }
        wg.wait();
        (calls.load(Ordering::SeqCst), seen.load(Ordering::SeqCst))
    });
    assert_eq!(calls, 1);
    assert_eq!(seen, 100);
}

#[test]
fn once_runs_exactly_once_on_one_worker() {
    once_under_contention(1);
}

#[test]
fn once_runs_exactly_once_on_two_workers() {
    once_under_contention(2);
}

#[test]
fn once_from_plain_threads() {
    watchdog(60, || {
        static ONCE: Once = Once::new();
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let ts: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    ONCE.call_once(|| {
                        std::thread::sleep(Duration::from_millis(5));
                        CALLS.fetch_add(1, Ordering::SeqCst);
                    });
                    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert!(ONCE.is_completed());
    });
}

#[test]
fn a_panicking_call_still_counts_as_done() {
    on_runtime(2, || {
        let once = Arc::new(Once::default());
        let o = once.clone();
        let first = goro::go(move || {
            o.call_once(|| {
                goro::time::sleep(Duration::from_millis(5));
                panic!("init failed");
            })
        });
        goro::yield_now();
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let once = once.clone();
                goro::go(move || once.call_once(|| unreachable!("the panicked call counts")))
            })
            .collect();
        assert!(
            first.join().is_err(),
            "the panic reaches the caller that ran it"
        );
        waiters.into_iter().for_each(|h| h.join().unwrap());
        assert!(once.is_completed());
        assert_eq!(format!("{once:?}"), "Once { completed: true }");
    });
}

#[test]
fn once_cell_initialises_once_under_contention() {
    let (inits, sum) = on_runtime(2, || {
        let cell: Arc<OnceCell<usize>> = Arc::new(OnceCell::new());
        let inits = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let (cell, inits) = (cell.clone(), inits.clone());
                goro::go(move || {
                    *cell.get_or_init(|| {
                        inits.fetch_add(1, Ordering::SeqCst);
                        goro::time::sleep(Duration::from_millis(5));
                        i + 1000
                    }) - *cell.get().unwrap()
                })
            })
            .collect();
        let sum: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        (inits.load(Ordering::SeqCst), sum)
    });
    assert_eq!(inits, 1);
    assert_eq!(sum, 0, "everyone saw the same value");
}

#[test]
fn once_cell_set_get_and_debug() {
    let cell = OnceCell::default();
    assert_eq!(cell.get(), None);
    assert_eq!(format!("{cell:?}"), "OnceCell(<uninit>)");
    assert_eq!(cell.set(String::from("a")), Ok(()));
    assert_eq!(cell.set(String::from("b")), Err(String::from("b")));
    assert_eq!(cell.get().map(String::as_str), Some("a"));
    assert_eq!(cell.get_or_init(|| unreachable!()), "a");
    assert_eq!(format!("{cell:?}"), "OnceCell(\"a\")");
}

#[test]
fn once_cell_retries_after_a_panicking_initialiser() {
    on_runtime(1, || {
        let cell = Arc::new(OnceCell::new());
        let c = cell.clone();
        let failing = goro::go(move || {
            c.get_or_init(|| {
                goro::time::sleep(Duration::from_millis(5));
                panic!("first init fails")
            });
        });
        goro::yield_now();
        let c = cell.clone();
        let second = goro::go(move || *c.get_or_init(|| 2));
        assert!(failing.join().is_err());
        assert_eq!(second.join().unwrap(), 2);
        assert_eq!(cell.get(), Some(&2));
    });
}

#[test]
fn once_cell_drops_its_value() {
    let marker = Arc::new(());
    {
        let cell = OnceCell::new();
        cell.set(marker.clone()).unwrap();
        assert_eq!(Arc::strong_count(&marker), 2);
    }
    assert_eq!(Arc::strong_count(&marker), 1);
}
