//! select under load: fairness among ready arms (bounds at six standard deviations, so the
//! tests never flake), fairness of blocked selects completed by a partner, Go's
//! doubleselect (nothing delivered twice or lost), and Go's TestSelectStress (selects that
//! send and receive on a mix of unbuffered and buffered channels against plain senders and
//! receivers), and selects racing plain receivers for buffered values.

mod support;

use goro::{chan, go, select, Chan, Receiver, Select};
use support::{everywhere, on_runtime};

/// Asserts that `count` out of `n` trials is within six standard deviations of a fair
/// share `1/k`.
fn assert_fair(count: u64, n: u64, k: u64, what: &str) {
    let p = 1.0 / k as f64;
    let mean = n as f64 * p;
    let sigma = (n as f64 * p * (1.0 - p)).sqrt();
    let dev = (count as f64 - mean).abs();
    assert!(
        dev <= 6.0 * sigma,
        "{what}: {count} of {n} (expected {mean:.0} ± {:.0})",
        6.0 * sigma
    );
}

/// Two arms that are always ready: each is chosen about half the time.
#[test]
fn two_ready_arms_are_chosen_evenly() {
    everywhere(|| {
        const N: u64 = 10_000;
        let (a, b) = (chan::<()>(1), chan::<()>(1));
        let mut counts = [0u64; 2];
        for _ in 0..N {
            let _ = a.try_send(());
            let _ = b.try_send(());
            let i = select! {
                recv(&a) -> _ => 0,
                recv(&b) -> _ => 1,
            };
            counts[i] += 1;
        }
        assert_fair(counts[0], N, 2, "arm a");
    });
}

/// Four ready arms, one of them a closed channel and one a send: uniform among them; a
/// never-ready arm is never chosen.
#[test]
fn four_ready_arms_are_chosen_evenly() {
    everywhere(|| {
        const N: u64 = 20_000;
        let (a, b, out) = (chan::<u8>(1), chan::<u8>(1), chan::<u8>(1));
        let closed = chan::<u8>(0);
        closed.close();
        let n = goro::never::<u8>();
        let mut counts = [0u64; 5];
        for _ in 0..N {
            let _ = a.try_send(0);
            let _ = b.try_send(0);
            let _ = out.try_recv();
            let i = select! {
                recv(&a) -> _ => 0,
                recv(&b) -> _ => 1,
                recv(&closed) -> _ => 2,
                send(&out, 1) -> _ => 3,
                recv(&n) -> _ => 4,
            };
            counts[i] += 1;
        }
        assert_eq!(counts[4], 0);
        for (i, &c) in counts[..4].iter().enumerate() {
            assert_fair(c, N, 4, &format!("arm {i}"));
        }
    });
}

/// Go's TestPseudoRandomSend: one select with two send arms on the same channel, sending 0
/// and 1; a receiver sees both about equally often.
#[test]
fn pseudo_random_send() {
    everywhere(|| {
        const N: u64 = 10_000;
        for cap in [0, 1] {
            let ch = chan::<usize>(cap);
            let rx = ch.receiver();
            let counter = go(move || {
                let mut counts = [0u64; 2];
                for _ in 0..N {
                    counts[rx.recv().unwrap()] += 1;
                }
                counts
            });
            for _ in 0..N {
                select! {
                    send(&ch, 0) -> r => r.unwrap(),
                    send(&ch, 1) -> r => r.unwrap(),
                }
            }
            let counts = counter.join().unwrap();
            assert_fair(counts[0], N, 2, &format!("value 0 (cap {cap})"));
        }
    });
}

/// A select blocked on two channels is completed by a partner that is itself a select
/// over both: each channel wins about half the time, so neither registration order nor
/// partner order favours an arm.
#[test]
fn blocked_selects_pair_evenly() {
    let counts = on_runtime(1, || {
        const N: u64 = 4_000;
        let (a, b) = (chan::<()>(0), chan::<()>(0));
        let (ra, rb) = (a.receiver(), b.receiver());
        let receiver = go(move || {
            let mut counts = [0u64; 2];
            for _ in 0..N {
                let i = select! {
                    recv(&ra) -> _ => 0,
                    recv(&rb) -> _ => 1,
                };
                counts[i] += 1;
            }
            counts
        });
        for _ in 0..N {
            goro::yield_now(); // one worker: the receiver blocks first
            select! {
                send(&a, ()) -> r => r.unwrap(),
                send(&b, ()) -> r => r.unwrap(),
            }
        }
        (receiver.join().unwrap(), N)
    });
    assert_fair(counts.0[0], counts.1, 2, "channel a");
}

/// Go's doubleselect: a sender selects among four channels, four muxes forward to one
/// channel, a receiver checks that no value arrives twice; here also that none is lost.
#[test]
fn doubleselect_delivers_each_value_once() {
    everywhere(|| {
        const N: u32 = 10_000;
        let chans: Vec<Chan<u32>> = (0..4).map(|_| chan(0)).collect();
        let out = chan::<u32>(0);
        let sender = {
            let txs: Vec<_> = chans.iter().map(Chan::sender).collect();
            go(move || {
                for i in 0..N {
                    select! {
                        send(&txs[0], i) -> r => r.unwrap(),
                        send(&txs[1], i) -> r => r.unwrap(),
                        send(&txs[2], i) -> r => r.unwrap(),
                        send(&txs[3], i) -> r => r.unwrap(),
                    }
                }
            })
        };
        let muxes: Vec<_> = chans
            .into_iter()
            .map(|ch| {
                let (rx, tx) = (Receiver::from(ch), out.sender());
                go(move || {
                    for v in &rx {
                        tx.send(v).unwrap();
                    }
                })
            })
            .collect();
        let rx = Receiver::from(out);
        let receiver = go(move || {
            let mut seen = vec![false; N as usize];
            let mut n = 0;
            for v in &rx {
                assert!(!std::mem::replace(&mut seen[v as usize], true), "{v} twice");
                n += 1;
            }
            n
        });
        sender.join().unwrap();
        muxes.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(receiver.join().unwrap(), N);
    });
}

/// Go's TestSelectStress: four channels (two unbuffered, capacities 2 and 3), a plain
/// sender and a plain receiver on each, plus one goroutine that sends on all of them
/// through a select and one that receives from all of them through a select, each arm
/// switched off once its channel has seen its share.
#[test]
fn select_stress() {
    everywhere(|| {
        const N: usize = 5_000;
        let chans: Vec<Chan<usize>> = [0, 0, 2, 3].into_iter().map(chan).collect();
        let mut hs = Vec::new();
        for ch in &chans {
            let tx = ch.sender();
            hs.push(go(move || (0..N).for_each(|i| tx.send(i).unwrap())));
            let rx = ch.receiver();
            hs.push(go(move || {
                (0..N).for_each(|_| assert!(rx.recv().is_some()))
            }));
        }
        let txs: Vec<_> = chans.iter().map(Chan::sender).collect();
        hs.push(go(move || {
            let mut left = [N; 4];
            while left.iter().any(|&n| n > 0) {
                let mut sel = Select::new();
                for (k, tx) in txs.iter().enumerate().filter(|(k, _)| left[*k] > 0) {
                    sel = sel.send(tx, k, move |r| r.map(|()| k));
                }
                let k = sel.wait().unwrap();
                left[k] -= 1;
            }
        }));
        let rxs: Vec<_> = chans.iter().map(Chan::receiver).collect();
        hs.push(go(move || {
            let dead = goro::never::<usize>();
            let mut left = [N; 4];
            while left.iter().any(|&n| n > 0) {
                let pick = |k: usize| if left[k] > 0 { &rxs[k] } else { &dead };
                let k = select! {
                    recv(pick(0)) -> v => { v.unwrap(); 0 }
                    recv(pick(1)) -> v => { v.unwrap(); 1 }
                    recv(pick(2)) -> v => { v.unwrap(); 2 }
                    recv(pick(3)) -> v => { v.unwrap(); 3 }
                };
                left[k] -= 1;
            }
        }));
        hs.into_iter().for_each(|h| h.join().unwrap());
        for ch in &chans {
            assert!(ch.is_empty());
        }
    });
}

/// Asserts that a receive that yielded `None` did so on a closed channel; returns true.
fn assert_closed(rx: &Receiver<u32>) -> bool {
    assert!(
        rx.is_closed(),
        "a select received None from an open channel"
    );
    true
}

/// Selects and plain receivers compete for the values of two one-slot channels. On a
/// buffered channel a woken select only tries again, so a select often finds its value
/// taken by a plain receiver and must wait anew; every value still arrives exactly once.
#[test]
fn selects_and_plain_receivers_share_buffered_channels() {
    everywhere(|| {
        const PER: u32 = 3_000;
        let chans: Vec<Chan<u32>> = (0..2).map(|_| chan(1)).collect();
        let producers: Vec<_> = (0..4u32)
            .map(|p| {
                let tx = chans[p as usize % 2].sender();
                go(move || (0..PER).for_each(|i| tx.send(p * PER + i).unwrap()))
            })
            .collect();
        let mut receivers = Vec::new();
        for _ in 0..3 {
            let (a, b) = (chans[0].receiver(), chans[1].receiver());
            receivers.push(go(move || {
                let dead = goro::never::<u32>();
                let (mut a_open, mut b_open, mut got) = (true, true, Vec::new());
                while a_open || b_open {
                    let (ra, rb) = (
                        if a_open { &a } else { &dead },
                        if b_open { &b } else { &dead },
                    );
                    select! {
                        recv(ra) -> v => match v { Some(v) => got.push(v), None => a_open = !assert_closed(&a) },
                        recv(rb) -> v => match v { Some(v) => got.push(v), None => b_open = !assert_closed(&b) },
                    }
                }
                got
            }));
        }
        for ch in &chans {
            let rx = ch.receiver();
            receivers.push(go(move || rx.iter().collect::<Vec<u32>>()));
        }
        drop(chans);
        producers.into_iter().for_each(|h| h.join().unwrap());
        let mut all: Vec<u32> = receivers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..4 * PER).collect::<Vec<_>>(),
            "each value exactly once"
        );
    });
}
