//! The sync and context part of the goro tour: `cargo run --release --example tour_sync`
//! (the main tour includes it too).
//!
//! Each `pub fn` shows one tool of Go's `sync`, `x/sync` and `context` packages as goro
//! spells it, and prints a few lines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::context::{Context, ContextError};
use goro::sync::{ErrGroup, Mutex, OnceCell, Semaphore, WaitGroup};

fn section(title: &str) {
    println!("\n== {title} ==");
}

/// The bank-counter race, made safe: in Go, `balance += amount` from many goroutines loses
/// updates unless you remember the Mutex. In Rust the balance lives *inside* the Mutex, so
/// forgetting to lock does not compile.
pub fn bank() {
    section("sync.Mutex: a bank balance shared by 1000 goroutines");
    let balance = Arc::new(Mutex::new(0i64));
    let wg = WaitGroup::new();
    for i in 1..=1000i64 {
        let balance = balance.clone();
        wg.go(move || {
            let amount = if i % 2 == 0 { i } else { -(i / 2) };
            let mut b = balance.lock();
            *b += amount;
            if i % 100 == 0 {
                goro::yield_now(); // others queue for the lock meanwhile: nothing is lost
            }
        });
    }
    wg.wait();
    let expected: i64 = (1..=1000i64)
        .map(|i| if i % 2 == 0 { i } else { -(i / 2) })
        .sum();
    println!(
        "deposits and withdrawals done: balance = {}",
        *balance.lock()
    );
    println!("expected                        {expected} (no lost updates)");
}

/// A WaitGroup over a fixed pool of workers draining a job channel.
pub fn worker_pool() {
    section("sync.WaitGroup: a pool of 4 workers");
    let jobs = goro::chan::<u64>(16);
    let results = goro::chan::<(usize, u64)>(16);
    let wg = WaitGroup::new();
    for id in 0..4 {
        let (jobs, results) = (jobs.receiver(), results.sender());
        wg.go(move || {
            for n in &jobs {
                results.send((id, n * n)).unwrap();
            }
        });
    }
    goro::go(move || {
        for n in 1..=20 {
            jobs.send(n).unwrap();
        }
    }); // `jobs` is dropped here: the channel closes and the workers' loops end
    let out = results.receiver();
    {
        let wg = wg.clone();
        goro::go(move || {
            wg.wait(); // every worker is done: no more results
            results.close();
        });
    }
    let mut per_worker = [0usize; 4];
    let mut sum = 0;
    for (id, square) in &out {
        per_worker[id] += 1;
        sum += square;
    }
    println!("sum of squares 1..=20 = {sum}");
    println!("jobs per worker: {per_worker:?}");
}

/// A request with a deadline: the backend is slower than the caller is willing to wait.
pub fn request_with_deadline() {
    section("context: a request with a deadline");
    fn backend(delay: Duration) -> goro::Receiver<&'static str> {
        let reply = goro::chan(1);
        let tx = reply.sender();
        goro::go(move || {
            goro::time::sleep(delay);
            let _ = tx.send("200 OK");
        });
        reply.receiver()
    }
    for delay in [Duration::from_millis(5), Duration::from_millis(200)] {
        let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(50));
        let start = Instant::now();
        let reply = backend(delay);
        let outcome = goro::select! {
            recv(&reply) -> r => r.ok_or(ContextError::Canceled),
            recv(&ctx.done()) -> _ => Err(ctx.err().unwrap()),
        };
        println!(
            "backend taking {delay:?}, deadline 50ms: {outcome:?} after {:?}",
            start.elapsed()
        );
    }
}

/// A semaphore bounds how many goroutines do something at once.
pub fn bounded_downloads() {
    section("semaphore: at most 3 downloads at a time");
    static SLOTS: Semaphore = Semaphore::new(3);
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let wg = WaitGroup::new();
    for _ in 0..12 {
        let (inside, peak) = (inside.clone(), peak.clone());
        wg.go(move || {
            let _slot = SLOTS.acquire();
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            goro::time::sleep(Duration::from_millis(5)); // "downloading"
            inside.fetch_sub(1, Ordering::SeqCst);
        });
    }
    wg.wait();
    println!(
        "12 downloads done; at most {} ran at once",
        peak.load(Ordering::SeqCst)
    );
}

/// An ErrGroup: the first failure cancels the siblings through the group's context.
pub fn first_error_cancels() {
    section("errgroup: the first error cancels the rest");
    let (group, ctx) = ErrGroup::with_context(&Context::background());
    for (name, delay) in [("alpha", 500), ("beta", 10), ("gamma", 500)] {
        let ctx = ctx.clone();
        group.go(move || {
            let work = goro::time::after(Duration::from_millis(delay));
            goro::select! {
                recv(&work) -> _ => if name == "beta" {
                    Err(format!("{name}: upstream returned 503"))
                } else {
                    Ok(())
                },
                recv(&ctx.done()) -> _ => {
                    println!("{name}: stopped early ({})", ctx.err().unwrap());
                    Ok(())
                },
            }
        });
    }
    println!("group result: {:?}", group.wait());
}

/// Lazily initialised shared state: exactly one goroutine runs the initialiser.
pub fn lazy_config() {
    section("OnceCell: lazy initialisation, once");
    static CONFIG: OnceCell<String> = OnceCell::new();
    static INITS: AtomicUsize = AtomicUsize::new(0);
    let wg = WaitGroup::new();
    for _ in 0..8 {
        wg.go(|| {
            CONFIG.get_or_init(|| {
                INITS.fetch_add(1, Ordering::SeqCst);
                goro::time::sleep(Duration::from_millis(5)); // "reading the file"
                "workers=8".to_string()
            });
        });
    }
    wg.wait();
    println!(
        "config = {:?}, initialiser ran {} time(s) for 8 goroutines",
        CONFIG.get().unwrap(),
        INITS.load(Ordering::SeqCst)
    );
}

/// Every demo of this part of the tour, in order.
pub fn tour() {
    bank();
    worker_pool();
    request_with_deadline();
    bounded_downloads();
    first_error_cancels();
    lazy_config();
}

#[goro::main]
fn main() {
    tour();
}
