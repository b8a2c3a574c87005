//! Criterion micro-benchmarks of goro's hot paths: a context switch, a park/wake round trip on
//! one worker, the same with deadlines, a select with a `time::after` arm, an uncontended
//! channel operation and an uncontended mutex. Kept short (10 samples, half a second each)
//! so that `cargo bench -p goro` finishes quickly; the workload comparisons live in the
//! `goro-bench` crate.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use goro::Runtime;

/// A runtime with a single worker, so that both goroutines of a pair share one thread.
fn one_worker() -> Runtime {
    Runtime::builder()
        .max_procs(1)
        .build()
        .expect("cannot build a one-worker runtime")
}

/// Two goroutines `yield_now`-ing in turn on one worker: each iteration is two switches.
fn context_switch(c: &mut Criterion) {
    let rt = one_worker();
    c.bench_function("context_switch/yield_now_pair", |b| {
        b.iter_custom(|iters| {
            rt.run(move || {
                let other = goro::go(move || {
                    for _ in 0..iters {
                        goro::yield_now();
                    }
                });
                let t = Instant::now();
                for _ in 0..iters {
                    goro::yield_now();
                }
                let elapsed = t.elapsed();
                other.join().expect("yielding goroutine panicked");
                elapsed
            })
        })
    });
}

/// A ping-pong on one worker over two channels of capacity `cap`, each receive waiting up
/// to `timeout` (forever if `None`): each iteration parks and wakes each side once.
fn roundtrip(c: &mut Criterion, name: &str, cap: usize, timeout: Option<Duration>) {
    let rt = one_worker();
    let recv = move |rx: &goro::Receiver<u64>| match timeout {
        Some(t) => rx.recv_timeout(t).ok(),
        None => rx.recv(),
    };
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.run(move || {
                let (ping, pong) = (goro::chan::<u64>(cap), goro::chan::<u64>(cap));
                let (rx, tx) = (ping.receiver(), pong.sender());
                let echo = goro::go(move || {
                    while let Some(v) = recv(&rx) {
                        tx.send(v).expect("main stopped receiving");
                    }
                });
                let (rx, tx) = (pong.receiver(), ping.sender());
                let t = Instant::now();
                for i in 0..iters {
                    tx.send(i).expect("echo goroutine gone");
                    recv(&rx).expect("echo goroutine gone");
                }
                let elapsed = t.elapsed();
                ping.close();
                echo.join().expect("echo goroutine panicked");
                elapsed
            })
        })
    });
}

/// An unbuffered ping-pong on one worker.
fn park_wake(c: &mut Criterion) {
    roundtrip(c, "park_wake/unbuffered_roundtrip", 0, None);
}

/// The same over one-slot channels with `recv_timeout`: every receive parks with a deadline
/// a minute away, which its partner's send beats (so every deadline set ends up a stale
/// timer for the worker to prune).
fn timed_park_wake(c: &mut Criterion) {
    roundtrip(
        c,
        "timers/recv_timeout_roundtrip",
        1,
        Some(Duration::from_secs(60)),
    );
}

/// A select between a channel holding a value and a fresh `time::after(1 s)`: Go's timeout
/// idiom, paying for the time channel that loses each time.
fn select_with_after(c: &mut Criterion) {
    let ch = goro::chan::<u64>(1);
    c.bench_function("timers/select_with_after", |b| {
        b.iter(|| {
            ch.try_send(black_box(7)).expect("buffer is empty");
            goro::select! {
                recv(&ch) -> v => v,
                recv(&goro::time::after(Duration::from_secs(1))) -> _ => None,
            }
        })
    });
}

/// `try_send` then `try_recv` on a buffered channel nobody else touches.
fn channel_uncontended(c: &mut Criterion) {
    let ch = goro::chan::<u64>(1);
    c.bench_function("chan/try_send_try_recv", |b| {
        b.iter(|| {
            ch.try_send(black_box(7)).expect("buffer is empty");
            ch.try_recv().expect("buffer holds one value")
        })
    });
}

/// Lock and unlock of a `goro::sync::Mutex` nobody else holds.
fn mutex_uncontended(c: &mut Criterion) {
    let mu = goro::sync::Mutex::new(0u64);
    c.bench_function("mutex/lock_unlock", |b| b.iter(|| *mu.lock() += 1));
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(500));
    targets = context_switch, park_wake, timed_park_wake, select_with_after,
        channel_uncontended, mutex_uncontended
}
criterion_main!(hot_paths);
