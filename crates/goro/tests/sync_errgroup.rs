//! goro::sync::ErrGroup: first error after all finish, context cancelled on failure and on
//! wait, panics re-raised by wait.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use goro::context::{Context, ContextError};
use goro::sync::ErrGroup;
use support::on_runtime;

fn first_error_after_all_finish(procs: usize) {
    let (result, finished) = on_runtime(procs, || {
        let finished = Arc::new(AtomicUsize::new(0));
        let (group, ctx) = ErrGroup::with_context(&Context::background());
        for i in 0..10 {
            let (finished, ctx) = (finished.clone(), ctx.clone());
            group.go(move || {
                if i == 3 {
                    return Err(format!("task {i} failed"));
                }
                // The others fail (or not) only after the first error cancelled the
                // context, and finish late.
                let _ = ctx.done().recv();
                goro::time::sleep(Duration::from_millis(5));
                finished.fetch_add(1, Ordering::SeqCst);
                if i == 7 {
                    Err(format!("task {i} failed"))
                } else {
                    Ok(())
                }
            });
        }
        let result = group.wait();
        (result, finished.load(Ordering::SeqCst))
    });
    assert_eq!(result, Err("task 3 failed".to_string()));
    assert_eq!(
        finished, 9,
        "wait returned only after every goroutine finished"
    );
}

#[test]
fn first_error_wins_on_one_worker() {
    first_error_after_all_finish(1);
}

#[test]
fn first_error_wins_on_two_workers() {
    first_error_after_all_finish(2);
}

#[test]
fn all_ok() {
    let r = on_runtime(2, || {
        let group = ErrGroup::<String>::default();
        for _ in 0..20 {
            group.go(|| {
                goro::yield_now();
                Ok(())
            });
        }
        group.wait()
    });
    assert_eq!(r, Ok(()));
}

#[test]
fn the_context_is_cancelled_on_the_first_error() {
    let (result, stopped_early) = on_runtime(2, || {
        let (group, ctx) = ErrGroup::with_context(&Context::background());
        let stopped_early = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let (ctx, stopped_early) = (ctx.clone(), stopped_early.clone());
            group.go(move || {
                let slow = goro::time::after(Duration::from_secs(10));
                goro::select! {
                    recv(&slow) -> _ => Ok(()),
                    recv(&ctx.done()) -> _ => {
                        stopped_early.fetch_add(1, Ordering::SeqCst);
                        Err(ctx.err().unwrap())
                    }
                }
            });
        }
        group.go(|| {
            goro::time::sleep(Duration::from_millis(5));
            Err(ContextError::DeadlineExceeded) // stands for any domain error
        });
        (group.wait(), stopped_early.load(Ordering::SeqCst))
    });
    assert_eq!(
        result,
        Err(ContextError::DeadlineExceeded),
        "the failing task's error is first"
    );
    assert_eq!(stopped_early, 5);
}

#[test]
fn wait_cancels_the_context_even_on_success() {
    let err = on_runtime(1, || {
        let (group, ctx) = ErrGroup::<()>::with_context(&Context::background());
        group.go(|| Ok(()));
        assert_eq!(group.wait(), Ok(()));
        ctx.err()
    });
    assert_eq!(err, Some(ContextError::Canceled));
}

#[test]
fn a_cancelled_parent_cancels_the_group_context() {
    on_runtime(1, || {
        let (parent, cancel) = Context::background().with_cancel();
        let (group, ctx) = ErrGroup::<ContextError>::with_context(&parent);
        let c = ctx.clone();
        group.go(move || {
            let _ = c.done().recv();
            Err(c.err().unwrap())
        });
        cancel.cancel();
        assert_eq!(group.wait(), Err(ContextError::Canceled));
        assert!(ctx.is_done());
    });
}

#[test]
fn a_panic_is_re_raised_by_wait_after_all_finish() {
    let (finished, ctx_err, message) = on_runtime(2, || {
        let (group, ctx) = ErrGroup::<()>::with_context(&Context::background());
        let finished = Arc::new(AtomicUsize::new(0));
        group.go(|| panic!("worker exploded"));
        for _ in 0..3 {
            let (ctx, finished) = (ctx.clone(), finished.clone());
            group.go(move || {
                let _ = ctx.done().recv(); // the panic cancels the context
                goro::time::sleep(Duration::from_millis(2));
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        }
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| group.wait()));
        let payload = caught.expect_err("wait re-raises the panic");
        let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
        (finished.load(Ordering::SeqCst), ctx.err(), message)
    });
    assert_eq!(finished, 3);
    assert_eq!(ctx_err, Some(ContextError::Canceled));
    assert_eq!(message, "worker exploded");
}

#[test]
fn from_a_plain_thread() {
    support::watchdog(60, || {
        let group = ErrGroup::new();
        group.go(|| Err(1));
        group.go(|| Ok(()));
        assert_eq!(group.wait(), Err(1));
        assert_eq!(
            format!("{:?}", ErrGroup::<()>::new()),
            "ErrGroup { running: 0, context: false }"
        );
    });
}
