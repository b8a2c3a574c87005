//! Ping-pong over two unbuffered channels: the cost of a rendezvous round trip (two
//! hand-offs, two park/wake pairs). Run with `cargo run --release --example chan_pingpong`.
//!
//! On a one-worker runtime both goroutines share the thread, so a round trip is two
//! context switches; on two workers the pair usually still shares one (a blocked spawner
//! hands its worker to its child), and a buffered channel is timed too.

use std::time::Instant;

/// Round trips of `ping`/`pong` between the calling goroutine and an echo goroutine, over
/// channels of capacity `cap`; returns nanoseconds per round trip.
fn round_trips(n: u64, cap: usize) -> f64 {
    let (ping, pong) = (goro::chan::<u64>(cap), goro::chan::<u64>(cap));
    let (rx, tx) = (ping.receiver(), pong.sender());
    let echo = goro::go(move || {
        for v in &rx {
            if tx.send(v + 1).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    for i in 0..n {
        ping.send(i).expect("echo goroutine gone");
        assert_eq!(pong.recv(), Some(i + 1));
    }
    let per = start.elapsed().as_nanos() as f64 / n as f64;
    ping.close();
    echo.join().expect("echo goroutine panicked");
    per
}

fn main() {
    let n = 1_000_000;
    for procs in [1, 2] {
        let rt = goro::Runtime::builder()
            .max_procs(procs)
            .build()
            .expect("runtime");
        for cap in [0, 1] {
            let per = rt.run(move || round_trips(n, cap));
            println!("max_procs({procs}) cap {cap}: {per:.0} ns per round trip");
        }
    }
}
