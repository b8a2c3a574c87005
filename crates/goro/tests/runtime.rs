//! The runtime core: spawning, joining, parking, yielding, panics, stacks and shutdown.

mod support;

use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::watchdog;

fn single_worker() -> goro::Runtime {
    goro::Runtime::builder().max_procs(1).build().unwrap()
}

#[test]
fn spawn_and_join_100k_goroutines() {
    let sum = watchdog(120, || {
        goro::run(|| {
            let handles: Vec<_> = (0..100_000u64).map(|i| goro::go(move || i)).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
    });
    assert_eq!(sum, 100_000 * 99_999 / 2);
}

#[test]
fn spawn_from_plain_threads_onto_the_default_runtime() {
    let total = watchdog(60, || {
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                std::thread::spawn(move || {
                    let hs: Vec<_> = (0..1000u64)
                        .map(|i| goro::go(move || t * 1000 + i))
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum::<u64>()
    });
    assert_eq!(total, (0..4000u64).sum::<u64>());
}

#[test]
fn parked_goroutines_all_wake_from_their_timers() {
    // 100,000 goroutines asleep at once, then all released by their timers.
    const N: usize = 100_000;
    let (max_asleep, woke) = watchdog(120, || {
        let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
        rt.run(|| {
            let asleep = Arc::new(AtomicUsize::new(0));
            let max = Arc::new(AtomicUsize::new(0));
            let woke = Arc::new(AtomicUsize::new(0));
            let until = Instant::now() + Duration::from_secs(3);
            let hs: Vec<_> = (0..N)
                .map(|_| {
                    let (asleep, max, woke) = (asleep.clone(), max.clone(), woke.clone());
                    goro::go(move || {
                        let now = asleep.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now, Ordering::SeqCst);
                        goro::time::sleep(until.saturating_duration_since(Instant::now()));
                        assert!(Instant::now() >= until, "woke before its deadline");
                        asleep.fetch_sub(1, Ordering::SeqCst);
                        woke.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            (max.load(Ordering::SeqCst), woke.load(Ordering::SeqCst))
        })
    });
    assert_eq!(woke, N);
    assert_eq!(
        max_asleep, N,
        "all goroutines should have been asleep at the same time"
    );
}

#[test]
fn yield_now_interleaves_goroutines_on_one_worker() {
    let log = watchdog(30, || {
        single_worker().run(|| {
            let log = Arc::new(Mutex::new(Vec::new()));
            let hs: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|name| {
                    let log = log.clone();
                    goro::go(move || {
                        for i in 0..3 {
                            log.lock().unwrap().push(format!("{name}{i}"));
                            goro::yield_now();
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            let v = log.lock().unwrap().clone();
            v
        })
    });
    assert_eq!(log.len(), 6);
    for pair in log.windows(2) {
        assert_ne!(
            pair[0][..1],
            pair[1][..1],
            "goroutines must alternate: {log:?}"
        );
    }
}

#[test]
fn a_yield_loop_cannot_starve_a_new_goroutine() {
    watchdog(30, || {
        single_worker().run(|| {
            let flag = Arc::new(AtomicUsize::new(0));
            let f = flag.clone();
            goro::go(move || f.store(1, Ordering::SeqCst));
            while flag.load(Ordering::SeqCst) == 0 {
                goro::yield_now();
            }
        })
    });
}

#[test]
fn a_spawn_storm_keeps_a_bounded_backlog_on_one_worker() {
    // A goroutine that spawns without ever blocking yields once more than 4096 children
    // wait to start on its worker, so by the end of its loop all but about that many have
    // run.
    let ran = Arc::new(AtomicUsize::new(0));
    let ran_during_the_loop = watchdog(60, {
        let ran = ran.clone();
        move || {
            single_worker().run(move || {
                let handles: Vec<_> = (0..20_000)
                    .map(|_| {
                        let ran = ran.clone();
                        goro::go(move || ran.fetch_add(1, Ordering::Relaxed))
                    })
                    .collect();
                let during = ran.load(Ordering::Relaxed);
                for h in handles {
                    h.join().unwrap();
                }
                during
            })
        }
    });
    assert!(
        (20_000 - 4200..20_000).contains(&ran_during_the_loop),
        "{ran_during_the_loop} of 20000 children ran while their spawner looped"
    );
    assert_eq!(ran.load(Ordering::Relaxed), 20_000);
}

#[test]
fn a_parked_goroutine_never_blocks_the_others_on_one_worker() {
    let order = watchdog(30, || {
        single_worker().run(|| {
            let log = Arc::new(Mutex::new(Vec::new()));
            let l = log.clone();
            let sleeper = goro::go(move || {
                goro::time::sleep(Duration::from_millis(100));
                l.lock().unwrap().push("sleeper");
            });
            let l = log.clone();
            let worker = goro::go(move || {
                let s: u64 = (0..1000u64).sum();
                l.lock().unwrap().push("worker");
                s
            });
            assert_eq!(worker.join().unwrap(), 499_500);
            sleeper.join().unwrap();
            let v = log.lock().unwrap().clone();
            v
        })
    });
    assert_eq!(order, ["worker", "sleeper"]);
}

#[test]
fn a_panic_stays_in_its_goroutine_and_reaches_join() {
    let (payload, after) = watchdog(30, || {
        goro::run(|| {
            let h = goro::go(|| -> u32 { panic!("boom {}", 7) });
            let err = h.join().unwrap_err();
            let msg = err
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            (msg, goro::go(|| 5).join().unwrap())
        })
    });
    assert_eq!(payload, "boom 7");
    assert_eq!(after, 5);
}

#[test]
fn run_reraises_the_panic_of_its_goroutine() {
    let err = catch_unwind(|| goro::run(|| panic!("main goroutine failed"))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"main goroutine failed"));
}

#[test]
fn run_inside_a_goroutine_panics_with_a_clear_message() {
    let msg = watchdog(30, || {
        goro::run(|| {
            let err = catch_unwind(|| goro::run(|| 1)).unwrap_err();
            err.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| err.downcast_ref::<String>().cloned())
                .unwrap()
        })
    });
    assert!(msg.contains("inside a goroutine"), "{msg}");
}

fn recurse(depth: usize) -> u64 {
    let frame = std::hint::black_box([depth as u8; 1024]);
    if depth == 0 {
        return frame[0] as u64;
    }
    recurse(depth - 1) + frame[1023] as u64
}

#[test]
fn recursion_using_100_kib_of_stack_fits_the_default_size() {
    let v = watchdog(30, || goro::run(|| recurse(100)));
    assert_eq!(v, (1..=100u64).map(|d| d as u8 as u64).sum::<u64>());
}

#[test]
fn ids_are_unique_and_absent_on_plain_threads() {
    assert_eq!(goro::current_id(), None);
    let ids = watchdog(30, || {
        goro::run(|| {
            let hs: Vec<_> = (0..100)
                .map(|_| goro::go(|| goro::current_id().unwrap()))
                .collect();
            let ids: Vec<_> = hs
                .into_iter()
                .map(|h| (h.id(), h.join().unwrap()))
                .collect();
            ids
        })
    });
    for (handle_id, own_id) in &ids {
        assert_eq!(handle_id, own_id);
    }
    let mut uniq: Vec<_> = ids.iter().map(|p| p.0).collect();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 100);
}

#[test]
fn num_goroutine_counts_live_goroutines() {
    watchdog(30, || {
        let rt = single_worker();
        assert_eq!(rt.num_goroutine(), 0);
        let sleepers: Vec<_> = (0..5)
            .map(|_| rt.go(|| goro::time::sleep(Duration::from_millis(200))))
            .collect();
        assert_eq!(rt.num_goroutine(), 5);
        assert_eq!(rt.run(goro::num_goroutine), 6);
        sleepers.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(rt.num_goroutine(), 0);
    });
}

#[test]
fn a_joined_goroutine_is_no_longer_counted() {
    watchdog(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
        for i in 0..2000 {
            rt.go(move || i).join().unwrap();
            assert_eq!(rt.num_goroutine(), 0, "after join {i}");
        }
    });
}

#[test]
fn is_finished_turns_true_after_the_goroutine_returns() {
    watchdog(30, || {
        let h = goro::go(|| goro::time::sleep(Duration::from_millis(30)));
        assert!(!h.is_finished());
        while !h.is_finished() {
            std::thread::sleep(Duration::from_millis(1));
        }
        h.join().unwrap();
    });
}

#[test]
#[should_panic(expected = "at least one worker")]
fn max_procs_zero_is_refused() {
    let _ = goro::Runtime::builder().max_procs(0);
}

struct CountOnDrop(Arc<AtomicUsize>);

impl Drop for CountOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_a_runtime_unwinds_parked_goroutines() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let parked = Arc::new(AtomicUsize::new(0));
    let joins = watchdog(30, {
        let (dropped, parked) = (dropped.clone(), parked.clone());
        move || {
            let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
            let handles: Vec<_> = (0..10)
                .map(|_| {
                    let guard = CountOnDrop(dropped.clone());
                    let parked = parked.clone();
                    rt.go(move || {
                        let _guard = guard;
                        parked.fetch_add(1, Ordering::SeqCst);
                        goro::time::sleep(Duration::from_secs(3600));
                    })
                })
                .collect();
            while parked.load(Ordering::SeqCst) < 10 {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(rt);
            handles
                .into_iter()
                .map(|h| h.join().is_err())
                .collect::<Vec<_>>()
        }
    });
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        10,
        "every parked goroutine's destructors ran"
    );
    assert_eq!(
        joins,
        vec![true; 10],
        "their joins report that they did not finish"
    );
}

#[test]
fn dropping_a_runtime_drops_goroutines_that_never_started() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    watchdog(30, move || {
        let rt = single_worker();
        let blocker = Arc::new(AtomicUsize::new(0));
        let b = blocker.clone();
        // Occupy the only worker so the others cannot start before the drop.
        let busy = rt.go(move || {
            while b.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
        });
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let guard = CountOnDrop(d.clone());
                rt.go(move || drop(guard))
            })
            .collect();
        blocker.store(1, Ordering::SeqCst);
        drop(rt);
        busy.join().unwrap();
        for h in waiting {
            let _ = h.join();
        }
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[test]
fn gomaxprocs_sets_the_default_worker_count() {
    if std::env::var("GORO_TEST_GOMAXPROCS_CHILD").is_ok() {
        assert_eq!(goro::max_procs(), 3);
        assert_eq!(goro::run(goro::max_procs), 3);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "gomaxprocs_sets_the_default_worker_count",
            "--nocapture",
        ])
        .env("GORO_TEST_GOMAXPROCS_CHILD", "1")
        .env("GOMAXPROCS", "3")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

/// Two goroutines handing off to each other through the next slot, with nothing else
/// queued, do not keep a goroutine waiting to start on their worker from starting.
#[test]
fn a_hand_off_pair_does_not_starve_a_goroutine_waiting_to_start() {
    let rounds = watchdog(60, || {
        let rt = single_worker();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let rounds = Arc::new(AtomicUsize::new(0));
        let (a, b) = (goro::chan::<u8>(0), goro::chan::<u8>(0));
        let (rx, tx) = (a.receiver(), b.sender());
        let echo = rt.go(move || {
            for v in &rx {
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let (tx, rx) = (a.sender(), b.receiver());
        let ping = {
            let (stop, rounds) = (stop.clone(), rounds.clone());
            rt.go(move || {
                while !stop.load(Ordering::SeqCst) {
                    tx.send(0).unwrap();
                    rx.recv().unwrap();
                    rounds.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        drop((a, b));
        while rounds.load(Ordering::SeqCst) < 100 {
            std::thread::yield_now();
        }
        // Queued from this plain thread behind the pair, which never leaves the worker.
        let late = rt.go(move || stop.store(true, Ordering::SeqCst));
        late.join().unwrap();
        ping.join().unwrap();
        echo.join().unwrap();
        rounds.load(Ordering::SeqCst)
    });
    assert!(rounds >= 100);
}
