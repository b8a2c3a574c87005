//! `send_async`/`recv_async` under a hand-written executor (a thread that parks until its
//! waker is called): completion, wake-ups from goroutines and threads, waker replacement,
//! and dropping pending or already-completed futures without losing a value or leaving a
//! stale waiter behind.

mod support;

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use goro::{chan, go, SendError, TryRecvError, TrySendError};
use support::watchdog;

/// Wakes a parked thread and counts its wake-ups.
struct ThreadWaker {
    thread: std::thread::Thread,
    wakes: AtomicUsize,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

fn thread_waker() -> (Arc<ThreadWaker>, Waker) {
    let w = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        wakes: AtomicUsize::new(0),
    });
    (w.clone(), Waker::from(w))
}

/// A minimal executor: poll, park until woken, repeat.
fn block_on<F: Future>(f: F) -> F::Output {
    let (_, waker) = thread_waker();
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

fn poll_once<F: Future>(f: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

#[test]
fn futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    let ch = chan::<String>(1);
    let (tx, rx) = (ch.sender(), ch.receiver());
    is_send(&ch.send_async(String::new()));
    is_send(&tx.send_async(String::new()));
    is_send(&ch.recv_async());
    is_send(&rx.recv_async());
}

#[test]
fn ready_at_once() {
    watchdog(30, || {
        let ch = chan::<u32>(2);
        block_on(ch.send_async(1)).unwrap();
        block_on(ch.sender().send_async(2)).unwrap();
        assert_eq!(block_on(ch.recv_async()), Some(1));
        assert_eq!(block_on(ch.receiver().recv_async()), Some(2));
        ch.close();
        assert_eq!(block_on(ch.recv_async()), None);
        assert_eq!(block_on(ch.send_async(3)), Err(SendError(3)));
    });
}

#[test]
fn woken_by_goroutines_and_threads() {
    watchdog(60, || {
        for cap in [0, 1, 8] {
            let ch = chan::<u32>(cap);
            let tx = ch.sender();
            go(move || {
                for i in 0..1000 {
                    tx.send(i).unwrap();
                }
            });
            let tx = ch.sender();
            let thread_sender = std::thread::spawn(move || {
                for i in 0..1000 {
                    block_on(tx.send_async(i)).unwrap();
                }
            });
            let rx = ch.receiver();
            let thread_receiver = std::thread::spawn(move || {
                let mut n = 0;
                while block_on(rx.recv_async()).is_some() {
                    n += 1;
                }
                n
            });
            // Only the goroutine and the sending thread send now: the channel closes once
            // both are done, which ends both receiving loops.
            let rx = goro::Receiver::from(ch);
            let mut n = 0;
            while block_on(rx.recv_async()).is_some() {
                n += 1;
            }
            thread_sender.join().unwrap();
            n += thread_receiver.join().unwrap();
            assert_eq!(n, 2000);
        }
    });
}

#[test]
fn a_repoll_replaces_the_waker() {
    watchdog(30, || {
        let ch = chan::<u8>(0);
        let mut fut = pin!(ch.recv_async());
        let (first, first_waker) = thread_waker();
        let (second, second_waker) = thread_waker();
        assert!(poll_once(fut.as_mut(), &first_waker).is_pending());
        assert!(poll_once(fut.as_mut(), &second_waker).is_pending());
        ch.try_send(5).expect("the future waits as a receiver");
        assert_eq!(first.wakes.load(Ordering::SeqCst), 0);
        assert_eq!(second.wakes.load(Ordering::SeqCst), 1);
        assert_eq!(poll_once(fut.as_mut(), &second_waker), Poll::Ready(Some(5)));
    });
}

#[test]
fn dropping_a_pending_future_leaves_no_waiter() {
    watchdog(30, || {
        let ch = chan::<u8>(0);
        let (_, waker) = thread_waker();
        {
            let mut fut = pin!(ch.recv_async());
            assert!(poll_once(fut.as_mut(), &waker).is_pending());
        }
        assert_eq!(
            ch.try_send(1),
            Err(TrySendError::Full(1)),
            "no receiver is left waiting"
        );
        {
            let mut fut = pin!(ch.send_async(2));
            assert!(poll_once(fut.as_mut(), &waker).is_pending());
        }
        assert_eq!(
            ch.try_recv(),
            Err(TryRecvError::Empty),
            "the unsent value was dropped"
        );
    });
}

/// A value handed to a receive future that is then dropped unpolled goes back to the
/// channel, ahead of later values.
#[test]
fn a_dropped_receive_future_gives_its_value_back() {
    watchdog(30, || {
        for cap in [0, 2] {
            let ch = chan::<u8>(cap);
            let (_, waker) = thread_waker();
            {
                let mut fut = pin!(ch.recv_async());
                assert!(poll_once(fut.as_mut(), &waker).is_pending());
                ch.try_send(1).expect("straight to the waiting future");
                if cap > 0 {
                    ch.try_send(2).unwrap();
                }
            }
            assert_eq!(ch.try_recv(), Ok(1), "the value came back first");
            if cap > 0 {
                assert_eq!(ch.try_recv(), Ok(2));
            }
            assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        }
        // Given back to a receiver that is already waiting.
        let ch = chan::<u8>(0);
        let (_, waker) = thread_waker();
        let mut fut = Box::pin(ch.recv_async());
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
        ch.try_send(7).unwrap();
        let rx = ch.receiver();
        let waiting = go(move || rx.recv());
        std::thread::sleep(Duration::from_millis(20));
        drop(fut);
        assert_eq!(waiting.join().unwrap(), Some(7));
    });
}

/// A send future whose value a receiver took counts as sent even if dropped unpolled.
#[test]
fn a_dropped_completed_send_future_sent_its_value() {
    watchdog(30, || {
        let ch = chan::<u8>(0);
        let (_, waker) = thread_waker();
        {
            let mut fut = pin!(ch.send_async(3));
            assert!(poll_once(fut.as_mut(), &waker).is_pending());
            assert_eq!(ch.try_recv(), Ok(3));
        }
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    });
}

/// On a buffered channel a completed wait only means "try again": a woken future that is
/// dropped instead passes its wake-up to the next waiter, so nobody sleeps beside a value
/// (or beside a free slot).
#[test]
fn a_dropped_woken_future_passes_its_wake_up_on() {
    watchdog(30, || {
        let wakes = |w: &Arc<ThreadWaker>| w.wakes.load(Ordering::SeqCst);
        let ch = chan::<u8>(1);
        let (first, first_waker) = thread_waker();
        let (second, second_waker) = thread_waker();
        let mut r1 = Box::pin(ch.recv_async());
        let mut r2 = Box::pin(ch.recv_async());
        assert!(poll_once(r1.as_mut(), &first_waker).is_pending());
        assert!(poll_once(r2.as_mut(), &second_waker).is_pending());
        ch.try_send(5).unwrap();
        assert_eq!(
            (wakes(&first), wakes(&second)),
            (1, 0),
            "the first is woken"
        );
        drop(r1);
        assert_eq!(wakes(&second), 1, "its wake-up went to the second");
        assert_eq!(poll_once(r2.as_mut(), &second_waker), Poll::Ready(Some(5)));

        let ch = chan::<u8>(1);
        ch.try_send(1).unwrap();
        let (first, first_waker) = thread_waker();
        let (second, second_waker) = thread_waker();
        let mut s1 = Box::pin(ch.send_async(2));
        let mut s2 = Box::pin(ch.send_async(3));
        assert!(poll_once(s1.as_mut(), &first_waker).is_pending());
        assert!(poll_once(s2.as_mut(), &second_waker).is_pending());
        assert_eq!(ch.try_recv(), Ok(1));
        assert_eq!(
            (wakes(&first), wakes(&second)),
            (1, 0),
            "the first is woken"
        );
        drop(s1);
        assert_eq!(wakes(&second), 1, "its wake-up went to the second");
        assert_eq!(poll_once(s2.as_mut(), &second_waker), Poll::Ready(Ok(())));
        assert_eq!(
            ch.try_recv(),
            Ok(3),
            "the dropped future's 2 was never sent"
        );
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn close_completes_pending_futures() {
    watchdog(30, || {
        let ch = chan::<u8>(0);
        let (_, waker) = thread_waker();
        let mut r = pin!(ch.recv_async());
        assert!(poll_once(r.as_mut(), &waker).is_pending());
        let full = chan::<u8>(0);
        let mut s = pin!(full.send_async(4));
        assert!(poll_once(s.as_mut(), &waker).is_pending());
        ch.close();
        full.close();
        assert_eq!(poll_once(r.as_mut(), &waker), Poll::Ready(None));
        assert_eq!(
            poll_once(s.as_mut(), &waker),
            Poll::Ready(Err(SendError(4)))
        );
    });
}

/// Many futures racing many goroutines: every value arrives exactly once even though
/// futures are dropped at random points.
#[test]
fn racing_drops_lose_nothing() {
    watchdog(60, || {
        const N: u64 = 20_000;
        let ch = chan::<u64>(0);
        let tx = ch.sender();
        let producer = go(move || (0..N).for_each(|i| tx.send(i).unwrap()));
        let (_, waker) = thread_waker();
        let mut got = Vec::new();
        let mut k = 0u64;
        while (got.len() as u64) < N {
            k += 1;
            let mut fut = Box::pin(ch.recv_async());
            if let Poll::Ready(v) = poll_once(fut.as_mut(), &waker) {
                got.push(v.unwrap());
                continue;
            }
            if k % 3 == 0 {
                std::thread::yield_now();
            }
            if k % 2 == 0 {
                if let Poll::Ready(v) = poll_once(fut.as_mut(), &waker) {
                    got.push(v.unwrap());
                }
            }
            drop(fut); // pending or completed-but-unpolled: either way nothing is lost
        }
        producer.join().unwrap();
        got.sort();
        assert_eq!(got, (0..N).collect::<Vec<_>>());
    });
}
