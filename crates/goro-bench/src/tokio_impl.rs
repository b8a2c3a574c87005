//! The anchor workloads on tokio's multi-thread runtime: tasks for goroutines,
//! `tokio::sync::mpsc` where one task receives, `async-channel` where several do (tokio's mpsc
//! is single-consumer), `tokio::select!` for select, and `tokio::sync::Mutex` (the lock that
//! parks a task, as Go's parks a goroutine) for the mutex. The body runs as a spawned task, as
//! Go's runs in its main goroutine.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::runtime::Runtime;
use tokio::sync::{mpsc, Mutex, Notify};

use crate::workloads::{bytes_per, ns_per, rss_kib, worker_threads, Job, Outcome, Shape};

/// Measures one workload.
pub fn measure(job: &Job) -> Outcome {
    let n = job.n();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .build()
        .expect("cannot start tokio's runtime");
    match job.workload.shape {
        Shape::PingPong => on_task(&rt, pingpong(n)),
        Shape::SpawnJoin => on_task(&rt, spawn(n)),
        Shape::ProdCons { cap: 0, .. } => {
            Outcome::Unsupported("tokio has no rendezvous channel (capacity 0)".into())
        }
        Shape::ProdCons {
            cap,
            producers: 1,
            consumers: 1,
        } => on_task(&rt, spsc(n, cap)),
        Shape::ProdCons {
            cap,
            producers,
            consumers,
        } => on_task(&rt, mpmc(n, cap, producers, consumers)),
        Shape::SelectRecv2 => on_task(&rt, select_recv(n)),
        Shape::Mutex { workers } => on_task(&rt, mutex(n, workers)),
        Shape::Parked => on_task(&rt, parked(n)),
        Shape::Sieve => on_task(&rt, sieve(n)),
    }
}

/// Runs a workload's body as a task on `rt` and waits for its result.
fn on_task(rt: &Runtime, body: impl Future<Output = f64> + Send + 'static) -> Outcome {
    Outcome::Value(rt.block_on(rt.spawn(body)).expect("workload task panicked"))
}

/// Go's `sync.WaitGroup` for tasks (tokio has none): a counter and a wake-up for one waiter.
#[derive(Clone, Default)]
struct WaitGroup(Arc<(AtomicUsize, Notify)>);

impl WaitGroup {
    fn add(&self, n: usize) {
        self.0 .0.fetch_add(n, Ordering::Relaxed);
    }

    fn done(&self) {
        if self.0 .0.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Stores a permit when the waiter is not parked yet, so no wake-up is lost.
            self.0 .1.notify_one();
        }
    }

    async fn wait(&self) {
        while self.0 .0.load(Ordering::Acquire) != 0 {
            self.0 .1.notified().await;
        }
    }
}

// Capacity 1, as tokio has no rendezvous channel; each side waits for the other's reply, so at
// most one value is ever in flight per channel, exactly as with Go's unbuffered channels.
async fn pingpong(n: usize) -> f64 {
    let (a_tx, mut a_rx) = mpsc::channel::<usize>(1);
    let (b_tx, mut b_rx) = mpsc::channel::<usize>(1);
    tokio::spawn(async move {
        while let Some(v) = a_rx.recv().await {
            b_tx.send(v + 1)
                .await
                .expect("pingpong: main stopped receiving");
        }
    });
    let t = Instant::now();
    for i in 0..n {
        a_tx.send(i).await.expect("pingpong: echo task gone");
        b_rx.recv().await.expect("pingpong: echo task gone");
    }
    let d = t.elapsed();
    drop(a_tx);
    ns_per(d, n)
}

async fn spawn(n: usize) -> f64 {
    let wg = WaitGroup::default();
    let t = Instant::now();
    wg.add(n);
    for _ in 0..n {
        let wg = wg.clone();
        tokio::spawn(async move { wg.done() });
    }
    wg.wait().await;
    ns_per(t.elapsed(), n)
}

async fn spsc(n: usize, cap: usize) -> f64 {
    let (tx, mut rx) = mpsc::channel::<usize>(cap);
    let (pw, cw) = (WaitGroup::default(), WaitGroup::default());
    let t = Instant::now();
    pw.add(1);
    let pw2 = pw.clone();
    tokio::spawn(async move {
        for i in 0..n {
            tx.send(i).await.expect("spsc: consumer gone");
        }
        pw2.done();
    });
    cw.add(1);
    let cw2 = cw.clone();
    tokio::spawn(async move {
        while rx.recv().await.is_some() {}
        cw2.done();
    });
    // The producer's sender is the only one: its drop closes the channel (Go's close(ch)).
    pw.wait().await;
    cw.wait().await;
    ns_per(t.elapsed(), n)
}

async fn mpmc(n: usize, cap: usize, producers: usize, consumers: usize) -> f64 {
    let (tx, rx) = async_channel::bounded::<usize>(cap);
    let (pw, cw) = (WaitGroup::default(), WaitGroup::default());
    let t = Instant::now();
    let per = n / producers;
    for _ in 0..producers {
        pw.add(1);
        let (tx, pw) = (tx.clone(), pw.clone());
        tokio::spawn(async move {
            for i in 0..per {
                tx.send(i).await.expect("mpmc: consumers gone");
            }
            pw.done();
        });
    }
    for _ in 0..consumers {
        cw.add(1);
        let (rx, cw) = (rx.clone(), cw.clone());
        tokio::spawn(async move {
            while rx.recv().await.is_ok() {}
            cw.done();
        });
    }
    pw.wait().await;
    tx.close();
    cw.wait().await;
    ns_per(t.elapsed(), per * producers)
}

async fn select_recv(n: usize) -> f64 {
    let (a_tx, mut a) = mpsc::channel::<usize>(64);
    let (b_tx, mut b) = mpsc::channel::<usize>(64);
    for tx in [&a_tx, &b_tx] {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0..n / 2 {
                tx.send(i).await.expect("select_recv2: receiver gone");
            }
        });
    }
    // a_tx and b_tx stay alive, as Go's channels stay open: a drained channel is never ready.
    let t = Instant::now();
    for _ in 0..(n / 2) * 2 {
        tokio::select! {
            _ = a.recv() => {},
            _ = b.recv() => {},
        }
    }
    let d = t.elapsed();
    drop((a_tx, b_tx));
    ns_per(d, n)
}

async fn mutex(n: usize, workers: usize) -> f64 {
    let mu = Arc::new(Mutex::new(0usize));
    let wg = WaitGroup::default();
    let per = n / workers;
    let t = Instant::now();
    for _ in 0..workers {
        wg.add(1);
        let (mu, wg) = (Arc::clone(&mu), wg.clone());
        tokio::spawn(async move {
            for _ in 0..per {
                *mu.lock().await += 1;
            }
            wg.done();
        });
    }
    wg.wait().await;
    assert_eq!(*mu.lock().await, per * workers, "lost update");
    ns_per(t.elapsed(), per * workers)
}

async fn parked(n: usize) -> f64 {
    let before = rss_kib();
    let (release, rx) = async_channel::bounded::<()>(1);
    let (started, done) = (WaitGroup::default(), WaitGroup::default());
    started.add(n);
    done.add(n);
    for _ in 0..n {
        let (rx, started, done) = (rx.clone(), started.clone(), done.clone());
        tokio::spawn(async move {
            started.done();
            let _ = rx.recv().await; // Err once `release` is closed
            done.done();
        });
    }
    started.wait().await;
    let after = rss_kib();
    release.close();
    done.wait().await;
    bytes_per(before, after, n)
}

// Capacity 1 per stage, as tokio has no rendezvous channel.
async fn sieve(primes: usize) -> f64 {
    let t = Instant::now();
    let (tx, mut ch) = mpsc::channel::<usize>(1);
    tokio::spawn(async move {
        let mut i = 2;
        while tx.send(i).await.is_ok() {
            i += 1;
        }
    });
    for _ in 0..primes {
        let p = ch.recv().await.expect("sieve: stage gone");
        let (tx, out) = mpsc::channel::<usize>(1);
        let mut rx = std::mem::replace(&mut ch, out);
        // Left parked at the end, as in Go, until the runtime is dropped.
        tokio::spawn(async move {
            while let Some(v) = rx.recv().await {
                if v % p != 0 && tx.send(v).await.is_err() {
                    return;
                }
            }
        });
    }
    ns_per(t.elapsed(), primes)
}
