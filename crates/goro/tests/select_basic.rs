//! `select!` and `Select`: the macro's syntax and evaluation rules, Go's select3 table
//! (never-ready and closed channels, default, empty select), self-select, duplicate
//! channels, dropped send values, and the dynamic builder.

mod support;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::{chan, go, never, select, Chan, Receiver, Select, SendError};
use support::{everywhere, on_runtime, watchdog};

#[test]
fn every_arm_form_parses() {
    let (a, b, c) = (chan::<i32>(1), chan::<i32>(1), chan::<&str>(1));
    a.send(1).unwrap();
    // Block bodies without commas, expression bodies with them, `_` and `mut` patterns.
    let got = select! {
        recv(&a) -> v => { v.unwrap() * 10 }
        recv(&b) -> _ => { -1 }
        send(&c, "x") -> r => { r.unwrap(); -2 }
    };
    assert!(got == 10 || got == -2);
    let got = select! {
        recv(&b) -> mut v => { v.take(); 0 },
        default => 7,
    };
    assert_eq!(got, 7, "b is empty: the default runs");
    // A single arm, no trailing comma.
    b.send(3).unwrap();
    let got = select! { recv(&b) -> v => v };
    assert_eq!(got, Some(3));
    // Only a default.
    assert_eq!(select! { default => "d" }, "d");
    // Trailing comma after a block body.
    select! {
        recv(&a) -> _ => {},
        default => {},
    }
}

#[test]
fn receivers_senders_and_references_as_operands() {
    let ch = chan::<u8>(1);
    let (tx, rx) = (ch.sender(), ch.receiver());
    let txr: &goro::Sender<u8> = &tx;
    select! { send(txr, 1) -> r => r.unwrap() }
    let rxr: &Receiver<u8> = &rx;
    assert_eq!(select! { recv(rxr) -> v => v }, Some(1));
    select! { send(&tx, 2) -> r => r.unwrap() }
    assert_eq!(select! { recv(&&rx) -> v => v }, Some(2));
}

/// Temporaries in operands live through the select.
#[test]
fn temporaries_live_through_the_select() {
    fn make() -> Receiver<u8> {
        let ch = chan(1);
        ch.send(4).unwrap();
        ch.into()
    }
    let got = select! {
        recv(&make()) -> v => v,
        recv(&goro::time::after(Duration::from_secs(10))) -> _ => None,
    };
    assert_eq!(got, Some(4));
}

/// Operands and send values are evaluated once each, in order, even if their arm loses.
#[test]
fn operands_are_evaluated_once_in_order() {
    let log = Cell::new(Vec::new());
    let note = |what: &'static str| {
        let mut l = log.take();
        l.push(what);
        log.set(l);
    };
    let (a, b) = (chan::<u8>(1), chan::<u8>(0));
    let got = select! {
        recv({ note("a"); &a }) -> _ => 0,
        send({ note("b"); &b }, { note("value"); 9 }) -> _ => 1,
        default => { note("default"); 2 },
    };
    assert_eq!(got, 2);
    assert_eq!(log.take(), ["a", "b", "value", "default"]);
}

/// Bodies run in the caller's frame: break, continue, return and `?` work, and a body may
/// reassign a variable an operand borrowed (Go's "set the channel to nil" idiom).
#[test]
fn bodies_run_in_the_callers_frame() {
    fn first_even(rx: &Receiver<u32>) -> Result<Option<u32>, String> {
        loop {
            select! {
                recv(rx) -> v => {
                    let v = v.ok_or_else(|| "closed".to_string())?;
                    if v % 2 == 1 {
                        continue;
                    }
                    return Ok(Some(v));
                }
                default => break,
            }
        }
        Ok(None)
    }
    let ch = chan::<u32>(4);
    for v in [1, 3, 4, 5] {
        ch.send(v).unwrap();
    }
    assert_eq!(first_even(&ch.receiver()), Ok(Some(4)));
    assert_eq!(first_even(&ch.receiver()), Ok(None));
    ch.close();
    assert_eq!(first_even(&ch.receiver()), Err("closed".to_string()));

    // Merge two channels, switching each off once it is drained.
    let (a, b) = (chan::<u32>(3), chan::<u32>(3));
    for i in 0..3 {
        a.send(i).unwrap();
        b.send(10 + i).unwrap();
    }
    let (mut ra, mut rb) = (Receiver::from(a), Receiver::from(b));
    let mut sum = 0;
    let mut open = 2;
    while open > 0 {
        select! {
            recv(&ra) -> v => match v {
                Some(v) => sum += v,
                None => { ra = never(); open -= 1; }
            },
            recv(&rb) -> v => match v {
                Some(v) => sum += v,
                None => { rb = never(); open -= 1; }
            },
        }
    }
    assert_eq!(sum, 3 + 33);
}

/// Go's select3 table, first part: what never blocks.
#[test]
fn closed_channels_and_defaults_never_block() {
    everywhere(|| {
        let closed = chan::<u8>(0);
        closed.close();
        for _ in 0..10 {
            assert_eq!(select! { recv(&closed) -> v => v }, None);
            let r = select! { send(&closed, 7) -> r => r };
            assert_eq!(r, Err(SendError(7)));
        }
        let n = never::<u8>();
        let idle = chan::<u8>(0);
        let full = chan::<u8>(1);
        full.send(0).unwrap();
        let empty = chan::<u8>(10);
        let got = select! {
            recv(&n) -> _ => "never",
            recv(&idle) -> _ => "idle recv",
            send(&idle, 1) -> _ => "idle send",
            send(&full, 1) -> _ => "full",
            recv(&empty) -> _ => "empty",
            default => "default",
        };
        assert_eq!(got, "default");
        // A closed channel wins over never-ready ones.
        let got = select! {
            recv(&n) -> _ => "never",
            recv(&closed) -> _ => "closed",
            recv(&empty) -> _ => "empty",
        };
        assert_eq!(got, "closed");
    });
}

/// Go's select3 table, second part: what always blocks. Checked with a timeout, and for the
/// macro by watching a goroutine stay blocked until its runtime is dropped.
#[test]
fn never_ready_selects_block() {
    let n = never::<u8>();
    let idle = chan::<u8>(0);
    let empty = chan::<u8>(4);
    let start = Instant::now();
    let got = Select::new()
        .recv(&n, |_| ())
        .recv(&idle, |_| ())
        .recv(&empty, |_| ())
        .send(&idle, 1, |_| ())
        .wait_timeout(Duration::from_millis(20));
    assert!(got.is_none());
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(
        Select::<()>::new()
            .wait_timeout(Duration::from_millis(5))
            .is_none(),
        "an empty select blocks"
    );

    let rt = goro::Runtime::builder()
        .max_procs(1)
        .detect_deadlocks(false)
        .build()
        .unwrap();
    let blocked: Vec<_> = vec![
        rt.go(|| {
            let n = never::<u8>();
            select! { recv(&n) -> _ => {} }
        }),
        rt.go(|| {
            let ch = chan::<u8>(0);
            select! { send(&ch, 1) -> _ => {}, recv(&ch) -> _ => {} }
        }),
        rt.go(|| select! {}),
    ];
    std::thread::sleep(Duration::from_millis(30));
    assert!(blocked.iter().all(|h| !h.is_finished()));
    drop(rt); // unwinds the parked goroutines
    for h in blocked {
        assert!(h.join().is_err());
    }
}

/// Go's TestSelfSelect: a select that sends and receives on one unbuffered channel never
/// pairs with itself; with a buffer it may receive its own value.
#[test]
fn self_select_never_pairs_with_itself() {
    everywhere(|| {
        for cap in [0, 10] {
            let ch = chan::<usize>(cap);
            let hs: Vec<_> = (0..2)
                .map(|p| {
                    let ch = ch.clone();
                    go(move || {
                        for _ in 0..2000 {
                            select! {
                                send(&ch, p) -> r => r.unwrap(),
                                recv(&ch) -> v => {
                                    if cap == 0 {
                                        assert_ne!(v, Some(p), "received its own value");
                                    }
                                }
                            }
                        }
                    })
                })
                .collect();
            // Each goroutine's sends and receives must pair up with the other's (or the
            // buffer); drain what is left so nobody stays blocked.
            let mut done = 0;
            while done < 2 {
                done = hs.iter().filter(|h| h.is_finished()).count();
                let _ = ch.try_recv();
                goro::yield_now();
            }
            hs.into_iter().for_each(|h| h.join().unwrap());
        }
    });
}

/// Go's TestSelectDuplicateChannel: the same channel in several arms.
#[test]
fn duplicate_channels() {
    everywhere(|| {
        let (a, b) = (chan::<u32>(0), chan::<u32>(0));
        let waiter = {
            let (a, b) = (a.receiver(), b.receiver());
            go(move || {
                select! {
                    recv(&a) -> v => v,
                    recv(&a) -> v => v,
                    recv(&b) -> v => v,
                }
            })
        };
        goro::time::sleep(Duration::from_millis(5));
        b.send(8).unwrap();
        assert_eq!(waiter.join().unwrap(), Some(8));
        // The losing entries on `a` are gone: a new receiver gets the next value.
        let rx = a.receiver();
        let h = go(move || rx.recv());
        a.send(9).unwrap();
        assert_eq!(h.join().unwrap(), Some(9));
    });
}

/// A send arm's value is dropped if another arm wins; it is never duplicated or leaked.
#[test]
fn losing_send_values_are_dropped() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (idle, ready) = (chan::<Counted>(0), chan::<u8>(1));
    ready.send(1).unwrap();
    let got = select! {
        send(&idle, Counted(drops.clone())) -> _ => "sent",
        recv(&ready) -> _ => "received",
    };
    assert_eq!(got, "received");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let got = Select::new()
        .send(&idle, Counted(drops.clone()), |_| "sent")
        .default(|| "default")
        .wait();
    assert_eq!(got, "default");
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

/// A blocked select is completed by partners arriving later, from goroutines or threads.
#[test]
fn blocked_select_wakes_for_late_partners() {
    everywhere(|| {
        for cap in [0, 2] {
            let (a, b) = (chan::<u32>(cap), chan::<u32>(0));
            let (ta, rb) = (a.sender(), b.receiver());
            let partner = go(move || {
                goro::time::sleep(Duration::from_millis(5));
                ta.send(1).unwrap();
                goro::time::sleep(Duration::from_millis(5));
                rb.recv()
            });
            let first = select! {
                recv(&a) -> v => v.unwrap(),
                recv(&b) -> v => v.unwrap() + 100,
            };
            assert_eq!(first, 1);
            let sent = select! {
                send(&b, 5) -> r => { r.unwrap(); true }
                recv(&a) -> _ => false,
            };
            assert!(sent);
            assert_eq!(partner.join().unwrap(), Some(5));
            let t = std::thread::spawn({
                let tx = a.sender();
                move || {
                    std::thread::sleep(Duration::from_millis(5));
                    tx.close();
                }
            });
            assert_eq!(
                select! { recv(&a) -> v => v, recv(&b) -> _ => Some(0) },
                None
            );
            t.join().unwrap();
        }
    });
}

#[test]
fn select_builder() {
    everywhere(|| {
        // More arms than the stack-held order, with mixed element types.
        let ints: Vec<Chan<u64>> = (0..40).map(|_| chan(1)).collect();
        let text = chan::<String>(1);
        ints[33].send(33).unwrap();
        let mut sel = Select::new();
        for (i, ch) in ints.iter().enumerate() {
            sel = sel.recv(ch, move |v| format!("{i}:{v:?}"));
        }
        sel = sel.recv(&text, |v| format!("text:{v:?}"));
        assert_eq!(sel.wait(), "33:Some(33)");

        // Send and receive cases, from another goroutine.
        let tx = text.sender();
        let h = go(move || tx.send("hello".to_string()).unwrap());
        let out = Select::new()
            .recv(&text, |v| v.unwrap())
            .recv(&ints[0], |_| unreachable!())
            .wait();
        assert_eq!(out, "hello");
        h.join().unwrap();

        let got = Select::new()
            .send(&ints[1], 7, |r| r.is_ok())
            .recv(&ints[2], |_| false)
            .wait();
        assert!(got);
        assert_eq!(ints[1].recv(), Some(7));

        // Timeouts and defaults.
        let start = Instant::now();
        let out = Select::new()
            .recv(&ints[3], |_| ())
            .wait_timeout(Duration::from_millis(10));
        assert!(out.is_none() && start.elapsed() >= Duration::from_millis(10));
        let out = Select::new().recv(&ints[3], |_| 1).default(|| 2).wait();
        assert_eq!(out, 2);
        let dbg = format!("{:?}", Select::<()>::new().recv(&ints[3], |_| ()));
        assert_eq!(dbg, "Select { cases: 1, default: false }");
    });
}

/// A select in a loop with `sel = sel.recv(..)` over a changing set, fed by goroutines.
#[test]
fn dynamic_fan_in() {
    let total = on_runtime(2, || {
        let chans: Vec<Chan<u32>> = (0..8).map(|_| chan(0)).collect();
        for (i, ch) in chans.iter().enumerate() {
            let tx = ch.sender();
            go(move || (0..100).for_each(|k| tx.send(i as u32 * 1000 + k).unwrap()));
        }
        let mut open: Vec<Receiver<u32>> = chans.into_iter().map(Receiver::from).collect();
        let mut total = 0u64;
        while !open.is_empty() {
            let mut sel = Select::new();
            for (i, rx) in open.iter().enumerate() {
                sel = sel.recv(rx, move |v| (i, v));
            }
            match sel.wait() {
                (_, Some(v)) => total += u64::from(v),
                (i, None) => {
                    open.swap_remove(i);
                }
            }
        }
        total
    });
    let expect: u64 = (0..8u64)
        .map(|i| (0..100u64).map(|k| i * 1000 + k).sum::<u64>())
        .sum();
    assert_eq!(total, expect);
}

#[test]
fn watchdog_sanity() {
    assert_eq!(watchdog(5, || 1 + 1), 2);
}
