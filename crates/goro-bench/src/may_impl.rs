//! The anchor workloads that `may` can express: coroutines for goroutines, `may::sync`'s
//! channels, `WaitGroup` and `Mutex`. may's channels are all unbounded, so the workloads whose
//! meaning rests on a capacity (producer/consumer, select over buffered channels, the sieve's
//! rendezvous pipeline) are reported unsupported. may dies with ENOMEM once some 30k
//! coroutines are alive at once (each stack is a mapping of its own, and `vm.max_map_count` is
//! 65530 by default), so the workloads that hold many at once, `spawn_join` and `parked_*`,
//! always run in a child process, and a death there is reported as a failure.

use std::sync::Arc;
use std::time::Instant;

use may::sync::{mpmc, mpsc, Mutex, WaitGroup};

use crate::child;
use crate::workloads::{bytes_per, ns_per, rss_kib, worker_threads, Job, Outcome, Shape};

/// Set in the child process that runs a `parked_*` workload in-process.
const IN_CHILD_ENV: &str = "GORO_BENCH_MAY_IN_CHILD";

/// Measures one workload.
pub fn measure(job: &Job) -> Outcome {
    let n = job.n();
    let in_child = std::env::var_os(IN_CHILD_ENV).is_some();
    may::config().set_workers(worker_threads());
    match job.workload.shape {
        Shape::PingPong => on_coroutine(move || pingpong(n)),
        Shape::Mutex { workers } => on_coroutine(move || mutex(n, workers)),
        Shape::SpawnJoin | Shape::Parked if !in_child => {
            child::measure_in_child(crate::Runtime::May, job, IN_CHILD_ENV)
        }
        Shape::SpawnJoin => on_coroutine(move || spawn(n)),
        Shape::Parked => on_coroutine(move || parked(n)),
        Shape::ProdCons { .. } | Shape::SelectRecv2 => Outcome::Unsupported(
            "may's channels are unbounded: no capacity to rendezvous or block on".into(),
        ),
        Shape::Sieve => Outcome::Unsupported(
            "may's channels are unbounded: the sieve's generator would never block".into(),
        ),
    }
}

/// Runs a workload's body in a coroutine and waits for its result; a panic (may panics when
/// it cannot map a stack) becomes a failure.
fn on_coroutine(body: impl FnOnce() -> f64 + Send + 'static) -> Outcome {
    match may::go!(body).join() {
        Ok(v) => Outcome::Value(v),
        Err(panic) => Outcome::Failed(child::panic_message(&*panic)),
    }
}

// Unbounded channels: each side waits for the other's reply, so at most one value is ever in
// flight per channel, exactly as with Go's unbuffered channels.
fn pingpong(n: usize) -> f64 {
    let (a_tx, a_rx) = mpsc::channel::<usize>();
    let (b_tx, b_rx) = mpsc::channel::<usize>();
    may::go!(move || {
        for v in a_rx.iter() {
            b_tx.send(v + 1).expect("pingpong: main stopped receiving");
        }
    });
    let t = Instant::now();
    for i in 0..n {
        a_tx.send(i).expect("pingpong: echo coroutine gone");
        b_rx.recv().expect("pingpong: echo coroutine gone");
    }
    let d = t.elapsed();
    drop(a_tx);
    ns_per(d, n)
}

// may's WaitGroup counts clones: cloning is Go's Add(1), dropping is Done().
fn spawn(n: usize) -> f64 {
    let wg = WaitGroup::new();
    let t = Instant::now();
    for _ in 0..n {
        let wg = wg.clone();
        may::go!(move || drop(wg));
    }
    wg.wait();
    ns_per(t.elapsed(), n)
}

fn mutex(n: usize, workers: usize) -> f64 {
    let mu = Arc::new(Mutex::new(0usize));
    let wg = WaitGroup::new();
    let per = n / workers;
    let t = Instant::now();
    for _ in 0..workers {
        let (mu, wg) = (Arc::clone(&mu), wg.clone());
        may::go!(move || {
            for _ in 0..per {
                *mu.lock().expect("mutex_4: poisoned") += 1;
            }
            drop(wg);
        });
    }
    wg.wait();
    assert_eq!(*mu.lock().expect("poisoned"), per * workers, "lost update");
    ns_per(t.elapsed(), per * workers)
}

fn parked(n: usize) -> f64 {
    let before = rss_kib();
    let (release, rx) = mpmc::channel::<()>();
    let (started, done) = (WaitGroup::new(), WaitGroup::new());
    for _ in 0..n {
        let (rx, started, done) = (rx.clone(), started.clone(), done.clone());
        may::go!(move || {
            drop(started);
            let _ = rx.recv(); // Err once `release` is dropped
            drop(done);
        });
    }
    started.wait();
    let after = rss_kib();
    drop(release);
    done.wait();
    bytes_per(before, after, n)
}
