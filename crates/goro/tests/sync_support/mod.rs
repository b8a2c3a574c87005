//! Shared by the `sync_*` and `context` tests: bounded runs and runtimes of a given size.

use std::sync::mpsc;
use std::time::Duration;

/// How long any one test body may take before it is declared hung.
const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `body` on its own thread and returns its result; panics with a clear message if it
/// does not finish within the watchdog period (a deadlock), and re-raises its panic.
pub fn watchdog<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let out = body();
        let _ = tx.send(());
        out
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Ok(_) => unreachable!("the body returned without reporting"),
            Err(payload) => std::panic::resume_unwind(payload),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not finish within {WATCHDOG:?}: deadlock or lost wake-up")
        }
    }
}

/// Runs `f` as a goroutine on a fresh runtime with `procs` workers, under the watchdog.
pub fn on_runtime<T: Send + 'static>(
    what: &str,
    procs: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    watchdog(what, move || {
        let rt = goro::Runtime::builder().max_procs(procs).build().unwrap();
        rt.run(f)
    })
}
