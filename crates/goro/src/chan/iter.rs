//! iter: Go's `for v := range ch` — iterators that receive until the channel is closed and
//! drained. `Iter` borrows a receiving handle; `IntoIter` owns one (a `Chan` ranged over by
//! value stays a sending handle too, so only an explicit `close` ends that loop, as in Go).

use std::fmt;

use super::core::Core;
use super::{Chan, Receiver};

/// A blocking iterator over received values; see [`Chan::iter`]. Each `next` parks the
/// goroutine (or blocks the thread) until a value arrives, and returns `None` once the
/// channel is closed and drained.
///
/// ```
/// let ch = goro::chan(0);
/// let tx = ch.sender();
/// goro::go(move || {
///     for word in ["a", "b"] {
///         tx.send(word).unwrap();
///     }
/// });
/// let rx = goro::Receiver::from(ch);
/// let words: Vec<&str> = rx.iter().collect();
/// assert_eq!(words, ["a", "b"]);
/// ```
pub struct Iter<'a, T> {
    core: &'a Core<T>,
}

impl<'a, T> Iter<'a, T> {
    pub(crate) fn new(core: &'a Core<T>) -> Iter<'a, T> {
        Iter { core }
    }
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        self.core.recv(None).ok()
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Iter { .. }")
    }
}

/// The handle an `IntoIter` receives through.
enum Owned<T> {
    Chan(Chan<T>),
    Receiver(Receiver<T>),
}

/// A blocking iterator that owns its receiving handle; see [`Iter`].
///
/// ```
/// let ch = goro::chan(2);
/// let rx = ch.receiver();
/// ch.send(1).unwrap();
/// ch.send(2).unwrap();
/// drop(ch);
/// let mut total = 0;
/// for v in rx {
///     total += v;
/// }
/// assert_eq!(total, 3);
/// ```
pub struct IntoIter<T> {
    handle: Owned<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        match &self.handle {
            Owned::Chan(ch) => ch.recv(),
            Owned::Receiver(rx) => rx.recv(),
        }
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntoIter { .. }")
    }
}

impl<'a, T> IntoIterator for &'a Chan<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Chan<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    /// Ranges over the channel by value. The `Chan` stays a sending handle while the loop
    /// runs, so the loop ends only once someone calls `close` (as in Go).
    fn into_iter(self) -> IntoIter<T> {
        IntoIter {
            handle: Owned::Chan(self),
        }
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter {
            handle: Owned::Receiver(self),
        }
    }
}
