//! A worker pool: jobs fan out to workers over one channel, results fan back in over
//! another. Run with `cargo run --example chan_worker_pool`.
//!
//! The results channel closes when the last worker drops its `Sender`, which ends the
//! collecting loop: no counting, no WaitGroup.

use std::time::Duration;

use goro::{chan, go, Receiver};

#[goro::main]
fn main() {
    let (jobs, results) = (chan::<u32>(8), chan::<(usize, u32, u64)>(8));
    for worker in 0..3 {
        let (jobs, results) = (jobs.receiver(), results.sender());
        go(move || {
            for n in &jobs {
                goro::time::sleep(Duration::from_millis(2)); // pretend to work
                let factorial = (1..=u64::from(n)).product();
                results.send((worker, n, factorial)).unwrap();
            }
        });
    }
    let results = Receiver::from(results);
    go(move || {
        for n in 1..=12 {
            jobs.send(n).unwrap();
        }
    }); // the last handle to `jobs` goes: closed, and the workers finish
    let mut done: Vec<_> = results.iter().collect();
    done.sort_by_key(|&(_, n, _)| n);
    for (worker, n, factorial) in done {
        println!("worker {worker}: {n}! = {factorial}");
    }
}
