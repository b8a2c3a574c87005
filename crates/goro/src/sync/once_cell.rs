//! once_cell: a cell written at most once, for lazily initialised shared values (Go's
//! `sync.OnceValue`, shaped like std's `OnceLock`).
//!
//! The value slot is written only by the caller holding the `OnceState` run, and read only
//! once the state is complete (Acquire), so readers never see a partial write. Unlike
//! `Once`, a panicking initialiser does not complete the cell: the next caller tries again.

use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;

use super::once::OnceState;

/// A cell that is written at most once and then shared read-only.
///
/// `get_or_init` runs the initialiser in exactly one caller; goroutines arriving meanwhile
/// park until it is done and then share the value. If the initialiser panics the cell stays
/// empty, the panic propagates to that caller, and a waiting caller runs its own
/// initialiser instead.
///
/// ```
/// use goro::sync::OnceCell;
///
/// static CONFIG: OnceCell<String> = OnceCell::new();
///
/// let hs: Vec<_> = (0..4)
///     .map(|_| goro::go(|| CONFIG.get_or_init(|| "loaded".to_string()).len()))
///     .collect();
/// for h in hs {
///     assert_eq!(h.join().unwrap(), 6);
/// }
/// assert_eq!(CONFIG.get().map(String::as_str), Some("loaded"));
/// ```
pub struct OnceCell<T> {
    once: OnceState,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once under the run protocol and then only shared (`&T`), so
// sharing the cell needs T: Sync, and since any thread may write or drop it, T: Send.
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}

impl<T> OnceCell<T> {
    /// An empty cell; `const`, so it works in statics.
    ///
    /// ```
    /// static CELL: goro::sync::OnceCell<u32> = goro::sync::OnceCell::new();
    /// assert_eq!(CELL.get(), None);
    /// ```
    pub const fn new() -> OnceCell<T> {
        OnceCell {
            once: OnceState::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if the cell has been written.
    ///
    /// ```
    /// let cell = goro::sync::OnceCell::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set(5).unwrap();
    /// assert_eq!(cell.get(), Some(&5));
    /// ```
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: complete means the value was written, and it is never written again.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// Writes `value` if the cell is empty; otherwise hands it back. If another caller is
    /// initialising the cell right now, waits for it first.
    ///
    /// ```
    /// let cell = goro::sync::OnceCell::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// assert_eq!(cell.get(), Some(&1));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        if !self.once.is_completed() {
            self.once.run(false, || {
                if let Some(v) = value.take() {
                    // SAFETY: we hold the run, so nobody else writes or reads the slot.
                    unsafe { (*self.value.get()).write(v) };
                }
            });
        }
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, computing it with `f` if the cell is empty. Exactly one caller's `f` runs
    /// (per successful initialisation); the others park until it has finished.
    ///
    /// ```
    /// let cell = goro::sync::OnceCell::new();
    /// assert_eq!(*cell.get_or_init(|| 1 + 1), 2);
    /// assert_eq!(*cell.get_or_init(|| unreachable!()), 2);
    /// ```
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if !self.once.is_completed() {
            self.once.run(false, || {
                let v = f();
                // SAFETY: we hold the run, so nobody else writes or reads the slot.
                unsafe { (*self.value.get()).write(v) };
            });
        }
        // SAFETY: `run` returns normally only once the state is complete, which means the
        // value was written.
        unsafe { (*self.value.get()).assume_init_ref() }
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        if self.once.is_completed() {
            // SAFETY: complete means written; `&mut self` means nobody else can see it.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T> Default for OnceCell<T> {
    /// An empty cell.
    ///
    /// ```
    /// let cell: goro::sync::OnceCell<i32> = Default::default();
    /// assert!(cell.get().is_none());
    /// ```
    fn default() -> Self {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    /// Shows the value, or `<uninit>`.
    ///
    /// ```
    /// let cell = goro::sync::OnceCell::new();
    /// assert_eq!(format!("{cell:?}"), "OnceCell(<uninit>)");
    /// cell.set(3).unwrap();
    /// assert_eq!(format!("{cell:?}"), "OnceCell(3)");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("OnceCell");
        match self.get() {
            Some(v) => t.field(v),
            None => t.field(&format_args!("<uninit>")),
        };
        t.finish()
    }
}
