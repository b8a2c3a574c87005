//! A tour of goro's channels: pipelines, fan-out/fan-in, the concurrent prime sieve, select
//! with a timeout, ranging over a closed channel, and direction-typed parameters.
//!
//! Run it alone with `cargo run --example tour_channels`; `examples/tour.rs` includes it as a
//! module and calls [`tour`] from its main goroutine.

use std::time::{Duration, Instant};

use goro::{chan, go, select, Receiver, Sender};

fn heading(title: &str) {
    println!("\n== {title} ==");
}

/// A pipeline: generate -> square -> sum, one goroutine per stage, connected by unbuffered
/// channels. Each stage closes its output by dropping its `Sender` when its input ends.
pub fn pipeline() {
    heading("pipeline: generate -> square -> sum");
    fn generate(n: u64) -> Receiver<u64> {
        let out = chan(0);
        let tx = out.sender();
        go(move || (1..=n).for_each(|i| tx.send(i).unwrap()));
        out.into()
    }
    fn square(input: Receiver<u64>) -> Receiver<u64> {
        let out = chan(0);
        let tx = out.sender();
        go(move || {
            for v in input {
                tx.send(v * v).unwrap();
            }
        });
        out.into()
    }
    let squares = square(generate(10));
    let total: u64 = squares.iter().sum();
    println!("sum of the squares of 1..=10 = {total}");
}

/// Fan-out/fan-in: a pool of workers takes jobs from one channel and sends results to
/// another; the results channel closes when the last worker drops its sender.
pub fn worker_pool() {
    heading("worker pool: fan-out, fan-in");
    let (jobs, results) = (chan::<u64>(16), chan::<(usize, u64, u64)>(16));
    for worker in 0..4 {
        let (rx, tx) = (jobs.receiver(), results.sender());
        go(move || {
            for n in &rx {
                goro::time::sleep(Duration::from_millis(1)); // stands in for real work or I/O
                let collatz_steps = {
                    let (mut n, mut steps) = (n, 0);
                    while n != 1 {
                        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
                        steps += 1;
                    }
                    steps
                };
                tx.send((worker, n, collatz_steps)).unwrap();
            }
        });
    }
    let results = Receiver::from(results); // only the workers send now
    let feeder = go(move || {
        for n in 1..=20 {
            jobs.send(n).unwrap();
        }
    }); // `jobs` is dropped here: closed, so the workers' loops end
    let mut per_worker = [0; 4];
    let mut longest = (0, 0);
    for (worker, n, steps) in &results {
        per_worker[worker] += 1;
        longest = longest.max((steps, n));
    }
    feeder.join().unwrap();
    println!("20 jobs done by 4 workers ({per_worker:?} each)");
    println!(
        "longest Collatz run below 21: {} takes {} steps",
        longest.1, longest.0
    );
}

/// The concurrent prime sieve: a generator and one filter goroutine per prime found.
pub fn prime_sieve() {
    heading("concurrent prime sieve");
    let gen = chan::<u32>(0);
    let tx = gen.sender();
    go(move || {
        let mut i = 2;
        while tx.send(i).is_ok() {
            i += 1;
        }
    });
    let mut ch: Receiver<u32> = gen.into();
    let mut primes = Vec::new();
    for _ in 0..15 {
        let p = ch.recv().unwrap();
        primes.push(p);
        let out = chan(0);
        let (input, tx) = (ch, out.sender());
        go(move || {
            for v in input {
                if v % p != 0 && tx.send(v).is_err() {
                    return;
                }
            }
        });
        ch = out.into();
    }
    println!("first 15 primes: {primes:?}");
    // Dropping the last receiver makes the last filter's send fail; the pipeline unwinds.
}

/// `select!` with a timeout arm, and with `default` for a non-blocking poll.
pub fn select_with_timeout() {
    heading("select with a timeout");
    let slow = chan::<&str>(0);
    let tx = slow.sender();
    go(move || {
        goro::time::sleep(Duration::from_millis(50));
        let _ = tx.send("slow answer");
    });
    let start = Instant::now();
    select! {
        recv(&slow) -> v => println!("got {v:?}"),
        recv(&goro::time::after(Duration::from_millis(10))) -> _ => {
            println!("timed out after {:?}", start.elapsed());
        }
    }
    let polled = select! {
        recv(&slow) -> v => format!("{v:?}"),
        default => "nothing ready yet".to_string(),
    };
    println!("non-blocking poll: {polled}");
    println!("then waiting: {:?}", slow.recv());
}

/// Ranging over a channel ends once it is closed and drained: buffered values still come
/// out after the close.
pub fn range_over_closed() {
    heading("range over a closed channel");
    let ch = chan::<&str>(3);
    for word in ["buffered", "values", "survive"] {
        ch.send(word).unwrap();
    }
    ch.close();
    println!(
        "closed: {}; sending now fails: {}",
        ch.is_closed(),
        ch.send("late").unwrap_err()
    );
    let words: Vec<&str> = ch.iter().collect();
    println!("but the range still drains them: {words:?}");
    println!("after the range, recv gives {:?}", ch.recv());
}

/// Direction in the types: a function that only sends takes a `Sender`, one that only
/// receives takes a `Receiver`. The compiler rejects a receive on a `Sender` or a close on
/// a `Receiver`.
pub fn directional_params() {
    heading("send-only and receive-only parameters");
    fn ping(out: &Sender<String>, msg: &str) {
        out.send(msg.to_string()).unwrap();
    }
    fn pong(input: &Receiver<String>, out: &Sender<String>) {
        let msg = input.recv().unwrap();
        out.send(format!("{msg}, pong")).unwrap();
    }
    let (pings, pongs) = (chan::<String>(1), chan::<String>(1));
    ping(&pings.sender(), "ping");
    pong(&pings.receiver(), &pongs.sender());
    println!("{}", pongs.recv().unwrap());
}

/// Every demo, in order.
pub fn tour() {
    pipeline();
    worker_pool();
    prime_sieve();
    select_with_timeout();
    range_over_closed();
    directional_params();
}

#[goro::main]
fn main() {
    tour();
}
