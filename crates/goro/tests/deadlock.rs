//! Introspection: goroutine dumps, the long-runner mark, SIGQUIT, and the deadlock detector
//! in `goro::run` — both the deadlocks it must report and the waits it must not.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use goro::runtime::{State, WaitReason};
use support::watchdog;

/// The panic message of `run(f)`, which must panic.
fn run_panic_message<T>(f: impl FnOnce() -> T + Send + 'static) -> String
where
    T: Send + 'static,
{
    watchdog(60, move || {
        let Err(err) = catch_unwind(AssertUnwindSafe(|| goro::run(f))) else {
            panic!("run returned instead of reporting a deadlock");
        };
        err.downcast_ref::<String>()
            .cloned()
            .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
            .expect("a text message")
    })
}

/// The dump line of the goroutine spawned at `line` of this file.
fn dump_line(report: &str, line: u32) -> &str {
    let at = format!("{}:{line}:", file!());
    report
        .lines()
        .find(|l| l.contains(&at))
        .unwrap_or_else(|| panic!("no goroutine spawned at {at} in:\n{report}"))
}

/// The dump lines of goroutines spawned in this file that wait in `reason`.
fn waiting_here<'a>(report: &'a str, reason: &str) -> Vec<&'a str> {
    let tag = format!("[{reason}");
    report
        .lines()
        .filter(|l| l.contains(&tag) && l.contains(&format!("spawned at {}:", file!())))
        .collect()
}

#[test]
fn a_lone_goroutine_blocked_forever_is_reported() {
    let report = run_panic_message(|| goro::chan::<i32>(0).recv());
    assert!(
        report.starts_with("all goroutines are asleep - deadlock!\n"),
        "{report}"
    );
    assert!(
        !waiting_here(&report, "chan receive").is_empty(),
        "{report}"
    );
}

/// The line `spawn_partner` spawns on.
static PARTNER_LINE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn spawn_partner(a: goro::Chan<i32>, b: goro::Chan<i32>) -> goro::JoinHandle<()> {
    PARTNER_LINE.store(line!() + 1, Ordering::SeqCst);
    goro::go(move || {
        b.recv();
        a.send(1).unwrap();
    })
}

#[test]
fn two_goroutines_waiting_on_each_other_are_reported() {
    let report = run_panic_message(|| {
        let (a, b) = (goro::chan::<i32>(0), goro::chan::<i32>(0));
        let partner = spawn_partner(a.clone(), b.clone());
        b.send(a.recv().unwrap()).unwrap();
        partner
    });
    assert!(
        report.starts_with("all goroutines are asleep - deadlock!\n"),
        "{report}"
    );
    let partner = dump_line(&report, PARTNER_LINE.load(Ordering::SeqCst));
    assert!(partner.contains("[chan receive"), "{report}");
    assert!(waiting_here(&report, "chan receive").len() >= 2, "{report}");
}

#[test]
fn timers_that_can_no_longer_fire_do_not_hide_a_deadlock() {
    let report = run_panic_message(|| {
        drop(goro::time::after(Duration::from_secs(3600))); // nobody can receive its tick
        let stopped = goro::time::Timer::new(Duration::from_secs(3600));
        stopped.stop();
        let (_ctx, _cancel) = goro::context::Context::background().with_cancel();
        let ch = goro::chan::<u8>(0);
        let got = ch.recv();
        drop(stopped);
        got
    });
    assert!(
        report.starts_with("all goroutines are asleep - deadlock!\n"),
        "{report}"
    );
}

#[test]
fn a_sleeping_program_is_not_a_deadlock() {
    let slept = watchdog(60, || {
        goro::run(|| {
            let t = Instant::now();
            goro::time::sleep(Duration::from_millis(600));
            t.elapsed()
        })
    });
    assert!(slept >= Duration::from_millis(600));
}

#[test]
fn waiting_on_a_plain_thread_that_sends_later_is_not_a_deadlock() {
    let got = watchdog(60, || {
        goro::run(|| {
            let ch = goro::chan::<u32>(0);
            let tx = ch.sender();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(600));
                tx.send(7).unwrap();
            });
            ch.recv()
        })
    });
    assert_eq!(got, Some(7));
}

#[test]
fn a_pending_timer_is_not_a_deadlock() {
    let fired = watchdog(60, || {
        goro::run(|| {
            let start = Instant::now();
            let at = goro::time::after(Duration::from_millis(600))
                .recv()
                .unwrap();
            at.duration_since(start)
        })
    });
    assert!(fired >= Duration::from_millis(600));
}

#[test]
fn a_thread_started_before_run_that_sleeps_then_sends_is_not_a_deadlock() {
    // Never touched goro and older than the run, but in a timed sleep: it counts as alive,
    // even though it sleeps far longer than the confirmation period.
    let got = watchdog(60, || {
        let ch = goro::chan::<u32>(0);
        let tx = ch.sender();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            tx.send(8).unwrap();
        });
        goro::run(move || ch.recv())
    });
    assert_eq!(got, Some(8));
}

#[test]
fn with_detection_off_a_deadlocked_run_just_waits() {
    let (tx, rx) = std::sync::mpsc::channel();
    // This thread stays blocked in `run` for the rest of the test binary, as Go's would.
    std::thread::spawn(move || {
        let rt = goro::Runtime::builder()
            .detect_deadlocks(false)
            .build()
            .unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| rt.run(|| goro::chan::<u8>(0).recv())));
        let _ = tx.send(outcome.is_ok());
    });
    let waited = rx.recv_timeout(Duration::from_millis(1500));
    assert!(
        waited.is_err(),
        "run returned or reported with detection off: {waited:?}"
    );
}

#[test]
fn dump_reports_wait_reasons_and_spawn_sites() {
    watchdog(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
        let ch = goro::chan::<u8>(0);
        let (rx, tx) = (ch.receiver(), ch.sender());
        let receiver_line = line!() + 1;
        let receiver = rt.go(move || rx.recv());
        let sleeper_line = line!() + 1;
        let sleeper = rt.go(|| goro::time::sleep(Duration::from_millis(1500)));
        let expect = [
            (receiver.id(), WaitReason::ChanRecv, receiver_line),
            (sleeper.id(), WaitReason::Sleep, sleeper_line),
        ];
        let deadline = Instant::now() + Duration::from_secs(30);
        let dump = loop {
            let dump = rt.run(goro::runtime::dump);
            let parked = expect.iter().all(|(id, reason, _)| {
                dump.iter()
                    .any(|g| g.id == *id && g.state == State::Waiting(*reason))
            });
            if parked {
                break dump;
            }
            assert!(
                Instant::now() < deadline,
                "goroutines never parked: {dump:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        for (id, _, line) in expect {
            let info = dump.iter().find(|g| g.id == id).unwrap();
            assert_eq!(info.spawned_at.file(), file!());
            assert_eq!(info.spawned_at.line(), line);
            assert!(info.to_string().starts_with(&format!("goroutine {id} [")));
        }
        let mut ids: Vec<_> = dump.iter().map(|g| g.id).collect();
        ids.sort();
        assert_eq!(
            ids,
            dump.iter().map(|g| g.id).collect::<Vec<_>>(),
            "dump is ordered by id"
        );
        tx.send(1).unwrap();
        assert_eq!(receiver.join().unwrap(), Some(1));
        sleeper.join().unwrap();
    });
}

#[test]
fn a_dump_lists_goroutines_the_caller_just_spawned() {
    watchdog(60, || {
        for procs in [1, 2] {
            let rt = goro::Runtime::builder().max_procs(procs).build().unwrap();
            let (listed, live, spawned) = rt.run(|| {
                // The last one spawned waits in the worker's next slot, the others in its
                // queue (on two workers the other one may start some: they then wait on
                // `gate`, still live).
                let gate = goro::chan::<()>(0);
                let hs: Vec<_> = (0..3)
                    .map(|_| {
                        let gate = gate.receiver();
                        goro::go(move || gate.recv())
                    })
                    .collect();
                let dump = goro::runtime::dump();
                let live = goro::num_goroutine();
                gate.close();
                let spawned: Vec<_> = hs.iter().map(|h| h.id()).collect();
                hs.into_iter()
                    .for_each(|h| assert_eq!(h.join().unwrap(), None));
                let listed: Vec<_> = dump
                    .into_iter()
                    .filter(|g| spawned.contains(&g.id))
                    .map(|g| (g.id, g.state))
                    .collect();
                (listed, live, spawned)
            });
            assert_eq!(live, 4, "{procs} worker(s)");
            let ids: Vec<_> = listed.iter().map(|&(id, _)| id).collect();
            assert_eq!(ids, spawned, "{procs} worker(s): {listed:?}");
            if procs == 1 {
                assert!(listed.iter().all(|&(_, state)| state == State::Runnable));
            }
        }
    });
}

#[test]
fn a_goroutine_that_never_yields_is_marked_in_the_dump() {
    watchdog(60, || {
        let rt = goro::Runtime::builder().max_procs(2).build().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let spinner = rt.go(move || {
            while !s.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let text = loop {
            let dump = rt.run(goro::runtime::dump);
            let info = dump.iter().find(|g| g.id == spinner.id()).cloned();
            if let Some(info) = info.filter(|i| i.state == State::Running) {
                if info.since >= Duration::from_millis(20) {
                    break info.to_string();
                }
            }
            assert!(
                Instant::now() < deadline,
                "spinner never showed as a long runner"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        stop.store(true, Ordering::SeqCst);
        spinner.join().unwrap();
        assert!(text.contains("without yielding"), "{text}");
    });
}

#[test]
fn sigquit_prints_every_goroutine_and_exits() {
    if std::env::var("GORO_TEST_SIGQUIT_CHILD").is_ok() {
        let ch = goro::chan::<()>(0);
        let rx = ch.receiver();
        let _parked = goro::go(move || rx.recv());
        while !goro::runtime::dump()
            .iter()
            .any(|g| g.state == State::Waiting(WaitReason::ChanRecv))
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: raising a signal at ourselves has no memory-safety preconditions.
        unsafe { libc::raise(libc::SIGQUIT) };
        std::thread::sleep(Duration::from_secs(30));
        unreachable!("SIGQUIT should have ended the process");
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sigquit_prints_every_goroutine_and_exits",
            "--nocapture",
        ])
        .env("GORO_TEST_SIGQUIT_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("SIGQUIT: quit"), "{stderr}");
    assert!(stderr.contains("[chan receive]: spawned at"), "{stderr}");
}
