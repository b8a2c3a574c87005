//! Time channels: `after`, `tick`, `Timer` and `Ticker`, with Go 1.23's rule that after
//! `stop`/`reset` returns no stale value is received. Lower bounds on elapsed time are
//! checked; upper bounds only loosely (the machine may be busy).

mod support;

use std::time::{Duration, Instant};

use goro::time::{after, tick, Ticker, Timer};
use goro::{select, RecvTimeoutError, TryRecvError};
use support::{everywhere, on_runtime, watchdog};

const MS: Duration = Duration::from_millis(1);

#[test]
fn after_fires_once_then_never_again() {
    everywhere(|| {
        let start = Instant::now();
        let rx = after(10 * MS);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let fired = rx.recv().unwrap();
        assert!(fired >= start + 10 * MS);
        assert!(start.elapsed() >= 10 * MS);
        assert_eq!(rx.recv_timeout(20 * MS), Err(RecvTimeoutError::Timeout));
        assert!(!rx.is_closed());
    });
}

#[test]
fn after_as_a_select_timeout() {
    everywhere(|| {
        let idle = goro::chan::<u8>(0);
        let start = Instant::now();
        let timed_out = select! {
            recv(&idle) -> _ => false,
            recv(&after(15 * MS)) -> _ => true,
        };
        assert!(timed_out);
        assert!(start.elapsed() >= 15 * MS);
    });
}

#[test]
fn many_timers_all_fire() {
    let fired = on_runtime(2, || {
        let hs: Vec<_> = (0..1000u64)
            .map(|i| goro::go(move || after(Duration::from_micros(i * 10)).recv().is_some()))
            .collect();
        hs.into_iter()
            .filter(|_| true)
            .map(|h| h.join().unwrap())
            .filter(|&b| b)
            .count()
    });
    assert_eq!(fired, 1000);
}

#[test]
fn tick_keeps_ticking_and_drops_what_is_not_received() {
    everywhere(|| {
        let start = Instant::now();
        let ticks = tick(5 * MS);
        let mut last = start;
        for _ in 0..3 {
            let t = ticks.recv().unwrap();
            assert!(t > last);
            last = t;
        }
        assert!(start.elapsed() >= 15 * MS);
        // A slow receiver: at most one tick waits for it.
        goro::time::sleep(40 * MS);
        assert!(ticks.len() <= 1);
        assert!(ticks.try_recv().is_ok(), "one tick is pending");
        let after_sleep = Instant::now();
        let next = ticks.recv().unwrap();
        assert!(next >= after_sleep, "no backlog of old ticks");
    });
}

#[test]
fn tick_zero_is_never() {
    let rx = tick(Duration::ZERO);
    assert_eq!(rx.recv_timeout(10 * MS), Err(RecvTimeoutError::Timeout));
}

#[test]
fn timer_fires_once() {
    everywhere(|| {
        let start = Instant::now();
        let t = Timer::new(10 * MS);
        let at = t.receiver().recv().unwrap();
        assert!(at >= start + 10 * MS);
        assert_eq!(
            t.receiver().recv_timeout(20 * MS),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(!t.stop(), "fired and received");
    });
}

#[test]
fn timer_stop_before_firing() {
    everywhere(|| {
        let t = Timer::new(10 * MS);
        assert!(t.stop());
        assert!(!t.stop());
        assert_eq!(
            t.receiver().recv_timeout(30 * MS),
            Err(RecvTimeoutError::Timeout)
        );
    });
}

/// Go 1.23: a timer that fired but whose value was not received counts as running, and
/// stop discards the value.
#[test]
fn timer_stop_after_firing_discards_the_stale_value() {
    everywhere(|| {
        let t = Timer::new(MS);
        goro::time::sleep(20 * MS);
        assert!(t.stop(), "the value was not received yet");
        assert_eq!(t.receiver().try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            t.receiver().recv_timeout(20 * MS),
            Err(RecvTimeoutError::Timeout)
        );
    });
}

#[test]
fn timer_reset_discards_the_stale_value_and_fires_again() {
    everywhere(|| {
        let t = Timer::new(MS);
        goro::time::sleep(20 * MS);
        let reset_at = Instant::now();
        assert!(t.reset(10 * MS), "the value was pending");
        assert_eq!(t.receiver().try_recv(), Err(TryRecvError::Empty));
        let at = t.receiver().recv().unwrap();
        assert!(at >= reset_at + 10 * MS, "only the new firing is received");
        // Reset after stop; reset of a pending timer moves it.
        assert!(!t.stop());
        assert!(!t.reset(5 * MS));
        assert!(t.reset(60_000 * MS), "still pending when reset again");
        assert_eq!(
            t.receiver().recv_timeout(20 * MS),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(t.reset(MS));
        assert!(t.receiver().recv_timeout(10_000 * MS).is_ok());
    });
}

/// Racing stop/reset against firing: whatever the interleaving, a value received after a
/// reset returned is from after that reset.
#[test]
fn timer_reset_races_never_deliver_stale_values() {
    watchdog(60, || {
        let t = Timer::new(Duration::ZERO);
        for i in 0..300u32 {
            let d = Duration::from_micros(u64::from(i % 7) * 50);
            std::thread::sleep(Duration::from_micros(u64::from(i % 5) * 40));
            let reset_at = Instant::now();
            t.reset(d);
            let at = t.receiver().recv().unwrap();
            assert!(
                at >= reset_at,
                "round {i}: received a value from before the reset"
            );
        }
    });
}

#[test]
fn ticker_ticks_stops_and_resets() {
    everywhere(|| {
        // Measured before the ticker starts: its ticks are due 5, 10 and 15 ms after `new`.
        let start = Instant::now();
        let ticker = Ticker::new(5 * MS);
        for _ in 0..3 {
            ticker.receiver().recv().unwrap();
        }
        assert!(start.elapsed() >= 15 * MS);
        goro::time::sleep(10 * MS); // a tick is pending now
        ticker.stop();
        assert_eq!(ticker.receiver().try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            ticker.receiver().recv_timeout(30 * MS),
            Err(RecvTimeoutError::Timeout)
        );
        let reset_at = Instant::now();
        ticker.reset(3 * MS);
        let a = ticker.receiver().recv().unwrap();
        let b = ticker.receiver().recv().unwrap();
        assert!(a >= reset_at + 3 * MS && b > a);
        assert!(format!("{ticker:?}").starts_with("Ticker"));
    });
}

#[test]
fn ticker_rejects_a_zero_period() {
    let err = std::panic::catch_unwind(|| Ticker::new(Duration::ZERO)).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("period must be positive"), "{msg}");
    let t = Ticker::new(Duration::from_secs(60));
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.reset(Duration::ZERO)));
    assert!(err.is_err());
}

#[test]
fn sleep_parks_only_its_goroutine() {
    let (slept, work) = on_runtime(1, || {
        let start = Instant::now();
        let sleeper = goro::go(move || {
            goro::time::sleep(20 * MS);
            start.elapsed()
        });
        let worker = goro::go(|| (0..1000u64).sum::<u64>());
        (sleeper.join().unwrap(), worker.join().unwrap())
    });
    assert!(slept >= 20 * MS);
    assert_eq!(work, 499_500);
}

#[test]
fn a_sleep_longer_than_instant_can_hold_just_sleeps() {
    watchdog(30, || {
        let rt = goro::Runtime::builder().max_procs(1).build().unwrap();
        let sleeper = rt.go(|| goro::time::sleep(Duration::MAX));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !rt.run(goro::runtime::dump).iter().any(|g| {
            g.id == sleeper.id()
                && g.state == goro::runtime::State::Waiting(goro::runtime::WaitReason::Sleep)
        }) {
            assert!(Instant::now() < deadline, "the sleeper never went to sleep");
            std::thread::sleep(MS);
        }
        std::thread::sleep(20 * MS);
        assert!(!sleeper.is_finished());
        drop(rt);
        assert!(
            sleeper.join().is_err(),
            "dropping the runtime unwinds the sleeper"
        );
    });
}
