//! # goro — Go's concurrency model for Rust
//!
//! Goroutines with their own small stacks, multiplexed M:N over `max_procs` worker threads;
//! channels (unbuffered and buffered, send-only and receive-only views, closable,
//! rangeable); `select!` with Go's random choice and `default`; the `sync` package;
//! `context`; timers. No async colouring: a goroutine blocks, and only it waits.
//!
//! ```
//! #[goro::main]
//! fn main() {
//!     let ch = goro::chan::<u32>(0);
//!     let tx = ch.sender();
//!     goro::go(move || {
//!         for i in 0..3 {
//!             tx.send(i).unwrap();
//!         }
//!     }); // the last sender dropped: the channel closes
//!     // Range over a receive-only view: a `Chan` counts as a sender, and ranging over it
//!     // would wait for itself to close.
//!     let got: Vec<u32> = goro::Receiver::from(ch).iter().collect();
//!     assert_eq!(got, [0, 1, 2]);
//! }
//! ```
//!
//! Layers (see DESIGN.md): `runtime` (scheduler, goroutines, stacks, timers) and the
//! channels sit on `park`, the one waiting abstraction; `sync`, `context` and `time` are
//! built from those.

#![warn(missing_docs)]

mod atomics;
mod chan;
pub mod context;
mod park;
pub mod runtime;
mod select;
mod spin;
pub mod sync;
pub mod time;
mod waitq;

pub use chan::{chan, never, AsReceiver, AsSender, Chan, IntoIter, Iter, Receiver, Sender};
pub use chan::{RecvFuture, SendFuture};
pub use chan::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
pub use goro_macros::{main, test};
pub use runtime::{current_id, go, max_procs, num_goroutine, run, yield_now};
pub use runtime::{Builder, GoroutineId, JoinHandle, Runtime};
#[doc(hidden)]
pub use select::__private;
pub use select::Select;
