//! `send_async`/`recv_async` under tokio's multi-thread runtime: tasks that move between
//! threads between polls, and `tokio::select!` dropping pending futures, against goroutines
//! on the other side of buffered and unbuffered channels. Every value arrives exactly once.

mod support;

use std::future::Future;

use goro::{chan, go, Receiver};
use support::watchdog;

const PER_SENDER: usize = 5_000;
const SENDERS: usize = 4;
const RECEIVERS: usize = 4;

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .build()
        .expect("build a tokio runtime")
}

/// Sender `s` sends `s, s + SENDERS, s + 2 * SENDERS, ...`: all of `0..SENDERS * PER_SENDER`.
fn values_of(s: usize) -> impl Iterator<Item = usize> {
    (0..PER_SENDER).map(move |i| i * SENDERS + s)
}

fn assert_each_once(mut got: Vec<usize>) {
    got.sort_unstable();
    assert_eq!(got.len(), SENDERS * PER_SENDER, "values lost or duplicated");
    assert!(
        got.iter().enumerate().all(|(i, &v)| i == v),
        "values lost or duplicated"
    );
}

/// Goroutines send every value on a channel of capacity `cap`; `RECEIVERS` tokio tasks run
/// `receive` on it until it closes. Returns every value the tasks got, and the sum of the
/// counts they return beside them.
fn goroutines_to_tasks<F, Fut>(cap: usize, receive: F) -> (Vec<usize>, usize)
where
    F: Fn(Receiver<usize>) -> Fut,
    Fut: Future<Output = (Vec<usize>, usize)> + Send + 'static,
{
    let ch = chan::<usize>(cap);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = ch.sender();
            go(move || values_of(s).for_each(|v| tx.send(v).unwrap()))
        })
        .collect();
    let rt = tokio_runtime();
    let tasks: Vec<_> = (0..RECEIVERS)
        .map(|_| rt.spawn(receive(ch.receiver())))
        .collect();
    drop(ch);
    senders.into_iter().for_each(|h| h.join().unwrap());
    rt.block_on(async {
        let (mut all, mut count) = (Vec::new(), 0);
        for t in tasks {
            let (got, n) = t.await.unwrap();
            all.extend(got);
            count += n;
        }
        (all, count)
    })
}

#[test]
fn goroutines_send_to_tokio_tasks() {
    watchdog(120, || {
        for cap in [0, 16] {
            let (got, _) = goroutines_to_tasks(cap, |rx| async move {
                let mut got = Vec::new();
                while let Some(v) = rx.recv_async().await {
                    got.push(v);
                }
                (got, 0)
            });
            assert_each_once(got);
        }
    });
}

#[test]
fn tokio_tasks_send_to_goroutines() {
    watchdog(120, || {
        for cap in [0, 16] {
            let ch = chan::<usize>(cap);
            let receivers: Vec<_> = (0..RECEIVERS)
                .map(|_| {
                    let rx = ch.receiver();
                    go(move || rx.iter().collect::<Vec<_>>())
                })
                .collect();
            let rt = tokio_runtime();
            let tasks: Vec<_> = (0..SENDERS)
                .map(|s| {
                    let tx = ch.sender();
                    rt.spawn(async move {
                        for v in values_of(s) {
                            tx.send_async(v).await.unwrap();
                        }
                    })
                })
                .collect();
            drop(ch);
            rt.block_on(async {
                for t in tasks {
                    t.await.unwrap();
                }
            });
            let got = receivers
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            assert_each_once(got);
        }
    });
}

#[test]
fn futures_dropped_by_select_lose_nothing() {
    watchdog(120, || {
        for cap in [0, 16] {
            let (got, dropped) = goroutines_to_tasks(cap, |rx| async move {
                let (mut got, mut dropped) = (Vec::new(), 0);
                loop {
                    // `yield_now` is ready on its second poll, so a receive that is still
                    // waiting by then is dropped and made afresh.
                    tokio::select! {
                        v = rx.recv_async() => match v {
                            Some(v) => got.push(v),
                            None => break,
                        },
                        _ = tokio::task::yield_now() => dropped += 1,
                    }
                }
                (got, dropped)
            });
            assert_each_once(got);
            assert!(
                dropped > 0,
                "no receive was ever dropped: the test tested nothing"
            );
        }
    });
}
