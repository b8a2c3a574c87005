//! goro::context: cancellation flows down (never up), deadlines fire, `done()` works in
//! `select!`, from goroutines and plain threads.

mod support;

use std::time::{Duration, Instant};

use goro::context::{CancelHandle, Context, ContextError};
use goro::RecvTimeoutError;
use support::{on_runtime, watchdog};

#[test]
fn background_is_never_done() {
    let ctx = Context::background();
    assert!(!ctx.is_done());
    assert_eq!(ctx.err(), None);
    assert_eq!(ctx.deadline(), None);
    assert_eq!(
        ctx.done().recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(!Context::default().is_done());
}

#[test]
fn cancel_closes_done_and_sets_err() {
    let (ctx, cancel) = Context::background().with_cancel();
    let done = ctx.done();
    assert!(!done.is_closed());
    cancel.cancel();
    assert!(done.is_closed());
    assert_eq!(done.recv(), None);
    assert_eq!(ctx.done().recv(), None, "every done() receiver sees it");
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    cancel.cancel(); // idempotent
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[test]
fn dropping_the_handle_cancels() {
    let (ctx, cancel) = Context::background().with_cancel();
    let clone = ctx.clone();
    drop(cancel);
    assert!(ctx.is_done() && clone.is_done());
}

#[test]
fn cancellation_flows_down_never_up() {
    let (root, root_cancel) = Context::background().with_cancel();
    let (mid, mid_cancel) = root.with_cancel();
    let (leaf, _leaf_cancel) = mid.with_cancel();
    let (sibling, _sibling_cancel) = root.with_cancel();
    mid_cancel.cancel();
    assert_eq!(
        leaf.err(),
        Some(ContextError::Canceled),
        "descendants are cancelled"
    );
    assert_eq!(leaf.done().recv(), None);
    assert!(!root.is_done(), "the parent is not");
    assert!(!sibling.is_done(), "nor a sibling");
    root_cancel.cancel();
    assert!(sibling.is_done());
}

#[test]
fn deriving_from_a_done_context_gives_a_done_context() {
    let (parent, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (child, _c) = parent.with_cancel();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    let (timed, _t) = parent.with_timeout(Duration::from_secs(60));
    assert_eq!(timed.err(), Some(ContextError::Canceled));
}

#[test]
fn timeout_fires_with_deadline_exceeded() {
    watchdog(60, || {
        let start = Instant::now();
        let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
        let (child, _c) = ctx.with_cancel();
        assert_eq!(ctx.done().recv(), None);
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(
            child.err(),
            Some(ContextError::DeadlineExceeded),
            "children get the parent's reason"
        );
    });
}

#[test]
fn deadlines_later_than_the_parent_s_keep_the_parent_s() {
    let now = Instant::now();
    let (parent, _p) = Context::background().with_deadline(now + Duration::from_secs(30));
    let (later, _l) = parent.with_deadline(now + Duration::from_secs(60));
    assert_eq!(later.deadline(), parent.deadline());
    let (earlier, _e) = parent.with_deadline(now + Duration::from_secs(10));
    assert_eq!(earlier.deadline(), Some(now + Duration::from_secs(10)));
    let (plain, _c) = parent.with_cancel();
    assert_eq!(plain.deadline(), parent.deadline());
    let (huge, _h) = Context::background().with_timeout(Duration::MAX);
    assert_eq!(huge.deadline(), None);
}

#[test]
fn a_past_deadline_is_done_at_once() {
    let (ctx, _c) = Context::background().with_deadline(Instant::now() - Duration::from_millis(1));
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(ctx.done().recv(), None);
}

#[test]
fn a_timer_firing_after_cancel_changes_nothing() {
    watchdog(60, || {
        let (ctx, cancel) = Context::background().with_timeout(Duration::from_millis(5));
        cancel.cancel();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
}

/// A worker loops on jobs until its context is done, selecting on `done()`.
fn worker_stops_on_cancel(procs: usize) {
    let (handled, err) = on_runtime(procs, || {
        let (ctx, cancel) = Context::background().with_cancel();
        let jobs = goro::chan::<u32>(0);
        let worker = {
            let (ctx, jobs) = (ctx.clone(), jobs.receiver());
            goro::go(move || {
                let mut handled = 0;
                loop {
                    goro::select! {
                        recv(&jobs) -> job => if job.is_some() { handled += 1 },
                        recv(&ctx.done()) -> _ => return (handled, ctx.err()),
                    }
                }
            })
        };
        for i in 0..10 {
            jobs.send(i).unwrap();
        }
        cancel.cancel();
        worker.join().unwrap()
    });
    assert_eq!(handled, 10);
    assert_eq!(err, Some(ContextError::Canceled));
}

#[test]
fn worker_stops_on_cancel_on_one_worker() {
    worker_stops_on_cancel(1);
}

#[test]
fn worker_stops_on_cancel_on_two_workers() {
    worker_stops_on_cancel(2);
}

/// A request with a deadline: the slow backend loses, the caller sees DeadlineExceeded.
#[test]
fn request_with_deadline_in_select() {
    let outcome = on_runtime(2, || {
        let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
        let reply = goro::chan::<&str>(1);
        let tx = reply.sender();
        goro::go(move || {
            goro::time::sleep(Duration::from_secs(5));
            let _ = tx.send("late reply");
        });
        goro::select! {
            recv(&reply) -> r => Ok(r),
            recv(&ctx.done()) -> _ => Err(ctx.err()),
        }
    });
    assert_eq!(outcome, Err(Some(ContextError::DeadlineExceeded)));
}

#[test]
fn many_goroutines_watch_one_context() {
    let n = on_runtime(2, || {
        let (ctx, cancel) = Context::background().with_cancel();
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let (child, child_cancel) = ctx.with_cancel();
                goro::go(move || {
                    let _child_cancel: CancelHandle = child_cancel;
                    let _ = child.done().recv();
                    (i, child.err())
                })
            })
            .collect();
        goro::time::sleep(Duration::from_millis(5));
        cancel.cancel();
        hs.into_iter()
            .map(|h| h.join().unwrap())
            .filter(|(_, e)| *e == Some(ContextError::Canceled))
            .count()
    });
    assert_eq!(n, 50);
}

#[test]
fn plain_threads_cancel_and_wait() {
    watchdog(60, || {
        let (ctx, cancel) = Context::background().with_cancel();
        let waiter = {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                assert_eq!(ctx.done().recv(), None);
                ctx.err()
            })
        };
        let watcher = {
            let ctx = ctx.clone();
            goro::go(move || {
                let _ = ctx.done().recv();
                ctx.err()
            })
        };
        std::thread::sleep(Duration::from_millis(5));
        std::thread::spawn(move || cancel.cancel()).join().unwrap();
        assert_eq!(waiter.join().unwrap(), Some(ContextError::Canceled));
        assert_eq!(watcher.join().unwrap(), Some(ContextError::Canceled));
    });
}

#[test]
fn error_type_traits_and_debug() {
    fn assert_traits<T: Clone + Send + Sync + std::fmt::Debug>() {}
    fn assert_error<E: std::error::Error + Copy + Eq + Send + Sync + 'static>() {}
    assert_traits::<Context>();
    assert_error::<ContextError>();
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(format!("{cancel:?}"), "CancelHandle { done: false }");
    drop(cancel);
    assert_eq!(
        format!("{ctx:?}"),
        "Context { deadline: None, err: Some(Canceled) }"
    );
}
