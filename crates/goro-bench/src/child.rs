//! Running one measurement in a child process with a time limit, so that a crash, an abort or
//! an out-of-memory death in a peer is reported instead of taking the harness down; and
//! reading the child's `name value unit` line back.

use std::any::Any;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::workloads::{Job, Outcome};
use crate::Runtime;

/// The time limit for a child started by a measurement itself (may's `spawn_join` and
/// `parked_*`).
const NESTED_TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished (or killed) child left behind.
pub struct Finished {
    /// The exit status; `None` when the time limit killed it.
    pub status: Option<ExitStatus>,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

/// Runs `cmd` to completion with piped output, killing it once `limit` has passed: its whole
/// process group when the caller made it a group leader (`CommandExt::process_group(0)`), so
/// that grandchildren go too.
pub fn run(mut cmd: Command, limit: Duration) -> std::io::Result<Finished> {
    let mut child = cmd
        // A backtrace taken while out of memory can hang the child instead of ending it; run
        // the single command by hand to see one.
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            // Fails when the child leads no group; `kill` is procps'.
            let group = format!("-{}", child.id());
            let killed = Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !killed {
                child.kill()?;
            }
            child.wait()?;
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    Ok(Finished {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Collects everything a pipe yields on a thread of its own.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        // A child killed half-way may leave invalid UTF-8; what it printed is still worth
        // reporting.
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// This executable, set to measure `job` on `runtime` and print its line.
pub fn self_command(runtime: Runtime, job: &Job) -> Command {
    let exe = std::env::current_exe().expect("cannot locate the goro-bench executable");
    let mut cmd = Command::new(exe);
    cmd.args(["--runtime", runtime.name()]);
    if job.quick {
        cmd.arg("--quick");
    }
    cmd.arg(job.workload.name);
    cmd
}

/// Reads a child's result for the workload `name`: its value line, else the reason it gave for
/// not running it, else how it died.
pub fn outcome(finished: &Finished, name: &str, limit: Duration) -> Outcome {
    let value = finished.stdout.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        (fields.next() == Some(name)).then(|| fields.next()?.parse::<f64>().ok())?
    });
    let last_line = finished
        .stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("");
    match (finished.status, value) {
        (Some(status), Some(v)) if status.success() => Outcome::Value(v),
        (Some(status), None) if status.success() => {
            let reason = last_line
                .split_once(UNSUPPORTED)
                .map_or(last_line, |(_, r)| r);
            Outcome::Unsupported(reason.to_string())
        }
        (Some(status), _) => Outcome::Failed(
            explanation(&finished.stderr)
                .map_or_else(|| format!("{status}: {last_line}"), str::to_string),
        ),
        (None, _) => Outcome::Failed(format!("killed after {} s", limit.as_secs())),
    }
}

/// What a failed child said about its failure: the first Rust panic's message, else the
/// reason on a `failed` line (a child's own report of a failure in its child), else Go's
/// `panic:` or `fatal error:` line.
fn explanation(stderr: &str) -> Option<&str> {
    let rust_panic = stderr
        .lines()
        .skip_while(|l| !l.contains(" panicked at "))
        .nth(1);
    let go_panic = || {
        stderr
            .lines()
            .find(|l| l.starts_with("panic: ") || l.starts_with("fatal error: "))
    };
    rust_panic
        .or_else(|| stderr.lines().find_map(|l| Some(l.split_once(FAILED)?.1)))
        .or_else(go_panic)
        .map(str::trim)
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".into())
}

/// What single-workload mode prints on stderr before the reason a runtime failed a workload.
pub const FAILED: &str = " failed: ";

/// What single-workload mode prints on stderr before the reason a runtime skips a workload.
pub const UNSUPPORTED: &str = " unsupported: ";

/// Measures `job` on `runtime` in a child process that has `marker` set in its environment
/// (so that it measures in-process instead of recursing), turning a crash into `Failed`. The
/// child stays in this process's group, so a harness that kills the group kills it too.
pub fn measure_in_child(runtime: Runtime, job: &Job, marker: &str) -> Outcome {
    let mut cmd = self_command(runtime, job);
    cmd.env(marker, "1");
    match run(cmd, NESTED_TIMEOUT) {
        Ok(finished) => outcome(&finished, job.workload.name, NESTED_TIMEOUT),
        Err(e) => Outcome::Failed(format!("cannot start a child process: {e}")),
    }
}
