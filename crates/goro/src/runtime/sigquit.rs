//! sigquit: Ctrl-\ prints every goroutine, as Go does.
//!
//! On the first runtime start, unless `GORO_SIGQUIT=0`, a `SIGQUIT` handler is installed
//! that only writes a byte to a pipe (async-signal-safe); a small thread reading that pipe
//! prints `SIGQUIT: quit` and a dump of every runtime's goroutines to stderr, then exits the
//! process with status 2, like Go.

use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

use super::deadlock;

static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigquit(_: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    let byte = 1u8;
    // SAFETY: write(2) is async-signal-safe; `byte` outlives the call. A failed write only
    // loses this dump request.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// Installs the handler once per process (see the module docs).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var("GORO_SIGQUIT").is_ok_and(|v| v.trim() == "0") {
            return;
        }
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return;
        }
        PIPE_WRITE.store(fds[1], Ordering::Relaxed);
        let reader = fds[0];
        let spawned = std::thread::Builder::new()
            .name("goro-sigquit".into())
            .spawn(move || wait_and_dump(reader));
        if spawned.is_err() {
            return;
        }
        // SAFETY: a zeroed sigaction is valid; we set a plain handler that only calls
        // write(2), with an empty mask.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigquit as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGQUIT, &action, std::ptr::null_mut());
        }
    });
}

fn wait_and_dump(reader: libc::c_int) {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads at most one byte into `byte`.
        let n = unsafe { libc::read(reader, (&mut byte as *mut u8).cast(), 1) };
        if n == 1 {
            break;
        }
        if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
    let mut out = String::from("SIGQUIT: quit\n");
    for g in deadlock::all_goroutines() {
        out.push_str(&format!("\n{g}"));
    }
    out.push('\n');
    let _ = std::io::stderr().write_all(out.as_bytes());
    std::process::exit(2);
}
