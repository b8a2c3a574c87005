//! `goro-bench`: goro's side-by-side benchmarks against Go and other Rust runtimes.
//!
//! ```text
//! goro-bench [--runtime NAME] [--quick] [WORKLOAD]
//! goro-bench compare [--rounds N] [--quick] [--timeout SECS] [--peers LIST] [--out DIR]
//!                    [WORKLOAD...]
//! ```
//!
//! The first form prints one `name value unit` line per workload, exactly like the Go anchors
//! (`go run . [WORKLOAD]` in `shared/anchors/go`). A workload the runtime cannot express prints
//! no line; a note on stderr says why. The second form runs every peer (Go when `go` is on
//! PATH, goro, and the comparators), each measurement in a child process, alternating peers
//! over N rounds; it prints a table of medians and writes `bench/results.json` and
//! `bench/results.svg`.
//!
//! This file owns the command line and the list of runtimes; `workloads` holds the catalogue,
//! the `*_impl` modules the workloads per runtime, `child`, `compare` and `chart` the harness.

/// One allocator for every Rust peer (see Cargo.toml for why not glibc's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod chart;
mod child;
mod compare;
mod goro_impl;
mod may_impl;
mod threads_impl;
mod tokio_impl;
mod workloads;

use std::process::ExitCode;
use std::time::Duration;

use workloads::{Job, Outcome, Workload};

const USAGE: &str = "\
usage:
  goro-bench [--runtime NAME] [--quick] [WORKLOAD]
  goro-bench compare [--rounds N] [--quick] [--timeout SECS] [--peers LIST] [--out DIR]
                     [WORKLOAD...]

  --runtime NAME   goro (default), tokio, may, crossbeam, std, parking_lot
  --quick          small sizes for smoke runs (numbers not comparable; Go keeps its sizes)
  --rounds N       compare: rounds of alternating runs, median taken (default 3, quick 1)
  --timeout SECS   compare: limit per child run (default 120)
  --peers LIST     compare: comma-separated subset of go and the runtimes (default all)
  --out DIR        compare: where results.json and results.svg go (default bench/ in the
                   repository root)

workloads: pingpong_unbuffered spawn_join spsc_buffered100 mpmc_unbuffered_4x4
  mpmc_buffered100_4x4 select_recv2 mutex_4 parked_100k sieve_2000 (all when none is named),
  parked_1m (only when named)

environment: GORO_ANCHORS overrides the Go anchors' directory (default ../shared/anchors/go
  from the repository root); GOMAXPROCS sets the worker count of goro, tokio, may and Go.";

/// A Rust runtime (or library on OS threads) that `goro-bench` can measure in-process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// goro, the library under test.
    Goro,
    /// tokio's multi-thread runtime with tasks.
    Tokio,
    /// may's stackful coroutines.
    May,
    /// crossbeam-channel on OS threads.
    Crossbeam,
    /// std's threads, channels and Mutex.
    Std,
    /// parking_lot's Mutex on OS threads.
    ParkingLot,
}

impl Runtime {
    /// Every runtime, in the order reports list them.
    pub const ALL: [Runtime; 6] = [
        Runtime::Goro,
        Runtime::Tokio,
        Runtime::May,
        Runtime::Crossbeam,
        Runtime::Std,
        Runtime::ParkingLot,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Goro => "goro",
            Runtime::Tokio => "tokio",
            Runtime::May => "may",
            Runtime::Crossbeam => "crossbeam",
            Runtime::Std => "std",
            Runtime::ParkingLot => "parking_lot",
        }
    }

    /// The runtime with this command-line name.
    pub fn from_name(name: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Measures `job` in this process.
    fn measure(self, job: &Job) -> Outcome {
        match self {
            Runtime::Goro => goro_impl::measure(job),
            Runtime::Tokio => tokio_impl::measure(job),
            Runtime::May => may_impl::measure(job),
            Runtime::Crossbeam => threads_impl::measure_crossbeam(job),
            Runtime::Std => threads_impl::measure_std(job),
            Runtime::ParkingLot => threads_impl::measure_parking_lot(job),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Measure {
            runtime,
            quick,
            workloads,
        }) => measure(runtime, quick, &workloads),
        Ok(Command::Compare(options)) => compare::run(&options),
        Err(e) => {
            eprintln!("goro-bench: {e}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// What the command line asks for.
enum Command {
    Help,
    Measure {
        runtime: Runtime,
        quick: bool,
        workloads: Vec<&'static Workload>,
    },
    Compare(compare::Options),
}

fn parse(args: &[String]) -> Result<Command, String> {
    let comparing = args.first().is_some_and(|a| a == "compare");
    let mut runtime = Runtime::Goro;
    let mut quick = false;
    let mut rounds = None;
    let mut timeout = Duration::from_secs(120);
    let mut peers = None;
    let mut out = None;
    let mut named = Vec::new();
    let mut rest = args.iter().skip(usize::from(comparing));
    while let Some(arg) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(Command::Help),
            "--quick" => quick = true,
            "--runtime" if !comparing => {
                let name = value()?;
                runtime =
                    Runtime::from_name(&name).ok_or_else(|| format!("unknown runtime {name:?}"))?;
            }
            "--rounds" if comparing => {
                rounds = Some(
                    value()?
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or("--rounds needs a positive integer")?,
                );
            }
            "--timeout" if comparing => {
                timeout = Duration::from_secs(
                    value()?
                        .parse()
                        .map_err(|_| "--timeout needs whole seconds")?,
                );
            }
            "--peers" if comparing => {
                let list = value()?;
                peers = Some(list.split(',').map(str::to_string).collect::<Vec<_>>());
            }
            "--out" if comparing => out = Some(std::path::PathBuf::from(value()?)),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            name => named
                .push(workloads::find(name).ok_or_else(|| format!("unknown workload {name:?}"))?),
        }
    }
    if !comparing && named.len() > 1 {
        return Err("name one workload, or none for all".into());
    }
    if named.is_empty() {
        named = workloads::default_set().collect();
    }
    if !comparing {
        return Ok(Command::Measure {
            runtime,
            quick,
            workloads: named,
        });
    }
    let peers = match peers {
        None => compare::Peer::all(),
        Some(names) => names
            .iter()
            .map(|n| compare::Peer::from_name(n).ok_or_else(|| format!("unknown peer {n:?}")))
            .collect::<Result<_, _>>()?,
    };
    Ok(Command::Compare(compare::Options {
        rounds: rounds.unwrap_or(if quick { 1 } else { 3 }),
        quick,
        timeout,
        peers,
        out_dir: out.unwrap_or_else(compare::default_out_dir),
        workloads: named,
    }))
}

/// Single-runtime mode: one line per workload on stdout, Go's format.
fn measure(runtime: Runtime, quick: bool, workloads: &[&'static Workload]) -> ExitCode {
    let mut failed = false;
    for &workload in workloads {
        match runtime.measure(&Job { workload, quick }) {
            Outcome::Value(v) => println!("{} {v:.1} {}", workload.name, workload.unit),
            Outcome::Unsupported(why) => eprintln!(
                "{} on {}:{}{why}",
                workload.name,
                runtime.name(),
                child::UNSUPPORTED
            ),
            Outcome::Failed(why) => {
                failed = true;
                eprintln!(
                    "{} on {}:{}{why}",
                    workload.name,
                    runtime.name(),
                    child::FAILED
                );
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
