//! A tour of goro: run it with `cargo run --release --example tour`.
//!
//! Each section shows one idea of Go's concurrency model as goro spells it in Rust.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "tour_channels.rs"]
#[allow(dead_code)]
mod channels;
#[path = "tour_sync.rs"]
#[allow(dead_code)]
mod sync;

fn section(title: &str) {
    println!("\n== {title} ==");
}

/// Goroutines are cheap: spawn a hundred thousand and join them.
fn goroutines() {
    section("goroutines");
    let start = Instant::now();
    let handles: Vec<_> = (0..100_000u64).map(|i| goro::go(move || i * 2)).collect();
    let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    println!(
        "100000 goroutines spawned and joined in {:?}; sum of results = {sum}",
        start.elapsed()
    );
    println!(
        "max_procs = {} worker threads (GOMAXPROCS)",
        goro::max_procs()
    );
}

/// `yield_now` is Go's `runtime.Gosched`: on one worker, goroutines take turns.
fn yielding() {
    section("yield_now on a single worker");
    let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
    let turns = rt.run(|| {
        let log = Arc::new(std::sync::Mutex::new(String::new()));
        let hs: Vec<_> = ["ping", "pong"]
            .into_iter()
            .map(|word| {
                let log = log.clone();
                goro::go(move || {
                    for _ in 0..3 {
                        log.lock().unwrap().push_str(word);
                        log.lock().unwrap().push(' ');
                        goro::yield_now();
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        let s = log.lock().unwrap().clone();
        s
    });
    println!("{turns}");
}

/// A sleeping goroutine parks; it never blocks its worker thread.
fn parking() {
    section("parking: a sleeping goroutine does not hold its worker");
    let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
    let work = Arc::new(AtomicU64::new(0));
    let w = work.clone();
    rt.run(move || {
        let sleeper = goro::go(|| goro::time::sleep(Duration::from_millis(50)));
        let busy = goro::go(move || w.store((1..=1000).sum(), Ordering::SeqCst));
        busy.join().unwrap();
        sleeper.join().unwrap();
    });
    println!(
        "while one goroutine slept on the only worker, another computed {}",
        work.load(Ordering::SeqCst)
    );
}

/// A panic unwinds its own goroutine only and is delivered to `join`.
fn panics() {
    section("panics stay in their goroutine");
    // Silence the default hook's report, which Go would print too, to keep the tour short.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let h = goro::go(|| -> u32 { panic!("something went wrong in a goroutine") });
    let result = h.join();
    std::panic::set_hook(hook);
    match result {
        Ok(_) => unreachable!(),
        Err(e) => println!(
            "join returned the panic: {:?}",
            e.downcast_ref::<&str>()
                .copied()
                .unwrap_or("<non-string payload>")
        ),
    }
    println!(
        "and the runtime goes on: {}",
        goro::go(|| 40 + 2).join().unwrap()
    );
}

fn depth(n: u32) -> u32 {
    let frame = std::hint::black_box([n as u8; 1000]);
    if n == 0 {
        0
    } else {
        1 + depth(n - 1) + u32::from(frame[0] == 255)
    }
}

/// Each goroutine has its own guarded stack (256 KiB by default).
fn deep_recursion() {
    section("deep recursion on a goroutine stack");
    let levels = goro::go(|| depth(100)).join().unwrap();
    println!("recursed {levels} levels using ~100 KiB of a 256 KiB goroutine stack");
    println!("(overflowing it prints `goroutine N overflowed its stack (256 KiB)` and aborts)");
}

/// Where Go dies with "all goroutines are asleep - deadlock!", `goro::run` panics with the
/// same words and a dump of every goroutine, instead of hanging.
fn deadlock() {
    section("a deliberate deadlock, caught");
    let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.run(|| {
            let (a, b) = (goro::chan::<u32>(0), goro::chan::<u32>(0));
            let (a2, b2) = (a.clone(), b.clone());
            goro::go(move || {
                let v = b2.recv().unwrap(); // waits for main...
                a2.send(v).unwrap();
            });
            a.recv() // ...which waits for it
        })
    }));
    std::panic::set_hook(quiet);
    match outcome {
        Ok(_) => unreachable!("the two goroutines wait on each other"),
        Err(e) => println!("{}", e.downcast_ref::<String>().unwrap()),
    }
}

/// Sections that need a runtime of their own (or must not run inside a goroutine) run
/// from the main thread; the rest run as goroutines on the default runtime.
fn main() {
    goro::run(goroutines);
    yielding();
    parking();
    goro::run(panics);
    goro::run(deep_recursion);
    goro::run(channels::tour);
    goro::run(sync::tour);
    deadlock();
}
