//! Channel stress: a 10,000-goroutine daisy chain, the concurrent prime sieve, multi-consumer
//! exactly-once delivery, MPMC per-producer order, and close/drop races where every value
//! must be received exactly once, handed back to its sender, or (only when the last
//! receiver went) dropped inside the channel. Counts are bounded so a debug build stays
//! within seconds.

mod support;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use goro::{chan, go, Receiver, Sender};
use support::{everywhere, on_runtime, watchdog, Rng};

/// Go's "whispers": n goroutines in a row, each adding one to what its right neighbour
/// passes on, on unbuffered channels.
fn daisy_chain(n: usize) -> usize {
    let leftmost = chan::<usize>(0);
    let mut left = leftmost.sender();
    for _ in 0..n {
        let right = chan::<usize>(0);
        let (to_left, from_right) = (left, right.receiver());
        go(move || {
            let v = from_right.recv().expect("right neighbour gone");
            to_left.send(v + 1).expect("left neighbour gone");
        });
        left = right.sender();
    }
    go(move || left.send(1).unwrap());
    leftmost.recv().unwrap()
}

#[test]
fn daisy_chain_of_10000_goroutines() {
    assert_eq!(on_runtime(1, || daisy_chain(10_000)), 10_001);
    assert_eq!(on_runtime(2, || daisy_chain(10_000)), 10_001);
    assert_eq!(watchdog(120, || daisy_chain(10_000)), 10_001);
}

/// The concurrent prime sieve: one filter goroutine per prime, on unbuffered channels.
fn sieve(count: usize) -> Vec<u64> {
    let mut ch: Receiver<u64> = {
        let gen = chan::<u64>(0);
        let tx = gen.sender();
        go(move || {
            let mut i = 2;
            while tx.send(i).is_ok() {
                i += 1;
            }
        });
        gen.into()
    };
    let mut primes = Vec::new();
    for _ in 0..count {
        let p = ch.recv().unwrap();
        primes.push(p);
        let out = chan::<u64>(0);
        let (rx, tx) = (ch, out.sender());
        go(move || {
            while let Some(v) = rx.recv() {
                if v % p != 0 && tx.send(v).is_err() {
                    return; // downstream gone: the pipeline unwinds stage by stage
                }
            }
        });
        ch = out.into();
    }
    primes
}

#[test]
fn prime_sieve() {
    let expect: Vec<u64> = (2u64..)
        .filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .take(200)
        .collect();
    assert_eq!(on_runtime(1, || sieve(200)), expect);
    assert_eq!(on_runtime(2, || sieve(200)), expect);
    assert_eq!(watchdog(120, || sieve(200)), expect);
}

/// Go's TestMultiConsumer: workers forward from one channel to another; every value
/// arrives exactly once.
#[test]
fn multi_consumer_exactly_once() {
    everywhere(|| {
        const WORKERS: usize = 23;
        const N: u64 = 20_000;
        for cap in [0, 1, 64] {
            let (q, r) = (chan::<u64>(cap), chan::<u64>(cap));
            let workers: Vec<_> = (0..WORKERS)
                .map(|_| {
                    let (rx, tx) = (q.receiver(), r.sender());
                    go(move || {
                        for v in &rx {
                            tx.send(v).unwrap();
                        }
                    })
                })
                .collect();
            let collector = {
                let rx = r.receiver();
                go(move || {
                    let mut seen = vec![false; N as usize];
                    let (mut n, mut sum) = (0u64, 0u64);
                    for v in &rx {
                        assert!(!std::mem::replace(&mut seen[v as usize], true), "{v} twice");
                        n += 1;
                        sum += v;
                    }
                    (n, sum)
                })
            };
            drop(r);
            for i in 0..N {
                q.send(i).unwrap();
            }
            q.close();
            workers.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(collector.join().unwrap(), (N, N * (N - 1) / 2));
        }
    });
}

/// Four producers and four consumers on two workers, through a small buffer, park and
/// wake each other all the time; every round must deliver every value (count and sum) and
/// finish. A lost wake-up shows as a deadlock report or the watchdog. (The wake protocol
/// itself, including the lost wake this once found, is model-checked in `runtime::sched`.)
#[test]
fn buffered_mpmc_rounds_never_lose_a_wake_up() {
    const PER: u64 = 5_000;
    for _ in 0..500 {
        let (count, sum) = on_runtime(2, || {
            let ch = chan::<u64>(8);
            let producers: Vec<_> = (0..4)
                .map(|p| {
                    let tx = ch.sender();
                    go(move || (0..PER).for_each(|i| tx.send(p * PER + i).unwrap()))
                })
                .collect();
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let rx = ch.receiver();
                    go(move || rx.iter().fold((0u64, 0u64), |(n, s), v| (n + 1, s + v)))
                })
                .collect();
            producers.into_iter().for_each(|h| h.join().unwrap());
            ch.close();
            consumers
                .into_iter()
                .map(|h| h.join().unwrap())
                .fold((0, 0), |(n, s), (cn, cs)| (n + cn, s + cs))
        });
        let total = 4 * PER;
        assert_eq!((count, sum), (total, total * (total - 1) / 2));
    }
}

/// Several producers and consumers on one channel: each value is received exactly once,
/// and each consumer sees each producer's values in the order they were sent.
#[test]
fn mpmc_exactly_once_and_per_producer_order() {
    everywhere(|| {
        const P: usize = 4;
        const C: usize = 4;
        const PER: usize = 10_000;
        for cap in [0, 1, 100] {
            let ch = chan::<(usize, usize)>(cap);
            for p in 0..P {
                let tx = ch.sender();
                go(move || (0..PER).for_each(|i| tx.send((p, i)).unwrap()));
            }
            let consumers: Vec<_> = (0..C)
                .map(|_| {
                    let rx = ch.receiver();
                    go(move || {
                        let mut last = [None::<usize>; P];
                        let mut got = Vec::new();
                        for (p, i) in &rx {
                            assert!(last[p].is_none_or(|l| l < i), "producer {p} out of order");
                            last[p] = Some(i);
                            got.push((p, i));
                        }
                        got
                    })
                })
                .collect();
            drop(ch);
            let mut all: Vec<(usize, usize)> = consumers
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            all.sort();
            let expect: Vec<(usize, usize)> =
                (0..P).flat_map(|p| (0..PER).map(move |i| (p, i))).collect();
            assert_eq!(all, expect);
        }
    });
}

/// What happened to each value of a close/drop race round.
const UNSENT: u8 = 0;
const RECEIVED: u8 = 1;
const HANDED_BACK: u8 = 2;
const DROPPED: u8 = 3;

struct Ledger {
    states: Vec<AtomicU8>,
}

impl Ledger {
    fn mark(&self, id: usize, state: u8) {
        let before = self.states[id].swap(state, Ordering::SeqCst);
        assert_eq!(
            before, UNSENT,
            "value {id} settled twice (now {state}, was {before})"
        );
    }
}

/// A value that records in the ledger how it ended.
struct Token {
    id: usize,
    ledger: Arc<Ledger>,
    live: bool,
}

impl Token {
    fn settle(mut self, state: u8) {
        self.live = false;
        self.ledger.mark(self.id, state);
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if self.live {
            self.ledger.mark(self.id, DROPPED);
        }
    }
}

/// One round: `P` producers send their ranges, `C` consumers receive; depending on `rng`
/// the channel is closed early by a closer, or consumers give up and drop their receivers.
/// Returns how many values went through the channel.
fn close_drop_round(rng: &mut Rng, base_seed: u64, per: usize) -> usize {
    const P: usize = 4;
    const C: usize = 4;
    let cap = [0, 1, 16][rng.below(3) as usize];
    let ledger = Arc::new(Ledger {
        states: (0..P * per).map(|_| AtomicU8::new(UNSENT)).collect(),
    });
    let ch = chan::<Token>(cap);
    let early_close = rng.below(2) == 0;
    let consumers_quit = rng.below(2) == 0;
    let producers: Vec<_> = (0..P)
        .map(|p| {
            let (tx, ledger): (Sender<Token>, _) = (ch.sender(), ledger.clone());
            go(move || {
                for k in 0..per {
                    let token = Token {
                        id: p * per + k,
                        ledger: ledger.clone(),
                        live: true,
                    };
                    if let Err(e) = tx.send(token) {
                        e.into_inner().settle(HANDED_BACK);
                        return k; // the rest were never sent
                    }
                    if k % 64 == 0 {
                        goro::yield_now();
                    }
                }
                per
            })
        })
        .collect();
    let consumers: Vec<_> = (0..C)
        .map(|c| {
            let (rx, ledger) = (ch.receiver(), ledger.clone());
            let quit_after = if consumers_quit {
                Rng::new(base_seed ^ c as u64).below(per as u64 * 2) as usize
            } else {
                usize::MAX
            };
            go(move || {
                let mut n = 0;
                while n < quit_after {
                    match rx.recv() {
                        Some(t) => t.settle(RECEIVED),
                        None => break,
                    }
                    n += 1;
                }
                drop(ledger);
                n
            })
        })
        .collect();
    let closer = early_close.then(|| {
        let (tx, yields) = (ch.sender(), rng.below(per as u64 * 2));
        go(move || {
            for _ in 0..yields {
                goro::yield_now();
            }
            tx.close();
        })
    });
    drop(ch);
    let sent: Vec<usize> = producers.into_iter().map(|h| h.join().unwrap()).collect();
    let received: usize = consumers.into_iter().map(|h| h.join().unwrap()).sum();
    if let Some(h) = closer {
        h.join().unwrap();
    }
    // Every value a producer tried to send is settled exactly once; the rest never existed.
    let mut dropped = 0;
    for (p, &upto) in sent.iter().enumerate() {
        for k in 0..per {
            let state = ledger.states[p * per + k].load(Ordering::SeqCst);
            let tried = k < upto || (k == upto && upto < per);
            if tried {
                assert_ne!(state, UNSENT, "value {} was lost", p * per + k);
            } else {
                assert_eq!(state, UNSENT);
            }
            dropped += usize::from(state == DROPPED);
        }
    }
    if !consumers_quit {
        assert_eq!(
            dropped, 0,
            "values may be dropped only when every receiver went away"
        );
    }
    received
}

fn close_drop_races(seed: u64, rounds: usize, per: usize) -> usize {
    let mut rng = Rng::new(seed);
    (0..rounds)
        .map(|r| close_drop_round(&mut rng, seed + r as u64, per))
        .sum()
}

/// 4 producers x 4 consumers, random closes and drops: 10^6 values offered in all (400,000
/// on each runtime, 200,000 from a plain thread); nothing is lost or duplicated.
#[test]
fn close_and_drop_races_lose_nothing() {
    let received = on_runtime(1, || close_drop_races(1, 20, 5_000))
        + on_runtime(2, || close_drop_races(2, 20, 5_000))
        + watchdog(120, || close_drop_races(3, 10, 5_000));
    assert!(received > 0);
}
