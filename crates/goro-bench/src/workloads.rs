//! The workload catalogue shared by every runtime: names, units and sizes copied from the Go
//! anchors (`shared/anchors/go/main.go`), what one measurement returns, and the helpers the
//! implementations share (timing and resident-memory readings).

use std::time::Duration;

/// What a workload does; each runtime module matches on this.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Two tasks bounce a value over two unbuffered channels; result per round trip.
    PingPong,
    /// Spawn `n` tasks that each signal a wait group, then wait; result per task.
    SpawnJoin,
    /// Producers send `n / producers` values each into one channel drained by consumers.
    ProdCons {
        /// Channel capacity; 0 is a rendezvous.
        cap: usize,
        /// Sending tasks.
        producers: usize,
        /// Receiving tasks.
        consumers: usize,
    },
    /// One receiver selects over two channels of capacity 64, each fed `n / 2` values.
    SelectRecv2,
    /// `workers` tasks increment one counter under a mutex, `n` increments in all.
    Mutex {
        /// Contending tasks.
        workers: usize,
    },
    /// `n` tasks parked on one channel; resident memory growth per task in bytes.
    Parked,
    /// The concurrent prime sieve up to the `n`-th prime, one task per prime.
    Sieve,
}

/// One named workload, as the Go anchors define it.
#[derive(Debug)]
pub struct Workload {
    /// The name printed first on the result line, identical to Go's.
    pub name: &'static str,
    /// The unit printed last on the result line, identical to Go's.
    pub unit: &'static str,
    /// What it does.
    pub shape: Shape,
    /// Go's size.
    pub n: usize,
    /// The size used under `--quick` (smoke runs only; numbers are not comparable).
    pub quick_n: usize,
    /// Whether it runs when no workload is named (Go's `parked_1m` runs only when named).
    pub in_default_set: bool,
}

/// Every workload, in Go's order.
pub const ALL: &[Workload] = &[
    Workload {
        name: "pingpong_unbuffered",
        unit: "ns/roundtrip",
        shape: Shape::PingPong,
        n: 1_000_000,
        quick_n: 10_000,
        in_default_set: true,
    },
    Workload {
        name: "spawn_join",
        unit: "ns/goroutine",
        shape: Shape::SpawnJoin,
        n: 1_000_000,
        quick_n: 10_000,
        in_default_set: true,
    },
    Workload {
        name: "spsc_buffered100",
        unit: "ns/msg",
        shape: Shape::ProdCons {
            cap: 100,
            producers: 1,
            consumers: 1,
        },
        n: 5_000_000,
        quick_n: 50_000,
        in_default_set: true,
    },
    Workload {
        name: "mpmc_unbuffered_4x4",
        unit: "ns/msg",
        shape: Shape::ProdCons {
            cap: 0,
            producers: 4,
            consumers: 4,
        },
        n: 1_000_000,
        quick_n: 10_000,
        in_default_set: true,
    },
    Workload {
        name: "mpmc_buffered100_4x4",
        unit: "ns/msg",
        shape: Shape::ProdCons {
            cap: 100,
            producers: 4,
            consumers: 4,
        },
        n: 4_000_000,
        quick_n: 40_000,
        in_default_set: true,
    },
    Workload {
        name: "select_recv2",
        unit: "ns/msg",
        shape: Shape::SelectRecv2,
        n: 2_000_000,
        quick_n: 20_000,
        in_default_set: true,
    },
    Workload {
        name: "mutex_4",
        unit: "ns/lock",
        shape: Shape::Mutex { workers: 4 },
        n: 4_000_000,
        quick_n: 40_000,
        in_default_set: true,
    },
    Workload {
        name: "parked_100k",
        unit: "bytes/goroutine",
        shape: Shape::Parked,
        n: 100_000,
        quick_n: 1_000,
        in_default_set: true,
    },
    Workload {
        name: "sieve_2000",
        unit: "ns/prime",
        shape: Shape::Sieve,
        n: 2000,
        quick_n: 200,
        in_default_set: true,
    },
    Workload {
        name: "parked_1m",
        unit: "bytes/goroutine",
        shape: Shape::Parked,
        n: 1_000_000,
        quick_n: 10_000,
        in_default_set: false,
    },
];

/// Looks a workload up by its Go name.
pub fn find(name: &str) -> Option<&'static Workload> {
    ALL.iter().find(|w| w.name == name)
}

/// The workloads that run when none is named.
pub fn default_set() -> impl Iterator<Item = &'static Workload> {
    ALL.iter().filter(|w| w.in_default_set)
}

/// One workload to measure at full or quick size.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    /// The workload.
    pub workload: &'static Workload,
    /// Whether `--quick` sizes apply.
    pub quick: bool,
}

impl Job {
    /// The size to run at.
    pub fn n(&self) -> usize {
        if self.quick {
            self.workload.quick_n
        } else {
            self.workload.n
        }
    }
}

/// What measuring one workload on one runtime gave.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The measured value, in the workload's unit.
    Value(f64),
    /// The runtime cannot express the workload faithfully; the reason says why.
    Unsupported(String),
    /// The run died or misbehaved (crash, timeout, out of memory); the text says how.
    Failed(String),
}

/// Nanoseconds per item: Go's `float64(d.Nanoseconds()) / float64(n)`.
pub fn ns_per(d: Duration, items: usize) -> f64 {
    d.as_nanos() as f64 / items as f64
}

/// The process's resident set size in KiB, read from `VmRSS` in `/proc/self/status` exactly
/// like the Go anchors' `rssKiB`; 0 when unavailable.
pub fn rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resident memory growth per task in bytes, from two `rss_kib` readings: Go's
/// `float64(after-before) * 1024 / float64(n)`.
pub fn bytes_per(before_kib: i64, after_kib: i64, tasks: usize) -> f64 {
    (after_kib - before_kib) as f64 * 1024.0 / tasks as f64
}

/// Worker threads for the M:N peers (tokio, may): `GOMAXPROCS` when it holds a positive
/// integer, else the number of CPUs, the rule Go and goro follow.
pub fn worker_threads() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(Into::into))
        .unwrap_or(1)
}
