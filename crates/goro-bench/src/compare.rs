//! `goro-bench compare`: builds the Go anchors when `go` is on PATH, runs every peer on every
//! workload in child processes, alternating peers over several rounds, then prints a table of
//! medians with ratios to Go (to goro when Go is absent) and writes `bench/results.json` and
//! `bench/results.svg`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::workloads::{Job, Outcome, Workload};
use crate::{chart, child, Runtime};

/// The repository root, where `bench/` goes and `../shared/anchors/go` is found.
const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// One side of the comparison: the Go anchors or a Rust runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// The Go anchors, built from `shared/anchors/go`.
    Go,
    /// A runtime this executable measures.
    Rust(Runtime),
}

impl Peer {
    /// Go, then every Rust runtime.
    pub fn all() -> Vec<Peer> {
        std::iter::once(Peer::Go)
            .chain(Runtime::ALL.map(Peer::Rust))
            .collect()
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Peer::Go => "go",
            Peer::Rust(r) => r.name(),
        }
    }

    /// The peer with this name.
    pub fn from_name(name: &str) -> Option<Peer> {
        if name == "go" {
            Some(Peer::Go)
        } else {
            Runtime::from_name(name).map(Peer::Rust)
        }
    }
}

/// What `compare` was asked to do.
pub struct Options {
    /// Rounds of alternating runs; the report gives each peer's median over them.
    pub rounds: usize,
    /// Small sizes for the Rust peers (the Go anchors have no size knob).
    pub quick: bool,
    /// The time limit for one child run.
    pub timeout: Duration,
    /// The peers to run, in report order.
    pub peers: Vec<Peer>,
    /// The workloads to run.
    pub workloads: Vec<&'static Workload>,
    /// Where `results.json` and `results.svg` go.
    pub out_dir: PathBuf,
}

/// `bench/` in the repository root.
pub fn default_out_dir() -> PathBuf {
    Path::new(REPO_ROOT).join("bench")
}

/// Everything one peer produced on one workload.
#[derive(Default)]
pub struct Cell {
    /// The values of the successful rounds.
    pub samples: Vec<f64>,
    /// Why the other rounds failed.
    pub failures: Vec<String>,
    /// Why the peer does not run this workload, when it does not.
    pub unsupported: Option<String>,
    /// Whether a run hit the time limit; later rounds skip the cell rather than wait again.
    pub timed_out: bool,
    /// What successful runs said on stderr (such as a size cap), once each.
    pub remarks: Vec<String>,
}

impl Cell {
    /// The median of the samples.
    pub fn median(&self) -> Option<f64> {
        let mut s = self.samples.clone();
        s.sort_by(f64::total_cmp);
        let mid = s.len() / 2;
        match s.len() {
            0 => None,
            len if len % 2 == 1 => Some(s[mid]),
            _ => Some((s[mid - 1] + s[mid]) / 2.0),
        }
    }
}

/// The collected results: `cells[w][p]` is peer `p` on workload `w`.
pub struct Results {
    /// The peers that ran, in report order.
    pub peers: Vec<Peer>,
    /// The workloads, in report order.
    pub workloads: Vec<&'static Workload>,
    /// One cell per workload and peer.
    pub cells: Vec<Vec<Cell>>,
    /// The peer that ratios are taken to.
    pub baseline: Option<Peer>,
}

impl Results {
    /// `peer`'s median on workload `w` divided by the baseline's.
    pub fn ratio(&self, w: usize, p: usize) -> Option<f64> {
        let base = self.peers.iter().position(|&q| Some(q) == self.baseline)?;
        Some(self.cells[w][p].median()? / self.cells[w][base].median()?)
    }
}

/// Runs the comparison end to end.
pub fn run(options: &Options) -> ExitCode {
    let started = Instant::now();
    let scratch = std::env::temp_dir().join(format!("goro-bench-{}", std::process::id()));
    let mut peers = options.peers.clone();
    let go_binary = if peers.contains(&Peer::Go) {
        match build_anchors(&scratch) {
            Ok(bin) => Some(bin),
            Err(why) => {
                eprintln!("goro-bench: leaving Go out: {why}");
                peers.retain(|&p| p != Peer::Go);
                None
            }
        }
    } else {
        None
    };
    let baseline = [Peer::Go, Peer::Rust(Runtime::Goro)]
        .into_iter()
        .find(|p| peers.contains(p));
    let mut results = Results {
        cells: options
            .workloads
            .iter()
            .map(|_| peers.iter().map(|_| Cell::default()).collect())
            .collect(),
        peers,
        workloads: options.workloads.clone(),
        baseline,
    };

    for round in 1..=options.rounds {
        for (w, &workload) in results.workloads.iter().enumerate() {
            for (p, &peer) in results.peers.iter().enumerate() {
                let cell = &mut results.cells[w][p];
                if cell.unsupported.is_some() || cell.timed_out {
                    continue;
                }
                let job = Job {
                    workload,
                    quick: options.quick,
                };
                let cmd = match (peer, &go_binary) {
                    (Peer::Go, Some(bin)) => {
                        let mut cmd = Command::new(bin);
                        cmd.arg(workload.name);
                        cmd
                    }
                    (Peer::Go, None) => continue,
                    (Peer::Rust(runtime), _) => child::self_command(runtime, &job),
                };
                let t = Instant::now();
                let (outcome, finished) = measure(cmd, workload, options.timeout);
                cell.timed_out = finished.as_ref().is_some_and(|f| f.status.is_none());
                if let (Outcome::Value(_), Some(f)) = (&outcome, &finished) {
                    for remark in f.stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        if !cell.remarks.iter().any(|r| r == remark) {
                            cell.remarks.push(remark.to_string());
                        }
                    }
                }
                let progress = match &outcome {
                    Outcome::Value(v) => format!("{v:.1} {}", workload.unit),
                    Outcome::Unsupported(why) => format!("unsupported: {why}"),
                    Outcome::Failed(why) => format!("FAILED: {why}"),
                };
                eprintln!(
                    "[round {round}/{}] {:<22} {:<12} {progress} ({:.1} s)",
                    options.rounds,
                    workload.name,
                    peer.name(),
                    t.elapsed().as_secs_f64()
                );
                match outcome {
                    Outcome::Value(v) => cell.samples.push(v),
                    Outcome::Unsupported(why) => cell.unsupported = Some(why),
                    Outcome::Failed(why) => cell.failures.push(why),
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);

    print!("{}", table(&results));
    let out_dir = &options.out_dir;
    let written = std::fs::create_dir_all(out_dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let json = out_dir.join("results.json");
            let text = serde_json::to_string_pretty(&to_json(&results, options))
                .map_err(|e| e.to_string())?;
            std::fs::write(&json, text + "\n").map_err(|e| e.to_string())?;
            let svg = out_dir.join("results.svg");
            chart::draw(&results, &subtitle(options), &svg).map_err(|e| e.to_string())?;
            Ok((json, svg))
        });
    match written {
        Ok((json, svg)) => {
            let show = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
            eprintln!(
                "goro-bench: wrote {} and {} in {:.0} s",
                show(&json).display(),
                show(&svg).display(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("goro-bench: cannot write the results: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one child measurement in a process group of its own, so that a timeout kills any
/// grandchild too; also hands back what the child left, when it could be started.
fn measure(
    mut cmd: Command,
    workload: &Workload,
    limit: Duration,
) -> (Outcome, Option<child::Finished>) {
    cmd.process_group(0);
    match child::run(cmd, limit) {
        Ok(finished) => (
            child::outcome(&finished, workload.name, limit),
            Some(finished),
        ),
        Err(e) => (Outcome::Failed(format!("cannot start: {e}")), None),
    }
}

/// How the numbers were taken, for the chart.
fn subtitle(options: &Options) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let sizes = if options.quick {
        "--quick sizes for the Rust peers: a smoke run, not a comparison"
    } else {
        "sizes as in the Go anchors"
    };
    format!(
        "median of {} round(s), each run in its own process; {sizes}; {cpus} CPUs",
        options.rounds
    )
}

/// Builds the Go anchors into `scratch` and returns the binary, or says why not.
fn build_anchors(scratch: &Path) -> Result<PathBuf, String> {
    let dir = std::env::var_os("GORO_ANCHORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(REPO_ROOT).join("../shared/anchors/go"));
    if !dir.join("main.go").is_file() {
        return Err(format!(
            "no anchors at {} (set GORO_ANCHORS)",
            dir.display()
        ));
    }
    std::fs::create_dir_all(scratch).map_err(|e| e.to_string())?;
    let bin = scratch.join("anchors");
    eprintln!("goro-bench: building the Go anchors from {}", dir.display());
    let out = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(".")
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("`go` is not runnable: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`go build` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(bin)
}

/// The report printed on stdout: one row per workload and peer that ran it, then the
/// combinations left out and why.
fn table(results: &Results) -> String {
    let ratio_header = results
        .baseline
        .map_or("ratio".into(), |b| format!("vs {}", b.name()));
    let mut out = format!(
        "\n{:<22} {:<12} {:>12}  {:<16} {ratio_header:>8}  notes\n",
        "workload", "peer", "median", "unit",
    );
    // (peer, reason) -> workloads; listed in peer order, then first-seen order.
    let mut left_out: Vec<(Peer, &str, Vec<&str>)> = Vec::new();
    for (w, workload) in results.workloads.iter().enumerate() {
        let mut first = true;
        for (p, &peer) in results.peers.iter().enumerate() {
            let cell = &results.cells[w][p];
            if let Some(why) = &cell.unsupported {
                match left_out.iter_mut().find(|(q, r, _)| *q == peer && r == why) {
                    Some((_, _, names)) => names.push(workload.name),
                    None => left_out.push((peer, why, vec![workload.name])),
                }
                continue;
            }
            let name = if std::mem::take(&mut first) {
                workload.name
            } else {
                ""
            };
            let median = cell.median().map_or("-".into(), |m| format!("{m:.1}"));
            let ratio = results
                .ratio(w, p)
                .map_or("-".into(), |r| format!("{r:.2}x"));
            let mut notes = cell.remarks.clone();
            if let Some(why) = cell.failures.first() {
                notes.push(format!(
                    "{} of {} runs failed: {why}",
                    cell.failures.len(),
                    cell.failures.len() + cell.samples.len()
                ));
            }
            let notes = notes.join("; ");
            let line = format!(
                "{name:<22} {:<12} {median:>12}  {:<16} {ratio:>8}  {notes}",
                peer.name(),
                workload.unit,
            );
            out += line.trim_end();
            out.push('\n');
        }
    }
    if !left_out.is_empty() {
        left_out.sort_by_key(|(peer, _, _)| results.peers.iter().position(|p| p == peer));
        out += "\nnot run:\n";
        for (peer, why, names) in left_out {
            out += &format!("  {:<12} {}: {why}\n", peer.name(), names.join(", "));
        }
    }
    out
}

/// The machine-readable report written to `bench/results.json`.
fn to_json(results: &Results, options: &Options) -> Value {
    let workloads: Vec<Value> = results
        .workloads
        .iter()
        .enumerate()
        .map(|(w, workload)| {
            let peers: serde_json::Map<String, Value> = results
                .peers
                .iter()
                .enumerate()
                .map(|(p, peer)| {
                    let cell = &results.cells[w][p];
                    let entry = json!({
                        "median": cell.median(),
                        "ratio": results.ratio(w, p),
                        "samples": cell.samples,
                        "failures": cell.failures,
                        "remarks": cell.remarks,
                        "unsupported": cell.unsupported,
                    });
                    (peer.name().to_string(), entry)
                })
                .collect();
            json!({
                "name": workload.name,
                "unit": workload.unit,
                "n": if options.quick { workload.quick_n } else { workload.n },
                "results": peers,
            })
        })
        .collect();
    json!({
        "rounds": options.rounds,
        "quick": options.quick,
        "baseline": results.baseline.map(Peer::name),
        "cpus": std::thread::available_parallelism().map_or(0, usize::from),
        "gomaxprocs": std::env::var("GOMAXPROCS").ok(),
        "peers": results.peers.iter().map(|p| p.name()).collect::<Vec<_>>(),
        "workloads": workloads,
    })
}
