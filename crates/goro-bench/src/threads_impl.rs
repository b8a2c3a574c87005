//! The anchor workloads on plain OS threads, for three peers: `crossbeam` (crossbeam-channel),
//! `std` (std::sync::mpsc, std::sync::Mutex, std::thread) and `parking_lot` (its Mutex). The
//! body runs on the main thread. Parking 100k+ threads is out of reach (each stack is a
//! mapping, and `vm.max_map_count` is 65530 by default), so `parked_*` is unsupported here;
//! `spawn_join` and `pingpong_unbuffered` run fewer iterations than Go's (their results are
//! per iteration, and OS threads would take minutes), with a note on stderr.

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

use crate::workloads::{ns_per, Job, Outcome, Shape};

/// Threads spawned by `spawn_join`: a million OS threads would take minutes, and the cost per
/// thread is already stable at this size.
const SPAWN_THREADS: usize = 10_000;

/// Round trips of `pingpong_unbuffered`: each costs two OS context switches (about 20 µs on
/// two loaded cores), so Go's million would take 20 s a run; the cost per round trip is stable
/// long before.
const PINGPONG_ROUNDTRIPS: usize = 100_000;

/// `job`'s size capped at `cap` for OS threads, with a note on stderr when capped.
fn capped(job: &Job, cap: usize) -> usize {
    let n = job.n();
    if n > cap {
        eprintln!("{}: OS threads run {cap}, not {n}", job.workload.name);
    }
    n.min(cap)
}

/// Measures one workload with crossbeam-channel on OS threads.
pub fn measure_crossbeam(job: &Job) -> Outcome {
    let n = job.n();
    match job.workload.shape {
        Shape::PingPong => Outcome::Value(pingpong::<Crossbeam>(capped(job, PINGPONG_ROUNDTRIPS))),
        Shape::ProdCons {
            cap,
            producers,
            consumers,
        } => Outcome::Value(prodcons_crossbeam(n, cap, producers, consumers)),
        Shape::SelectRecv2 => Outcome::Value(select_recv(n)),
        Shape::Sieve => Outcome::Value(sieve::<Crossbeam>(n)),
        Shape::SpawnJoin | Shape::Mutex { .. } => Outcome::Unsupported(
            "a channel library: threads and locks are measured by std and parking_lot".into(),
        ),
        Shape::Parked => Outcome::Unsupported(too_many_threads()),
    }
}

/// Measures one workload with std's threads, channels and Mutex.
pub fn measure_std(job: &Job) -> Outcome {
    let n = job.n();
    match job.workload.shape {
        Shape::PingPong => Outcome::Value(pingpong::<Std>(capped(job, PINGPONG_ROUNDTRIPS))),
        Shape::SpawnJoin => Outcome::Value(spawn_join(capped(job, SPAWN_THREADS))),
        Shape::ProdCons {
            cap,
            producers: 1,
            consumers: 1,
        } => Outcome::Value(spsc::<Std>(n, cap)),
        Shape::ProdCons { .. } => {
            Outcome::Unsupported("std's mpsc channel has a single consumer".into())
        }
        Shape::SelectRecv2 => Outcome::Unsupported("std's channels have no select".into()),
        Shape::Mutex { workers } => Outcome::Value(mutex::<std::sync::Mutex<usize>>(n, workers)),
        Shape::Sieve => Outcome::Unsupported(
            "std's channels are crossbeam-channel's design; see crossbeam for the OS-thread \
             sieve (20 s a run)"
                .into(),
        ),
        Shape::Parked => Outcome::Unsupported(too_many_threads()),
    }
}

/// Measures one workload with parking_lot's Mutex on OS threads (it has nothing else to offer).
pub fn measure_parking_lot(job: &Job) -> Outcome {
    match job.workload.shape {
        Shape::Mutex { workers } => {
            Outcome::Value(mutex::<parking_lot::Mutex<usize>>(job.n(), workers))
        }
        _ => Outcome::Unsupported("parking_lot provides locks only".into()),
    }
}

fn too_many_threads() -> String {
    "100k parked OS threads exceed vm.max_map_count and the thread limit".into()
}

/// A bounded channel of `usize` between threads: crossbeam-channel's or std's.
trait Channel {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    /// A channel holding at most `cap` values; 0 is a rendezvous.
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx);
    /// Blocks until sent; false once the receiver is gone.
    fn send(tx: &Self::Tx, v: usize) -> bool;
    /// Blocks until received; `None` once every sender is gone.
    fn recv(rx: &Self::Rx) -> Option<usize>;
}

struct Crossbeam;

impl Channel for Crossbeam {
    type Tx = crossbeam_channel::Sender<usize>;
    type Rx = crossbeam_channel::Receiver<usize>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        crossbeam_channel::bounded(cap)
    }
    fn send(tx: &Self::Tx, v: usize) -> bool {
        tx.send(v).is_ok()
    }
    fn recv(rx: &Self::Rx) -> Option<usize> {
        rx.recv().ok()
    }
}

struct Std;

impl Channel for Std {
    type Tx = mpsc::SyncSender<usize>;
    type Rx = mpsc::Receiver<usize>;
    fn bounded(cap: usize) -> (Self::Tx, Self::Rx) {
        mpsc::sync_channel(cap)
    }
    fn send(tx: &Self::Tx, v: usize) -> bool {
        tx.send(v).is_ok()
    }
    fn recv(rx: &Self::Rx) -> Option<usize> {
        rx.recv().ok()
    }
}

/// A lock around a counter: std's or parking_lot's.
trait CounterLock: Default + Send + Sync + 'static {
    /// Adds one under the lock.
    fn increment(&self);
    /// Reads the count under the lock.
    fn get(&self) -> usize;
}

impl CounterLock for std::sync::Mutex<usize> {
    fn increment(&self) {
        *self.lock().expect("mutex_4: poisoned") += 1;
    }
    fn get(&self) -> usize {
        *self.lock().expect("mutex_4: poisoned")
    }
}

impl CounterLock for parking_lot::Mutex<usize> {
    fn increment(&self) {
        *self.lock() += 1;
    }
    fn get(&self) -> usize {
        *self.lock()
    }
}

fn pingpong<C: Channel>(n: usize) -> f64 {
    let (a_tx, a_rx) = C::bounded(0);
    let (b_tx, b_rx) = C::bounded(0);
    thread::spawn(move || {
        while let Some(v) = C::recv(&a_rx) {
            assert!(C::send(&b_tx, v + 1), "pingpong: main stopped receiving");
        }
    });
    let t = Instant::now();
    for i in 0..n {
        assert!(C::send(&a_tx, i), "pingpong: echo thread gone");
        C::recv(&b_rx).expect("pingpong: echo thread gone");
    }
    let d = t.elapsed();
    drop(a_tx);
    ns_per(d, n)
}

// Joining each thread is std's way to wait for threads; it also reclaims them before the clock
// stops.
fn spawn_join(n: usize) -> f64 {
    let t = Instant::now();
    let threads: Vec<_> = (0..n).map(|_| thread::spawn(|| {})).collect();
    for th in threads {
        th.join().expect("spawn_join: thread panicked");
    }
    ns_per(t.elapsed(), n)
}

fn spsc<C: Channel>(n: usize, cap: usize) -> f64 {
    let (tx, rx) = C::bounded(cap);
    let t = Instant::now();
    let producer = thread::spawn(move || {
        for i in 0..n {
            assert!(C::send(&tx, i), "spsc: consumer gone");
        }
        // Dropping the only sender closes the channel (Go's close(ch)).
    });
    let consumer = thread::spawn(move || while C::recv(&rx).is_some() {});
    producer.join().expect("spsc: producer panicked");
    consumer.join().expect("spsc: consumer panicked");
    ns_per(t.elapsed(), n)
}

fn prodcons_crossbeam(n: usize, cap: usize, producers: usize, consumers: usize) -> f64 {
    let (tx, rx) = crossbeam_channel::bounded::<usize>(cap);
    let t = Instant::now();
    let per = n / producers;
    let senders: Vec<_> = (0..producers)
        .map(|_| {
            let tx = tx.clone();
            thread::spawn(move || {
                for i in 0..per {
                    tx.send(i).expect("prodcons: consumers gone");
                }
            })
        })
        .collect();
    let receivers: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || for _ in rx.iter() {})
        })
        .collect();
    for th in senders {
        th.join().expect("prodcons: producer panicked");
    }
    drop(tx); // the last sender: closes the channel, like Go's close(ch)
    for th in receivers {
        th.join().expect("prodcons: consumer panicked");
    }
    ns_per(t.elapsed(), per * producers)
}

fn select_recv(n: usize) -> f64 {
    let (a_tx, a) = crossbeam_channel::bounded::<usize>(64);
    let (b_tx, b) = crossbeam_channel::bounded::<usize>(64);
    for tx in [&a_tx, &b_tx] {
        let tx = tx.clone();
        thread::spawn(move || {
            for i in 0..n / 2 {
                tx.send(i).expect("select_recv2: receiver gone");
            }
        });
    }
    // a_tx and b_tx stay alive, as Go's channels stay open: a drained channel is never ready.
    let t = Instant::now();
    for _ in 0..(n / 2) * 2 {
        crossbeam_channel::select! {
            recv(a) -> _ => {},
            recv(b) -> _ => {},
        }
    }
    let d = t.elapsed();
    drop((a_tx, b_tx));
    ns_per(d, n)
}

fn mutex<L: CounterLock>(n: usize, workers: usize) -> f64 {
    let mu = Arc::new(L::default());
    let per = n / workers;
    let t = Instant::now();
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let mu = Arc::clone(&mu);
            thread::spawn(move || {
                for _ in 0..per {
                    mu.increment();
                }
            })
        })
        .collect();
    for th in threads {
        th.join().expect("mutex_4: worker panicked");
    }
    assert_eq!(mu.get(), per * workers, "lost update");
    ns_per(t.elapsed(), per * workers)
}

fn sieve<C: Channel>(primes: usize) -> f64 {
    let t = Instant::now();
    let (tx, mut ch) = C::bounded(0);
    thread::spawn(move || {
        let mut i = 2;
        while C::send(&tx, i) {
            i += 1;
        }
    });
    for _ in 0..primes {
        let p = C::recv(&ch).expect("sieve: stage gone");
        let (tx, out) = C::bounded(0);
        let rx = std::mem::replace(&mut ch, out);
        // Left parked at the end, as in Go; once the last channel is dropped the sends fail
        // and the threads return one after the other.
        thread::spawn(move || {
            while let Some(v) = C::recv(&rx) {
                if v % p != 0 && !C::send(&tx, v) {
                    return;
                }
            }
        });
    }
    ns_per(t.elapsed(), primes)
}
