//! Go's `sync` package, plus `x/sync`'s `errgroup` and `semaphore`, for goroutines and
//! plain threads alike.
//!
//! Every blocking operation here parks the calling goroutine — never its worker thread — so
//! a goroutine holding a [`Mutex`] may itself block (sleep, wait on a channel or another
//! primitive) while others queue for the lock, even on a single-worker runtime. From a plain
//! OS thread the same calls block the thread. All of them wait through `crate::park`, so
//! dumps show Go's wait reasons (`sync.Mutex.Lock`, `semacquire`, ...).
//!
//! | goro | Go |
//! |---|---|
//! | [`Mutex`] / [`MutexGuard`] | `sync.Mutex` (with its normal/starvation fairness) |
//! | [`RwLock`] / [`RwLockReadGuard`] / [`RwLockWriteGuard`] | `sync.RWMutex` |
//! | [`WaitGroup`] | `sync.WaitGroup` |
//! | [`Once`] | `sync.Once` |
//! | [`OnceCell`] | `sync.OnceValue`, Rust-style |
//! | [`Cond`] | `sync.Cond` |
//! | [`Semaphore`] / [`SemaphorePermit`] | `x/sync/semaphore.Weighted` (FIFO fair) |
//! | [`ErrGroup`] | `x/sync/errgroup.Group` |
//!
//! Rust's ownership replaces Go's vet checks: data lives inside the lock, guards release it
//! when dropped, and nothing can be copied after first use.
//!
//! ```
//! use std::sync::Arc;
//! use goro::sync::{Mutex, WaitGroup};
//!
//! let total = goro::run(|| {
//!     let counter = Arc::new(Mutex::new(0));
//!     let wg = WaitGroup::new();
//!     for _ in 0..10 {
//!         let counter = counter.clone();
//!         wg.go(move || *counter.lock() += 1);
//!     }
//!     wg.wait();
//!     let total = *counter.lock();
//!     total
//! });
//! assert_eq!(total, 10);
//! ```

mod cond;
mod err_group;
mod mutex;
mod once;
mod once_cell;
mod rwlock;
mod semaphore;
mod wait_group;

pub use cond::Cond;
pub use err_group::ErrGroup;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use once_cell::OnceCell;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use wait_group::WaitGroup;
