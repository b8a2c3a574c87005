//! goro::sync::Cond: a queue with notify_one, broadcast, parking on one worker, threads.

mod support;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::sync::{Cond, Mutex, WaitGroup};
use support::{on_runtime, watchdog};

/// A bounded queue: producers wait for room, consumers for items; every item arrives once.
fn bounded_queue(procs: usize) {
    let sum = on_runtime(procs, || {
        let q = Arc::new((Mutex::new(VecDeque::new()), Cond::new(), Cond::new()));
        let total = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for p in 0..4 {
            let q = q.clone();
            wg.go(move || {
                let (m, not_empty, not_full) = &*q;
                for i in 0..500 {
                    let mut g = m.lock();
                    while g.len() >= 4 {
                        g = not_full.wait(g);
                    }
                    g.push_back(p * 1000 + i + 1);
                    drop(g);
                    not_empty.notify_one();
                }
            });
        }
        let consumers = WaitGroup::new();
        for _ in 0..4 {
            let (q, total) = (q.clone(), total.clone());
            consumers.go(move || {
                let (m, not_empty, not_full) = &*q;
                for _ in 0..500 {
                    let mut g = m.lock();
                    let v = loop {
                        if let Some(v) = g.pop_front() {
                            break v;
                        }
                        g = not_empty.wait(g);
                    };
                    drop(g);
                    not_full.notify_one();
                    total.fetch_add(v, Ordering::Relaxed);
                }
            });
        }
        wg.wait();
        consumers.wait();
        total.load(Ordering::Relaxed)
    });
    let expected: usize = (0..4)
        .map(|p| (0..500).map(|i| p * 1000 + i + 1).sum::<usize>())
        .sum();
    assert_eq!(sum, expected);
}

#[test]
fn bounded_queue_on_one_worker() {
    bounded_queue(1);
}

#[test]
fn bounded_queue_on_two_workers() {
    bounded_queue(2);
}

/// Single-worker property: waiters park in `wait`, the notifier runs on the same worker.
#[test]
fn notify_all_releases_every_waiter_on_one_worker() {
    let released = on_runtime(1, || {
        let state = Arc::new((Mutex::new(false), Cond::default()));
        let released = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let (state, released) = (state.clone(), released.clone());
                goro::go(move || {
                    let (m, c) = &*state;
                    let mut go = m.lock();
                    while !*go {
                        go = c.wait(go);
                    }
                    released.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        goro::time::sleep(Duration::from_millis(5));
        assert_eq!(released.load(Ordering::SeqCst), 0);
        assert_eq!(format!("{:?}", state.1), "Cond { waiting: true }");
        *state.0.lock() = true;
        state.1.notify_all();
        hs.into_iter().for_each(|h| h.join().unwrap());
        released.load(Ordering::SeqCst)
    });
    assert_eq!(released, 10);
}

/// `notify_one` wakes one waiter per call: each token is consumed by exactly one waiter.
#[test]
fn notify_one_wakes_one_at_a_time() {
    on_runtime(2, || {
        let state = Arc::new((Mutex::new(0usize), Cond::new()));
        let done = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..5)
            .map(|_| {
                let (state, done) = (state.clone(), done.clone());
                goro::go(move || {
                    let (m, c) = &*state;
                    let mut tokens = m.lock();
                    while *tokens == 0 {
                        tokens = c.wait(tokens);
                    }
                    *tokens -= 1;
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for i in 1..=5 {
            *state.0.lock() += 1;
            state.1.notify_one();
            while done.load(Ordering::SeqCst) < i {
                goro::yield_now();
            }
        }
        hs.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*state.0.lock(), 0);
    });
}

#[test]
fn plain_threads_wait_goroutine_notifies() {
    watchdog(60, || {
        let state = Arc::new((Mutex::new(0u32), Cond::new()));
        let ts: Vec<_> = (0..3)
            .map(|_| {
                let state = state.clone();
                std::thread::spawn(move || {
                    let (m, c) = &*state;
                    let mut n = m.lock();
                    while *n < 3 {
                        n = c.wait(n);
                    }
                })
            })
            .collect();
        let s = state.clone();
        goro::run(move || {
            for _ in 0..3 {
                goro::time::sleep(Duration::from_millis(2));
                *s.0.lock() += 1;
                s.1.notify_all();
            }
        });
        ts.into_iter().for_each(|t| t.join().unwrap());
    });
}
