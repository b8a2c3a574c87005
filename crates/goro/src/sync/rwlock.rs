//! rwlock: Go's `sync.RWMutex` — many readers or one writer, with writer preference.
//!
//! `RawRwLock::state` packs the number of active readers (shifted by `READER_SHIFT`) and
//! three flags:
//! - `WRITER`: a writer holds the lock (or it was handed to one).
//! - `WRITER_PENDING`: writers are queued. New readers queue instead of joining, so a
//!   waiting writer only waits for the readers already inside (Go's `readerWait`).
//! - `READERS_QUEUED`: readers are queued.
//!
//! The fast paths are one CAS (read lock, write lock, write unlock) or one `fetch_sub` (read
//! unlock). Everything else happens under the queue lock and hands the lock over directly:
//! - a writer's unlock admits every queued reader at once (they arrived while it held the
//!   lock, as in Go), else hands the lock to the first queued writer;
//! - the last reader to leave while a writer is pending hands the lock to that writer.
//!
//! So readers and writers alternate in batches and neither side starves.
//!
//! Invariants: `WRITER` excludes readers; `WRITER_PENDING` and `READERS_QUEUED` change only
//! under the queue lock and mirror whether the respective queue is non-empty; outside that
//! lock `WRITER` is taken only from the all-clear state, so while anyone is queued only the
//! queue lock's holder can hand the lock out (a hand-off
//! reaching a frame that unwinds instead of taking it releases the lock again, see
//! `Slot`).

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;

use crate::park::Waiter;
use crate::runtime::worker::lock;
use crate::runtime::WaitReason;
use crate::waitq::{Entry, QueueOwner, WaitQueue};

const WRITER: usize = 1;
const WRITER_PENDING: usize = 2;
const READERS_QUEUED: usize = 4;
const READER_SHIFT: u32 = 3;
const ONE_READER: usize = 1 << READER_SHIFT;
/// Readers beyond this many at once panic rather than overflow the count.
const MAX_READERS: usize = usize::MAX >> (READER_SHIFT + 1);

fn readers(s: usize) -> usize {
    s >> READER_SHIFT
}

struct Queues {
    readers: WaitQueue,
    writers: WaitQueue,
}

/// A waiting frame's packet, declared before its `Waiter` so that it drops last.
struct Slot<'a> {
    raw: &'a RawRwLock,
    writer: bool,
    /// Set under the queue lock when the lock is handed to this frame.
    granted: Cell<bool>,
}

impl Drop for Slot<'_> {
    /// A hand-off that reached a frame unwinding out of its wait is released again.
    fn drop(&mut self) {
        if self.granted.get() {
            if self.writer {
                self.raw.write_unlock();
            } else {
                self.raw.read_unlock();
            }
        }
    }
}

struct RawRwLock {
    state: AtomicUsize,
    queues: std::sync::Mutex<Queues>,
}

impl QueueOwner for RawRwLock {
    unsafe fn unlink(&self, entry: *mut Entry) {
        let mut q = lock(&self.queues);
        // SAFETY: the entry is valid (caller's contract) and its packet is its frame's slot.
        let writer = unsafe { (*((*entry).packet() as *const Slot<'_>)).writer };
        let queue = if writer {
            &mut q.writers
        } else {
            &mut q.readers
        };
        // SAFETY: the entry was linked only into this queue.
        unsafe { queue.remove(entry) };
        let mut wakers = Vec::new();
        if q.readers.is_empty() {
            self.state.fetch_and(!READERS_QUEUED, Ordering::Relaxed);
        }
        if q.writers.is_empty() {
            let s = self.state.fetch_and(!WRITER_PENDING, Ordering::Relaxed);
            // The last pending writer left: readers it held back may enter.
            if s & WRITER == 0 && s & WRITER_PENDING != 0 {
                self.admit_readers(&mut q, &mut wakers);
            }
        }
        drop(q);
        wakers.into_iter().for_each(Waker::wake);
    }
}

impl RawRwLock {
    const fn new() -> RawRwLock {
        RawRwLock {
            state: AtomicUsize::new(0),
            queues: std::sync::Mutex::new(Queues {
                readers: WaitQueue::new(),
                writers: WaitQueue::new(),
            }),
        }
    }

    fn try_read(&self) -> bool {
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & (WRITER | WRITER_PENDING) != 0 || readers(s) >= MAX_READERS {
                return false;
            }
            match self.state.compare_exchange_weak(
                s,
                s + ONE_READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    #[inline]
    fn read(&self) {
        if !self.try_read() {
            self.read_slow();
        }
    }

    /// Only from the all-clear state: with anyone queued the lock is being handed over
    /// under the queue lock, and taking it here could admit a writer next to readers.
    fn try_write(&self) -> bool {
        self.state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    fn write(&self) {
        if self
            .state
            .compare_exchange_weak(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.write_slow();
        }
    }

    #[inline]
    fn read_unlock(&self) {
        let prev = self.state.fetch_sub(ONE_READER, Ordering::Release);
        if readers(prev) == 1 && prev & WRITER_PENDING != 0 {
            self.last_reader_left();
        }
    }

    #[inline]
    fn write_unlock(&self) {
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.write_unlock_slow();
        }
    }

    /// Queues a reader behind a writer (holding or pending) and waits to be admitted.
    #[cold]
    fn read_slow(&self) {
        let slot = Slot {
            raw: self,
            writer: false,
            granted: Cell::new(false),
        };
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, &slot as *const Slot<'_> as *mut ());
        let mut q = lock(&self.queues);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let blocked = s & (WRITER | WRITER_PENDING) != 0;
            let next = if blocked {
                s | READERS_QUEUED
            } else {
                assert!(readers(s) < MAX_READERS, "RwLock: too many readers");
                s + ONE_READER
            };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if blocked => break,
                Ok(_) => return,
                Err(now) => s = now,
            }
        }
        // SAFETY: `entry` stays in this frame, unmoved, until it drops; `self` outlives it;
        // the queue belongs to `self` and we hold its lock.
        unsafe { entry.link(&mut q.readers, self) };
        drop(q);
        waiter.wait(WaitReason::RwLock, None);
        // Admitted: a writer's unlock counted us in.
        slot.granted.set(false);
    }

    /// Takes the lock if it is free, else queues (blocking new readers) and waits for a
    /// hand-off.
    #[cold]
    fn write_slow(&self) {
        let slot = Slot {
            raw: self,
            writer: true,
            granted: Cell::new(false),
        };
        let waiter = Waiter::current();
        let mut entry = Entry::new(&waiter, 0, &slot as *const Slot<'_> as *mut ());
        let mut q = lock(&self.queues);
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            let free = s & WRITER == 0 && readers(s) == 0;
            let next = if free { s | WRITER } else { s | WRITER_PENDING };
            match self
                .state
                .compare_exchange_weak(s, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if free => return,
                Ok(_) => break,
                Err(now) => s = now,
            }
        }
        // SAFETY: as in `read_slow`.
        unsafe { entry.link(&mut q.writers, self) };
        drop(q);
        waiter.wait(WaitReason::RwLock, None);
        slot.granted.set(false);
    }

    /// The last reader left while a writer is pending: hand the lock to that writer.
    #[cold]
    fn last_reader_left(&self) {
        let mut q = lock(&self.queues);
        let s = self.state.load(Ordering::Relaxed);
        let mut wakers = Vec::new();
        // Someone else (a barging writer, an earlier hand-off) may have got there first.
        if s & WRITER == 0 && readers(s) == 0 && !self.hand_to_writer(&mut q, &mut wakers) {
            self.state.fetch_and(!WRITER_PENDING, Ordering::Relaxed);
            self.admit_readers(&mut q, &mut wakers);
        }
        drop(q);
        wakers.into_iter().for_each(Waker::wake);
    }

    #[cold]
    fn write_unlock_slow(&self) {
        let mut q = lock(&self.queues);
        let mut wakers = Vec::new();
        // Readers that queued during our hold go first; then the next writer.
        if !q.readers.is_empty() {
            self.state.fetch_and(!WRITER, Ordering::Relaxed);
            self.admit_readers(&mut q, &mut wakers);
            if readers(self.state.load(Ordering::Relaxed)) == 0 {
                // Every queued reader was gone (unwound): give the writers their turn.
                self.hand_over_if_free(&mut q, &mut wakers);
            }
        } else if !self.hand_to_writer(&mut q, &mut wakers) {
            self.state
                .fetch_and(!(WRITER | WRITER_PENDING), Ordering::Release);
        }
        drop(q);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// With the lock free (no writer, no readers): hand it to a writer if one waits.
    fn hand_over_if_free(&self, q: &mut Queues, wakers: &mut Vec<Waker>) {
        if !self.hand_to_writer(q, wakers) {
            self.state.fetch_and(!WRITER_PENDING, Ordering::Relaxed);
        }
    }

    /// Admits every queued reader (the lock must hold no writer). Under the queue lock.
    fn admit_readers(&self, q: &mut Queues, wakers: &mut Vec<Waker>) {
        let admitted = q.readers.claim_all();
        let n = admitted.len();
        if n > 0 {
            assert!(
                readers(self.state.load(Ordering::Relaxed)) + n <= MAX_READERS,
                "RwLock: too many readers"
            );
            // Count them in before any of them can run and unlock.
            self.state.fetch_add(n * ONE_READER, Ordering::Relaxed);
        }
        for entry in admitted {
            // SAFETY: each entry was just claimed by `claim_all`, so its frame (and slot)
            // waits for our `complete`.
            wakers.push(unsafe {
                (*(entry.packet() as *const Slot<'_>)).granted.set(true);
                entry.waiter().complete(entry.case())
            });
        }
        self.state.fetch_and(!READERS_QUEUED, Ordering::Release);
    }

    /// Hands the lock (free of readers) to the first queued writer, setting `WRITER` for
    /// it. Returns false if no writer waits. Under the queue lock.
    fn hand_to_writer(&self, q: &mut Queues, wakers: &mut Vec<Waker>) -> bool {
        let Some(entry) = q.writers.claim_first(None) else {
            return false;
        };
        let entry: *mut Entry = entry;
        let clear = if q.writers.is_empty() {
            WRITER_PENDING
        } else {
            0
        };
        let _ = self
            .state
            .fetch_update(Ordering::Release, Ordering::Relaxed, |s| {
                Some((s | WRITER) & !clear)
            });
        // SAFETY: the entry was just claimed, so its frame (and slot) waits for our
        // `complete`.
        wakers.push(unsafe {
            (*((*entry).packet() as *const Slot<'_>)).granted.set(true);
            (*entry).waiter().complete((*entry).case())
        });
        true
    }
}

/// A reader-writer lock around a value (Go's `sync.RWMutex`, holding what it protects).
///
/// Any number of readers, or one writer. A writer that is waiting blocks new readers, so a
/// stream of readers cannot starve it; when it unlocks, the readers that queued meanwhile
/// all get in before the next writer. Blocking parks the goroutine (or the thread). No
/// poisoning.
///
/// ```
/// use std::sync::Arc;
/// use goro::sync::RwLock;
///
/// let cache = Arc::new(RwLock::new(vec![1, 2, 3]));
/// let readers: Vec<_> = (0..4)
///     .map(|_| {
///         let cache = cache.clone();
///         goro::go(move || cache.read().iter().sum::<i32>())
///     })
///     .collect();
/// cache.write().push(4);
/// for r in readers {
///     let sum = r.join().unwrap();
///     assert!(sum == 6 || sum == 10);
/// }
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    data: UnsafeCell<T>,
}

// SAFETY: readers share `&T` across threads (T: Sync); a writer may be on any thread and
// gets `&mut T` (T: Send), as with std's RwLock.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new unlocked lock holding `value`; `const`, so it works in statics.
    ///
    /// ```
    /// static TABLE: goro::sync::RwLock<Vec<u8>> = goro::sync::RwLock::new(Vec::new());
    /// TABLE.write().push(1);
    /// assert_eq!(TABLE.read().len(), 1);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            raw: RawRwLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(5);
    /// assert_eq!(l.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading (Go's `RLock`), parking while a writer holds the lock or waits
    /// for it. Taking a second read lock in the same goroutine while a writer waits
    /// deadlocks, as in Go.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(1);
    /// let a = l.read();
    /// let b = l.read(); // readers share
    /// assert_eq!(*a + *b, 2);
    /// ```
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.raw.read();
        RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Locks for writing (Go's `Lock`), parking until no reader or writer holds it.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(1);
    /// *l.write() += 1;
    /// assert_eq!(*l.read(), 2);
    /// ```
    #[inline]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.raw.write();
        RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Locks for reading if that is possible right now (Go's `TryRLock`): fails while a
    /// writer holds the lock or waits for it.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(0);
    /// let w = l.write();
    /// assert!(l.try_read().is_none());
    /// drop(w);
    /// assert!(l.try_read().is_some());
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw.try_read().then(|| RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// Locks for writing if nobody holds the lock or waits for it right now (Go's
    /// `TryLock`).
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(0);
    /// let r = l.read();
    /// assert!(l.try_write().is_none());
    /// drop(r);
    /// assert!(l.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw.try_write().then(|| RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// A mutable reference to the value; no locking needed, the borrow proves exclusivity.
    ///
    /// ```
    /// let mut l = goro::sync::RwLock::new(1);
    /// *l.get_mut() = 3;
    /// assert_eq!(*l.read(), 3);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    /// A lock holding `T::default()`.
    ///
    /// ```
    /// let l: goro::sync::RwLock<String> = Default::default();
    /// assert!(l.read().is_empty());
    /// ```
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    /// A lock holding `value`.
    ///
    /// ```
    /// let l = goro::sync::RwLock::from(2);
    /// assert_eq!(*l.read(), 2);
    /// ```
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    /// Shows the value if it can be read right now, else `<locked>`.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(1);
    /// assert_eq!(format!("{l:?}"), "RwLock { data: 1, .. }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Shared read access to an [`RwLock`]'s value; releases it when dropped.
///
/// ```
/// let l = goro::sync::RwLock::new("v");
/// let g: goro::sync::RwLockReadGuard<'_, &str> = l.read();
/// assert_eq!(*g, "v");
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard shares only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: we hold a read lock, so no writer can exist.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.read_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    /// Formats the value.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(1);
    /// assert_eq!(format!("{:?}", l.read()), "1");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive write access to an [`RwLock`]'s value; releases it when dropped.
///
/// ```
/// let l = goro::sync::RwLock::new(0);
/// let mut g: goro::sync::RwLockWriteGuard<'_, i32> = l.write();
/// *g = 9;
/// drop(g);
/// assert_eq!(*l.read(), 9);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard shares only `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: we hold the write lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the write lock, and `&mut self` that nobody else uses this guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    /// Formats the value.
    ///
    /// ```
    /// let l = goro::sync::RwLock::new(1);
    /// assert_eq!(format!("{:?}", l.write()), "1");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
