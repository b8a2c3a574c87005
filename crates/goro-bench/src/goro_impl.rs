//! The anchor workloads written with goro, line for line after `shared/anchors/go/main.go`.
//! Each body runs inside `goro::run`, as Go's run inside its main goroutine, on the default
//! runtime (worker count: `GOMAXPROCS` or the number of CPUs, like Go).

use std::sync::Arc;
use std::time::Instant;

use goro::sync::{Mutex, WaitGroup};
use goro::{chan, go, select};

use crate::workloads::{bytes_per, ns_per, rss_kib, Job, Outcome, Shape};

/// Measures one workload.
pub fn measure(job: &Job) -> Outcome {
    let n = job.n();
    let shape = job.workload.shape;
    Outcome::Value(goro::run(move || match shape {
        Shape::PingPong => pingpong(n),
        Shape::SpawnJoin => spawn(n),
        Shape::ProdCons {
            cap,
            producers,
            consumers,
        } => prodcons(n, cap, producers, consumers),
        Shape::SelectRecv2 => select_recv(n),
        Shape::Mutex { workers } => mutex(n, workers),
        Shape::Parked => parked(n),
        Shape::Sieve => sieve(n),
    }))
}

fn pingpong(n: usize) -> f64 {
    let (a, b) = (chan::<usize>(0), chan::<usize>(0));
    let (rx, tx) = (a.receiver(), b.sender());
    go(move || {
        for v in &rx {
            tx.send(v + 1).expect("pingpong: main stopped receiving");
        }
        tx.close();
    });
    let t = Instant::now();
    for i in 0..n {
        a.send(i).expect("pingpong: echo goroutine gone");
        b.recv().expect("pingpong: echo goroutine gone");
    }
    let d = t.elapsed();
    a.close();
    ns_per(d, n)
}

fn spawn(n: usize) -> f64 {
    let wg = WaitGroup::new();
    let t = Instant::now();
    wg.add(n);
    for _ in 0..n {
        let wg = wg.clone();
        go(move || wg.done());
    }
    wg.wait();
    ns_per(t.elapsed(), n)
}

fn prodcons(n: usize, cap: usize, producers: usize, consumers: usize) -> f64 {
    let ch = chan::<usize>(cap);
    let (pw, cw) = (WaitGroup::new(), WaitGroup::new());
    let t = Instant::now();
    let per = n / producers;
    for _ in 0..producers {
        pw.add(1);
        let (tx, pw) = (ch.sender(), pw.clone());
        go(move || {
            for i in 0..per {
                tx.send(i).expect("prodcons: consumers gone");
            }
            pw.done();
        });
    }
    for _ in 0..consumers {
        cw.add(1);
        let (rx, cw) = (ch.receiver(), cw.clone());
        go(move || {
            for _ in &rx {}
            cw.done();
        });
    }
    pw.wait();
    ch.close();
    cw.wait();
    ns_per(t.elapsed(), per * producers)
}

fn select_recv(n: usize) -> f64 {
    let (a, b) = (chan::<usize>(64), chan::<usize>(64));
    for ch in [&a, &b] {
        let tx = ch.sender();
        go(move || {
            for i in 0..n / 2 {
                tx.send(i).expect("select_recv2: receiver gone");
            }
        });
    }
    let t = Instant::now();
    for _ in 0..(n / 2) * 2 {
        let got = select! {
            recv(&a) -> v => v,
            recv(&b) -> v => v,
        };
        got.expect("select_recv2: main holds both channels open");
    }
    ns_per(t.elapsed(), n)
}

fn mutex(n: usize, workers: usize) -> f64 {
    let mu = Arc::new(Mutex::new(0usize));
    let wg = WaitGroup::new();
    let per = n / workers;
    let t = Instant::now();
    for _ in 0..workers {
        wg.add(1);
        let (mu, wg) = (Arc::clone(&mu), wg.clone());
        go(move || {
            for _ in 0..per {
                *mu.lock() += 1;
            }
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(*mu.lock(), per * workers, "lost update");
    ns_per(t.elapsed(), per * workers)
}

fn parked(n: usize) -> f64 {
    // Go calls runtime.GC() first; Rust has no collector to run.
    let before = rss_kib();
    let release = chan::<()>(0);
    let (started, done) = (WaitGroup::new(), WaitGroup::new());
    started.add(n);
    done.add(n);
    for _ in 0..n {
        let (rx, started, done) = (release.receiver(), started.clone(), done.clone());
        go(move || {
            started.done();
            let _ = rx.recv(); // None once `release` is closed
            done.done();
        });
    }
    started.wait();
    let after = rss_kib();
    release.close();
    done.wait();
    bytes_per(before, after, n)
}

fn sieve(primes: usize) -> f64 {
    let t = Instant::now();
    let mut ch = chan::<usize>(0);
    let tx = ch.sender();
    go(move || {
        // Like Go's generator this never stops on its own; it returns only once the first
        // filter is gone (goro fails sends to a channel nobody can receive from).
        let mut i = 2;
        while tx.send(i).is_ok() {
            i += 1;
        }
    });
    for _ in 0..primes {
        let p = ch.recv().expect("sieve: stage gone");
        let out = chan::<usize>(0);
        let (rx, tx) = (ch.receiver(), out.sender());
        go(move || {
            // Left parked at the end, as in Go; when the last channel is dropped the
            // pipeline's sends fail and the stages return one after the other.
            while let Some(v) = rx.recv() {
                if v % p != 0 && tx.send(v).is_err() {
                    return;
                }
            }
        });
        ch = out;
    }
    ns_per(t.elapsed(), primes)
}
