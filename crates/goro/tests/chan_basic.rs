//! Channel semantics: FIFO order, non-blocking operations, close and drop rules, lengths,
//! timeouts, error texts, iteration and conversions. Most bodies run three times: on a
//! one-worker runtime, on a two-worker runtime and on a plain OS thread (see `chan_util`).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::{
    chan, go, never, Chan, Receiver, RecvTimeoutError, SendError, SendTimeoutError, Sender,
    TryRecvError, TrySendError,
};
use support::{everywhere, watchdog};

#[test]
fn buffered_fifo() {
    everywhere(|| {
        for cap in [1, 7, 100] {
            let ch = chan(cap);
            for round in 0..3 {
                for i in 0..cap {
                    ch.send((round, i)).unwrap();
                }
                assert!(ch.is_full());
                for i in 0..cap {
                    assert_eq!(ch.recv(), Some((round, i)));
                }
                assert!(ch.is_empty());
            }
        }
    });
}

/// Go's SynchFifo: a chain of goroutines, each waiting for its turn before sending, so the
/// sends happen in order on an unbuffered channel; the receiver must see that order.
#[test]
fn unbuffered_fifo_through_a_chain_of_turns() {
    everywhere(|| {
        const N: usize = 300;
        let ch = chan::<usize>(0);
        let mut turn = chan::<()>(0);
        let first = turn.sender();
        for i in 0..N {
            let (my_turn, next) = (turn.receiver(), chan::<()>(0));
            let (tx, pass_on) = (ch.sender(), next.sender());
            go(move || {
                my_turn.recv().unwrap();
                tx.send(i).unwrap();
                pass_on.send(()).unwrap();
            });
            turn = next;
        }
        let last = turn.receiver();
        go(move || first.send(()).unwrap());
        for i in 0..N {
            assert_eq!(ch.recv(), Some(i));
        }
        last.recv().unwrap();
    });
}

/// Blocked senders on an unbuffered channel are served in the order they blocked.
#[test]
fn blocked_senders_are_served_in_order() {
    support::on_runtime(1, || {
        let ch = chan::<usize>(0);
        for i in 0..50 {
            let tx = ch.sender();
            go(move || tx.send(i).unwrap());
            goro::yield_now(); // one worker: the sender runs and blocks before the next spawns
        }
        for i in 0..50 {
            assert_eq!(ch.recv(), Some(i));
        }
    });
}

/// Go's nonblock.go: non-blocking operations succeed exactly when a partner or room is
/// there.
#[test]
fn non_blocking_operations() {
    everywhere(|| {
        for cap in [0, 1, 4] {
            let ch = chan::<i32>(cap);
            assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
            if cap == 0 {
                assert_eq!(ch.try_send(1), Err(TrySendError::Full(1)));
            }
            // A receiver shows up: a try_send eventually meets it.
            let rx = ch.receiver();
            let h = go(move || rx.recv());
            let mut v = 7;
            loop {
                match ch.try_send(v) {
                    Ok(()) => break,
                    Err(TrySendError::Full(back)) => {
                        v = back;
                        goro::yield_now();
                    }
                    Err(TrySendError::Closed(_)) => panic!("not closed"),
                }
            }
            assert_eq!(h.join().unwrap(), Some(7));
            // A sender shows up: a try_recv eventually meets it.
            let tx = ch.sender();
            let h = go(move || tx.send(8).unwrap());
            let got = loop {
                match ch.try_recv() {
                    Ok(v) => break v,
                    Err(TryRecvError::Empty) => goro::yield_now(),
                    Err(TryRecvError::Closed) => panic!("not closed"),
                }
            };
            assert_eq!(got, 8);
            h.join().unwrap();
            // Fill the buffer with try_send.
            for i in 0..cap as i32 {
                ch.try_send(i).unwrap();
            }
            assert!(ch.try_send(99).unwrap_err().is_full());
            ch.close();
            assert_eq!(ch.try_send(5), Err(TrySendError::Closed(5)));
            for i in 0..cap as i32 {
                assert_eq!(ch.try_recv(), Ok(i));
            }
            assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
        }
    });
}

#[test]
fn close_drains_then_reports_closed() {
    everywhere(|| {
        let ch = chan(3);
        ch.send(1).unwrap();
        ch.send(2).unwrap();
        assert!(ch.close());
        assert!(!ch.close(), "a second close reports false");
        assert!(ch.is_closed());
        assert_eq!(ch.send(3), Err(SendError(3)));
        assert_eq!(ch.try_send(4), Err(TrySendError::Closed(4)));
        assert_eq!(
            ch.send_timeout(5, Duration::from_millis(1)),
            Err(SendTimeoutError::Closed(5))
        );
        assert_eq!(ch.recv(), Some(1));
        assert_eq!(ch.recv_timeout(Duration::from_millis(1)), Ok(2));
        assert_eq!(ch.recv(), None);
        assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(
            ch.recv_timeout(Duration::from_secs(5)),
            Err(RecvTimeoutError::Closed)
        );
    });
}

#[test]
fn close_wakes_every_blocked_receiver_and_sender() {
    everywhere(|| {
        let ch = chan::<usize>(0);
        let receivers: Vec<_> = (0..5)
            .map(|_| {
                let rx = ch.receiver();
                go(move || rx.recv())
            })
            .collect();
        let full = chan::<usize>(1);
        full.send(0).unwrap();
        let senders: Vec<_> = (1..=5)
            .map(|i| {
                let tx = full.sender();
                go(move || tx.send(i))
            })
            .collect();
        goro::time::sleep(Duration::from_millis(20)); // let them block
        ch.close();
        full.close();
        for h in receivers {
            assert_eq!(h.join().unwrap(), None);
        }
        let mut back: Vec<usize> = senders
            .into_iter()
            .map(|h| h.join().unwrap().unwrap_err().into_inner())
            .collect();
        back.sort();
        assert_eq!(
            back,
            [1, 2, 3, 4, 5],
            "every blocked sender gets its value back"
        );
        assert_eq!(full.recv(), Some(0));
        assert_eq!(full.recv(), None);
    });
}

#[test]
fn dropping_the_last_sender_closes() {
    everywhere(|| {
        let ch = chan::<i32>(2);
        let (tx1, tx2, rx) = (ch.sender(), ch.sender(), ch.receiver());
        drop(ch);
        tx1.send(1).unwrap();
        drop(tx1);
        assert!(!rx.is_closed(), "one sender is left");
        let waiter = {
            let rx = rx.clone();
            go(move || (rx.recv(), rx.recv()))
        };
        tx2.send(2).unwrap();
        drop(tx2);
        assert_eq!(waiter.join().unwrap(), (Some(1), Some(2)));
        assert!(rx.is_closed());
        assert_eq!(rx.recv(), None);
    });
}

#[test]
fn a_chan_counts_as_a_sender() {
    let ch = chan::<i32>(1);
    let rx = ch.receiver();
    let keep = ch.clone();
    drop(ch);
    assert!(!rx.is_closed(), "a clone of the Chan still sends");
    drop(keep);
    assert!(rx.is_closed());
}

/// A drop counter for values that must not be lost or leaked.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_last_receiver_fails_sends_and_drops_buffered_values() {
    everywhere(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let ch = chan::<Counted>(2);
        let tx = ch.sender();
        let rx = Receiver::from(ch);
        tx.send(Counted(drops.clone())).unwrap();
        tx.send(Counted(drops.clone())).unwrap();
        let blocked = {
            let (tx, drops) = (tx.clone(), drops.clone());
            go(move || tx.send(Counted(drops)).map_err(|e| e.into_inner()))
        };
        goro::time::sleep(Duration::from_millis(20));
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(rx);
        // The two buffered values are dropped; the blocked send gets its value back.
        let back = blocked.join().unwrap().expect_err("no receiver is left");
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        drop(back);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        let later = tx.send(Counted(drops.clone())).unwrap_err().into_inner();
        drop(later);
        assert!(tx.try_send(Counted(drops.clone())).unwrap_err().is_closed());
        assert_eq!(drops.load(Ordering::SeqCst), 5);
        assert!(
            !tx.is_closed(),
            "is_closed does not report missing receivers"
        );
    });
}

#[test]
fn unbuffered_blocked_sender_fails_when_receivers_go() {
    everywhere(|| {
        let ch = chan::<u8>(0);
        let tx = ch.sender();
        let h = go(move || tx.send(9));
        goro::time::sleep(Duration::from_millis(10));
        drop(ch);
        assert_eq!(h.join().unwrap(), Err(SendError(9)));
    });
}

#[test]
fn lengths_and_capacity() {
    let ch = chan::<u8>(0);
    assert_eq!((ch.len(), ch.cap()), (0, 0));
    assert!(
        ch.is_empty() && ch.is_full(),
        "unbuffered: both empty and full"
    );
    let ch = chan::<u8>(3);
    let (tx, rx) = (ch.sender(), ch.receiver());
    assert_eq!((ch.len(), ch.cap(), tx.cap(), rx.cap()), (0, 3, 3, 3));
    assert!(ch.is_empty() && !ch.is_full());
    tx.send(1).unwrap();
    assert_eq!((ch.len(), tx.len(), rx.len()), (1, 1, 1));
    assert!(!rx.is_empty() && !tx.is_empty());
    tx.send(2).unwrap();
    tx.send(3).unwrap();
    assert!(ch.is_full() && tx.is_full() && rx.is_full());
    rx.recv().unwrap();
    assert_eq!(ch.len(), 2);
}

/// A capacity too large for the buffer's positions is refused with a message saying so.
#[test]
#[should_panic(expected = "is too large")]
fn an_impossible_capacity_is_refused() {
    let _ = chan::<u8>(usize::MAX);
}

#[test]
fn never_is_never_ready() {
    let rx = never::<String>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    let start = Instant::now();
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert!(!rx.is_closed());
    assert_eq!((rx.len(), rx.cap()), (0, 0));
    let also = rx.clone();
    drop(rx);
    assert_eq!(also.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn timeouts() {
    everywhere(|| {
        let ch = chan::<u32>(0);
        let d = Duration::from_millis(15);
        let start = Instant::now();
        assert_eq!(ch.recv_timeout(d), Err(RecvTimeoutError::Timeout));
        assert!(start.elapsed() >= d);
        let start = Instant::now();
        assert_eq!(ch.send_timeout(4, d), Err(SendTimeoutError::Timeout(4)));
        assert!(start.elapsed() >= d);
        // After the timeouts nothing is left registered: a try finds no partner.
        assert_eq!(ch.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        // A partner arriving in time.
        let tx = ch.sender();
        let h = go(move || {
            goro::time::sleep(Duration::from_millis(5));
            tx.send(11).unwrap();
        });
        assert_eq!(ch.recv_timeout(Duration::from_secs(10)), Ok(11));
        h.join().unwrap();
        let rx = ch.receiver();
        let h = go(move || {
            goro::time::sleep(Duration::from_millis(5));
            rx.recv()
        });
        ch.send_timeout(12, Duration::from_secs(10)).unwrap();
        assert_eq!(h.join().unwrap(), Some(12));
        // A zero timeout is a try; a huge one waits like a plain recv.
        assert!(ch.recv_timeout(Duration::ZERO).unwrap_err().is_timeout());
        let tx = ch.sender();
        go(move || tx.send(13).unwrap());
        assert_eq!(ch.recv_timeout(Duration::MAX), Ok(13));
    });
}

#[test]
fn error_texts_and_conversions() {
    assert_eq!(SendError(1).to_string(), "sending on a closed channel");
    assert_eq!(
        TrySendError::Closed(1).to_string(),
        "sending on a closed channel"
    );
    assert_eq!(
        TrySendError::Full(1).to_string(),
        "sending on a full channel"
    );
    assert_eq!(
        SendTimeoutError::Timeout(1).to_string(),
        "timed out waiting on send operation"
    );
    assert_eq!(
        SendTimeoutError::Closed(1).to_string(),
        "sending on a closed channel"
    );
    assert_eq!(
        TryRecvError::Empty.to_string(),
        "receiving on an empty channel"
    );
    assert_eq!(
        TryRecvError::Closed.to_string(),
        "receiving on a closed channel"
    );
    assert_eq!(
        RecvTimeoutError::Closed.to_string(),
        "receiving on a closed channel"
    );
    assert_eq!(
        RecvTimeoutError::Timeout.to_string(),
        "timed out waiting on receive operation"
    );
    assert_eq!(SendError("x").into_inner(), "x");
    assert_eq!(TrySendError::Full(2).into_inner(), 2);
    assert_eq!(SendTimeoutError::Closed(3).into_inner(), 3);
    // std::error::Error, even for element types that are neither Debug nor Display.
    struct Opaque;
    let errors: Vec<Box<dyn std::error::Error>> = vec![
        Box::new(SendError(Opaque)),
        Box::new(TrySendError::Full(Opaque)),
        Box::new(SendTimeoutError::Timeout(Opaque)),
        Box::new(TryRecvError::Empty),
        Box::new(RecvTimeoutError::Timeout),
    ];
    assert_eq!(errors.len(), 5);
    assert!(format!("{:?}", SendError(Opaque)).contains("SendError"));
}

#[test]
fn handles_are_send_sync_clone_debug() {
    fn check<H: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Chan<i32>>();
    check::<Sender<Vec<u8>>>();
    check::<Receiver<Box<dyn Send>>>();
    fn send_not_sync<T: Send>() {
        check::<Chan<T>>();
    }
    send_not_sync::<std::cell::Cell<u8>>();
    let ch = chan::<u8>(2);
    ch.send(1).unwrap();
    assert_eq!(format!("{ch:?}"), "Chan { len: 1, cap: 2, closed: false }");
    assert_eq!(
        format!("{:?}", ch.sender()),
        "Sender { len: 1, cap: 2, closed: false }"
    );
    ch.close();
    assert_eq!(
        format!("{:?}", ch.receiver()),
        "Receiver { len: 1, cap: 2, closed: true }"
    );
}

#[test]
fn iteration_ends_at_close() {
    everywhere(|| {
        let ch = chan::<u32>(0);
        let tx = ch.sender();
        go(move || {
            for i in 0..10 {
                tx.send(i).unwrap();
            }
        });
        let rx = Receiver::from(ch);
        let mut seen = Vec::new();
        for v in &rx {
            seen.push(v);
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        // By value, through a Receiver.
        let ch = chan::<u32>(4);
        let rx = ch.receiver();
        for i in 0..4 {
            ch.send(i).unwrap();
        }
        drop(ch);
        assert_eq!(rx.into_iter().sum::<u32>(), 6);
    });
}

/// Ranging over a `Chan` by value keeps it a sending handle: the loop ends only at an
/// explicit close, as in Go.
#[test]
fn ranging_over_a_chan_by_value_needs_close() {
    everywhere(|| {
        let ch = chan::<u32>(0);
        let closer = ch.sender();
        let consumer = {
            let ch = ch.clone();
            go(move || ch.into_iter().count())
        };
        for i in 0..5 {
            ch.send(i).unwrap();
        }
        drop(ch);
        goro::time::sleep(Duration::from_millis(10));
        assert!(
            !consumer.is_finished(),
            "the consumer's own Chan keeps the channel open"
        );
        closer.close();
        assert_eq!(consumer.join().unwrap(), 5);
        // Borrowing iteration over a Chan.
        let ch = chan::<u32>(3);
        for i in 0..3 {
            ch.send(i).unwrap();
        }
        ch.close();
        let mut n = 0;
        for _ in &ch {
            n += 1;
        }
        assert_eq!(n, 3);
    });
}

#[test]
fn conversions_keep_the_right_counts() {
    // Chan -> Sender: the Chan's receiving side goes, and it was the last one.
    let ch = chan::<u8>(1);
    let tx: Sender<u8> = ch.into();
    assert!(tx.send(1).is_err(), "no receiving handle is left");
    // Chan -> Receiver: the Chan's sending side goes, and it was the last one.
    let ch = chan::<u8>(1);
    ch.send(5).unwrap();
    let rx: Receiver<u8> = ch.into();
    assert!(rx.is_closed());
    assert_eq!(rx.recv(), Some(5));
    assert_eq!(rx.recv(), None);
}

/// Go's zerosize.go and more: zero-sized elements work with every capacity.
#[test]
fn zero_sized_elements() {
    everywhere(|| {
        #[derive(Debug, PartialEq)]
        struct Unit;
        for cap in [0, 1, 1000] {
            let ch = chan::<Unit>(cap);
            let tx = ch.sender();
            let h = go(move || {
                for _ in 0..2000 {
                    tx.send(Unit).unwrap();
                }
            });
            let rx = Receiver::from(ch);
            assert_eq!(rx.iter().count(), 2000);
            h.join().unwrap();
        }
        let ch = chan::<()>(2);
        ch.send(()).unwrap();
        assert_eq!(ch.len(), 1);
        assert_eq!(ch.try_recv(), Ok(()));
    });
}

/// The same value type through every kind of waiter: goroutines on two runtimes and plain
/// threads all meet on one channel.
#[test]
fn goroutines_and_threads_meet_on_one_channel() {
    watchdog(60, || {
        let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
        let ch = chan::<u64>(0);
        let from_rt = {
            let tx = ch.sender();
            rt.go(move || (0..1000).for_each(|i| tx.send(i).unwrap()))
        };
        let from_default = {
            let tx = ch.sender();
            go(move || (1000..2000).for_each(|i| tx.send(i).unwrap()))
        };
        let from_thread = {
            let tx = ch.sender();
            std::thread::spawn(move || (2000..3000).for_each(|i| tx.send(i).unwrap()))
        };
        let rx = Receiver::from(ch);
        let mut seen: Vec<u64> = rx.iter().collect();
        seen.sort();
        assert_eq!(seen, (0..3000).collect::<Vec<_>>());
        from_rt.join().unwrap();
        from_default.join().unwrap();
        from_thread.join().unwrap();
    });
}
