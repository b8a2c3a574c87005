//! Time and select: a timeout arm, a heartbeat from a `Ticker`, and a `Timer` that is
//! reset whenever there is activity (an idle timeout). Run with
//! `cargo run --example chan_timeouts`.

use std::time::{Duration, Instant};

use goro::time::{after, Ticker, Timer};
use goro::{chan, go, select};

#[goro::main]
fn main() {
    let start = Instant::now();
    let events = chan::<&str>(0);
    let tx = events.sender();
    go(move || {
        for (delay, what) in [
            (5, "connect"),
            (10, "request"),
            (15, "request"),
            (80, "late"),
        ] {
            goro::time::sleep(Duration::from_millis(delay));
            if tx.send(what).is_err() {
                return; // nobody listens any more
            }
        }
    });

    let heartbeat = Ticker::new(Duration::from_millis(20));
    let idle = Timer::new(Duration::from_millis(40));
    let deadline = after(Duration::from_millis(500));
    loop {
        select! {
            recv(&events) -> ev => {
                println!("{:>3} ms event {:?}", start.elapsed().as_millis(), ev.unwrap());
                idle.reset(Duration::from_millis(40)); // activity: restart the idle timer
            }
            recv(heartbeat.receiver()) -> _ => println!("{:>3} ms heartbeat", start.elapsed().as_millis()),
            recv(idle.receiver()) -> _ => {
                println!("{:>3} ms idle for 40ms: closing", start.elapsed().as_millis());
                break;
            }
            recv(&deadline) -> _ => {
                println!("{:>3} ms overall deadline", start.elapsed().as_millis());
                break;
            }
        }
    }
    heartbeat.stop();
}
