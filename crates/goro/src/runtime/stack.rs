//! Goroutine stacks: where they live, how they are guarded, how they are recycled, and the
//! message printed when one overflows.
//!
//! A stack is a *slot* in a large anonymous region mapped `MAP_NORESERVE` and marked
//! `MADV_NOHUGEPAGE`, so the kernel commits its pages one at a time as they are touched: a
//! parked goroutine that used one page of its stack costs one page of memory. A slot is a
//! guard page followed by the usable stack, which grows down towards the guard:
//!
//! ```text
//!  region start                                                    region end
//!  | guard | usable stack ... | guard | usable stack ... | ...   |
//!  ^ limit()          base() ^
//! ```
//!
//! Guards are installed with `madvise(MADV_GUARD_INSTALL)` (Linux 6.13 and later), which adds
//! no memory mapping, so a million guarded stacks stay far below `vm.max_map_count`. On older
//! kernels (the madvise fails with `EINVAL`), or when the environment variable
//! `GORO_GUARD_MODE=mprotect` is set (read once, meant for testing the fallback), the guard is
//! made with `mprotect(PROT_NONE)` instead; each of those splits the region into two more
//! mappings, so they are counted against `vm.max_map_count` and a stack that would go past
//! the budget is refused with an error that names the sysctl. Any other value of
//! `GORO_GUARD_MODE` means the default.
//!
//! Each worker owns a [`StackPool`] that keeps up to [`POOL_HIGH_WATER`] finished stacks hot
//! for immediate reuse (no zeroing: a goroutine never reads stack memory it did not write).
//! Stacks beyond that, and stacks dropped outside any pool, have their memory released with
//! `MADV_DONTNEED` and their slot put on a process-wide free list for their slot size.
//!
//! A fault in a guard page is reported by a `SIGSEGV`/`SIGBUS` handler as
//! `goroutine N overflowed its stack (S KiB)`, after which the process aborts; faults
//! anywhere else go to the handler that was installed before ours (Rust's own, which reports
//! overflows of thread stacks).
//!
//! Invariants:
//!  Regions are never unmapped, and their entries in the region table never change once
//!  published, so the signal handler can read the table without locks.
//!  All slots of a region have the same size, and every slot handed out has its guard page
//!  installed; guards survive `MADV_DONTNEED`, so a slot keeps its guard for life.
//!  A slot is owned by exactly one of: a `GoroStack` (possibly held in a `StackPool`), the
//!  free list of its size class, or the unused tail of its region.
//!  `mprotect_guards` never exceeds the budget derived from `vm.max_map_count`.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::io;
use std::mem;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once, OnceLock, PoisonError};

use corosensei::stack::{Stack, StackPointer};

/// `MADV_GUARD_INSTALL` from `<linux/mman.h>` (Linux 6.13); the `libc` crate lacks it.
const MADV_GUARD_INSTALL: c_int = 102;

/// Smallest usable stack handed out, whatever size is asked for.
const MIN_STACK_SIZE: usize = 16 * 1024;

/// Bytes of address space reserved per region (fewer if a slot does not divide it; one slot
/// if a slot is larger). Reserving is free with `MAP_NORESERVE`, and large regions keep the
/// region table short.
const REGION_BYTES: usize = 256 * 1024 * 1024;

/// Capacity of the region table: 16384 regions of 256 MiB is 4 TiB of stacks.
const MAX_REGIONS: usize = 16384;

/// Stacks a worker keeps for immediate reuse; further stacks are released. 64 is the size of
/// Go's per-P free list of dead goroutines (`gfput` in proc.go), whose stacks it reuses.
const POOL_HIGH_WATER: usize = 64;

/// Memory mappings left to the rest of the process (libraries, heap arenas, thread stacks,
/// other mmap users) when budgeting `mprotect` guards against `vm.max_map_count`.
const MAP_COUNT_RESERVE: usize = 4096;

/// Memory mappings added by one `mprotect` guard in the middle of a region.
const MAPS_PER_MPROTECT_GUARD: usize = 2;

/// `vm.max_map_count` when `/proc` cannot tell: the kernel's default.
const DEFAULT_MAX_MAP_COUNT: usize = 65530;

/// Usable size of the alternate signal stack given to threads that have none.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// How a slot's guard page is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`, or `mprotect` where the kernel lacks it.
    Install,
    /// `mprotect(PROT_NONE)`, counted against `vm.max_map_count`.
    Mprotect,
}

impl GuardMode {
    /// The mode chosen by `GORO_GUARD_MODE`, read on first use.
    fn from_env() -> GuardMode {
        static MODE: OnceLock<GuardMode> = OnceLock::new();
        *MODE.get_or_init(|| match std::env::var_os("GORO_GUARD_MODE") {
            Some(mode) if mode == "mprotect" => GuardMode::Mprotect,
            _ => GuardMode::Install,
        })
    }
}

/// Stacks are interchangeable only within a class: same slot size, same requested guard mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Class {
    /// Guard page plus usable stack, a multiple of the page size.
    slot_size: usize,
    guard: GuardMode,
}

/// The system page size; 0 until first read.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The system page size. Async-signal-safe once any region exists (a plain atomic load).
fn page_size() -> usize {
    match PAGE_SIZE.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let page = usize::try_from(page)
                .ok()
                .filter(|page| page.is_power_of_two())
                .expect("goro: sysconf(_SC_PAGESIZE) returned no usable page size");
            PAGE_SIZE.store(page, Ordering::Relaxed);
            page
        }
        page => page,
    }
}

/// A goroutine stack: one slot in a large reserved region, with a guard page at its low end.
///
/// Dropping it releases the stack's memory (`MADV_DONTNEED`) and returns the slot to the
/// process-wide free list; [`StackPool::give_back`] keeps it hot instead.
#[derive(Debug)]
pub(crate) struct GoroStack {
    /// Lowest address of the slot: the guard page.
    low: StackPointer,
    class: Class,
}

#[cfg(test)]
impl GoroStack {
    /// Usable bytes, excluding the guard page.
    pub(crate) fn size(&self) -> usize {
        self.class.slot_size - page_size()
    }
}

impl Drop for GoroStack {
    fn drop(&mut self) {
        let page = page_size();
        // SAFETY: the range is the usable part of this slot, which lies in a region that is
        // never unmapped and is owned by this stack alone; nothing runs on it any more (the
        // coroutine that used it has finished or been dropped). MADV_DONTNEED on private
        // anonymous memory only discards contents and keeps the guard page.
        let released = unsafe {
            libc::madvise(
                (self.low.get() + page) as *mut c_void,
                self.class.slot_size - page,
                libc::MADV_DONTNEED,
            )
        };
        debug_assert_eq!(released, 0, "goro: MADV_DONTNEED on a stack failed");
        slots().release(self.class, self.low.get());
    }
}

// SAFETY: `limit()..base()` is a slot of `class.slot_size` bytes that this value owns
// exclusively until it is dropped (see the module invariants) and that stays mapped for the
// life of the process. Both ends are page aligned, hence aligned to `STACK_ALIGNMENT`. The
// lowest page is a guard page, installed before the slot was first handed out and kept
// across reuse, and the usable part is at least `MIN_STACK_SIZE` (16 KiB) bytes, more than
// corosensei's minimum of 4 KiB.
unsafe impl Stack for GoroStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.low.saturating_add(self.class.slot_size)
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        self.low
    }
}

/// Per-worker cache of stacks of one size; each worker owns one (all methods take
/// `&mut self`, so it is never shared).
///
/// Keeps up to [`POOL_HIGH_WATER`] stacks; `GORO_GUARD_MODE=mprotect` in the environment
/// (read once per process) makes the stacks it carves use `mprotect` guards.
#[derive(Debug)]
pub(crate) struct StackPool {
    class: Class,
    hot: Vec<GoroStack>,
}

impl StackPool {
    /// A pool of stacks with at least `stack_size` usable bytes, rounded up to whole pages
    /// and to at least 16 KiB.
    pub(crate) fn new(stack_size: usize) -> StackPool {
        StackPool::with_guard(stack_size, GuardMode::from_env())
    }

    /// [`StackPool::new`] with an explicit guard mode.
    fn with_guard(stack_size: usize, guard: GuardMode) -> StackPool {
        let page = page_size();
        let slot_size = stack_size
            .max(MIN_STACK_SIZE)
            .checked_next_multiple_of(page)
            .and_then(|usable| usable.checked_add(page))
            .unwrap_or_else(|| panic!("goro: stack size of {stack_size} bytes is too large"));
        StackPool {
            class: Class { slot_size, guard },
            hot: Vec::with_capacity(POOL_HIGH_WATER),
        }
    }

    /// A stack for a new goroutine: the most recently pooled one, else a slot from the
    /// process-wide free list, else a fresh slot.
    pub(crate) fn take(&mut self) -> io::Result<GoroStack> {
        match self.hot.pop() {
            Some(stack) => Ok(stack),
            None => {
                let low = slots().take(self.class)?;
                Ok(GoroStack {
                    low: StackPointer::new(low).expect("goro: a stack slot at address 0"),
                    class: self.class,
                })
            }
        }
    }

    /// Returns a finished goroutine's stack: kept hot below the high-water mark, released
    /// (as by dropping it) above it or if it belongs to another class.
    pub(crate) fn give_back(&mut self, stack: GoroStack) {
        if stack.class == self.class && self.hot.len() < POOL_HIGH_WATER {
            self.hot.push(stack);
        } else {
            drop(stack);
        }
    }
}

/// The process-wide slot allocator.
fn slots() -> std::sync::MutexGuard<'static, Slots> {
    static SLOTS: Mutex<Slots> = Mutex::new(Slots {
        classes: Vec::new(),
        mprotect_guards: 0,
        mprotect_budget: None,
        guard_install_unsupported: false,
    });
    // No code panics while holding the lock, so a poisoned lock still guards valid state.
    SLOTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Free slots of every class, and the mapping budget of `mprotect` guards.
struct Slots {
    classes: Vec<ClassSlots>,
    /// Guards made with `mprotect` so far (they are never removed).
    mprotect_guards: usize,
    /// `(vm.max_map_count, most mprotect guards allowed)`, read on first need.
    mprotect_budget: Option<(usize, usize)>,
    /// Set when `MADV_GUARD_INSTALL` failed with `EINVAL`: the kernel predates it.
    guard_install_unsupported: bool,
}

/// The slots of one class not owned by any stack.
struct ClassSlots {
    class: Class,
    /// Released slots, guard installed, memory discarded.
    free: Vec<usize>,
    /// The unused tail of the class's newest region: `next..end`, whole slots.
    next: usize,
    end: usize,
}

impl Slots {
    /// The lowest address of a guarded slot of `class`, owned by the caller from now on.
    fn take(&mut self, class: Class) -> io::Result<usize> {
        let i = match self.classes.iter().position(|c| c.class == class) {
            Some(i) => i,
            None => {
                self.classes.push(ClassSlots {
                    class,
                    free: Vec::new(),
                    next: 0,
                    end: 0,
                });
                self.classes.len() - 1
            }
        };
        if let Some(low) = self.classes[i].free.pop() {
            return Ok(low);
        }
        if self.classes[i].next == self.classes[i].end {
            let (start, len) = self.map_region(class.slot_size)?;
            self.classes[i].next = start;
            self.classes[i].end = start + len;
        }
        let low = self.classes[i].next;
        self.install_guard(low, class.guard)?;
        self.classes[i].next += class.slot_size;
        Ok(low)
    }

    /// Puts the slot at `low`, whose memory has been released, on its class's free list.
    fn release(&mut self, class: Class, low: usize) {
        let class_slots = self
            .classes
            .iter_mut()
            .find(|c| c.class == class)
            .expect("goro: a stack of a class that was never allocated");
        class_slots.free.push(low);
    }

    /// Makes the page at `low`, in a region of ours, a guard page.
    fn install_guard(&mut self, low: usize, mode: GuardMode) -> io::Result<()> {
        if mode == GuardMode::Install && !self.guard_install_unsupported {
            // SAFETY: `low` is the page-aligned first page of a fresh slot in one of our
            // regions; no stack owns it and nothing has touched it, so making it a guard
            // discards nothing.
            let installed =
                unsafe { libc::madvise(low as *mut c_void, page_size(), MADV_GUARD_INSTALL) == 0 };
            if installed {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINVAL) {
                return Err(err);
            }
            self.guard_install_unsupported = true;
        }
        let (max_map_count, budget) = *self.mprotect_budget.get_or_insert_with(|| {
            let max = read_max_map_count();
            let budget = max.saturating_sub(MAP_COUNT_RESERVE) / MAPS_PER_MPROTECT_GUARD;
            (max, budget)
        });
        if self.mprotect_guards >= budget {
            return Err(self.map_count_error(max_map_count));
        }
        // SAFETY: as above: the first page of a fresh slot of ours, owned by no one.
        if unsafe { libc::mprotect(low as *mut c_void, page_size(), libc::PROT_NONE) } != 0 {
            let err = io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::ENOMEM) => self.map_count_error(max_map_count),
                _ => err,
            });
        }
        self.mprotect_guards += 1;
        Ok(())
    }

    /// Maps a new region of whole slots of `slot_size` bytes and publishes it in the region
    /// table. Returns its start and length.
    fn map_region(&mut self, slot_size: usize) -> io::Result<(usize, usize)> {
        let count = REGION_COUNT.load(Ordering::Relaxed);
        if count == MAX_REGIONS {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("goro: all {MAX_REGIONS} goroutine stack regions are in use"),
            ));
        }
        let len = (REGION_BYTES / slot_size).max(1) * slot_size;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing touches no
        // existing memory.
        let start = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `start..start + len` is the mapping just made. The advice is only a hint; it
        // fails only on kernels built without transparent huge pages, where there is nothing to
        // turn off, so its result is ignored.
        unsafe { libc::madvise(start, len, libc::MADV_NOHUGEPAGE) };
        let region = &REGIONS[count];
        region.start.store(start as usize, Ordering::Relaxed);
        region.end.store(start as usize + len, Ordering::Relaxed);
        region.slot_size.store(slot_size, Ordering::Relaxed);
        // `&mut self` means the `Slots` lock is held: no other thread appends concurrently.
        REGION_COUNT.store(count + 1, Ordering::Release);
        Ok((start as usize, len))
    }

    /// The error for a stack refused because its `mprotect` guard would exceed the budget.
    fn map_count_error(&self, max_map_count: usize) -> io::Error {
        let why = if self.guard_install_unsupported {
            "the kernel lacks MADV_GUARD_INSTALL (Linux < 6.13)"
        } else {
            "GORO_GUARD_MODE=mprotect is set"
        };
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "goro: cannot guard another goroutine stack: {why} and mprotect guards would \
                 exceed vm.max_map_count ({max_map_count}); raise it with `sysctl -w \
                 vm.max_map_count=...` or lower the number of live goroutines"
            ),
        )
    }
}

/// `/proc/sys/vm/max_map_count`, or the kernel's default if it cannot be read.
fn read_max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_MAP_COUNT)
}

/// One published region, readable from a signal handler.
struct Region {
    start: AtomicUsize,
    end: AtomicUsize,
    slot_size: AtomicUsize,
}

impl Region {
    /// An unpublished entry.
    const fn new() -> Region {
        Region {
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            slot_size: AtomicUsize::new(0),
        }
    }
}

/// Every region ever mapped; entries below `REGION_COUNT` are immutable.
static REGIONS: [Region; MAX_REGIONS] = [const { Region::new() }; MAX_REGIONS];

/// Entries of `REGIONS` published (stored with Release after their fields).
static REGION_COUNT: AtomicUsize = AtomicUsize::new(0);

/// If `addr` lies in the guard page of one of our slots, the usable size of that slot.
/// Async-signal-safe: atomic loads only.
fn guard_hit(addr: usize) -> Option<usize> {
    let count = REGION_COUNT.load(Ordering::Acquire);
    REGIONS[..count].iter().find_map(|region| {
        let start = region.start.load(Ordering::Relaxed);
        if addr < start || addr >= region.end.load(Ordering::Relaxed) {
            return None;
        }
        let slot_size = region.slot_size.load(Ordering::Relaxed);
        // Mapping the region read the page size, so this is a load.
        let page = page_size();
        ((addr - start) % slot_size < page).then_some(slot_size - page)
    })
}

thread_local! {
    /// The goroutine running on this thread, 0 if none. Const-initialised and without a
    /// destructor, so reading it is a plain TLS load, safe inside a signal handler.
    static RUNNING: Cell<u64> = const { Cell::new(0) };
}

/// Records which goroutine is running on this thread (0 = none), for the overflow message.
#[inline]
pub(crate) fn note_running(goroutine_id: u64) {
    RUNNING.with(|running| running.set(goroutine_id));
}

/// Installs (once per process, idempotent, thread-safe) the SIGSEGV/SIGBUS handler that
/// reports goroutine stack overflows, and gives the calling thread an alternate signal stack
/// if it has none.
///
/// Without an alternate stack the handler could not run after an overflow; if one cannot be
/// mapped, an overflow still stops at the guard page but kills the process without the
/// message.
pub(crate) fn prepare_thread() {
    static HANDLERS: Once = Once::new();
    HANDLERS.call_once(install_handlers);
    // SAFETY: zeroed is a valid `stack_t` (plain integers and a null pointer).
    let mut current: libc::stack_t = unsafe { mem::zeroed() };
    // SAFETY: only queries the calling thread's alternate stack into `current`.
    unsafe { libc::sigaltstack(ptr::null(), &mut current) };
    if current.ss_flags & libc::SS_DISABLE != 0 {
        if let Some(alt) = AltStack::new() {
            ALT_STACK.set(Some(alt));
        }
    }
}

/// The SIGSEGV action installed before ours.
static PREVIOUS_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
/// The SIGBUS action installed before ours.
static PREVIOUS_BUS: OnceLock<libc::sigaction> = OnceLock::new();

/// The action saved for `sig` before ours was installed.
fn previous_action(sig: c_int) -> Option<&'static libc::sigaction> {
    match sig {
        libc::SIGSEGV => PREVIOUS_SEGV.get(),
        libc::SIGBUS => PREVIOUS_BUS.get(),
        _ => None,
    }
}

/// Saves the current SIGSEGV and SIGBUS actions, then installs `on_fault` for both.
fn install_handlers() {
    for (sig, previous) in [
        (libc::SIGSEGV, &PREVIOUS_SEGV),
        (libc::SIGBUS, &PREVIOUS_BUS),
    ] {
        // SAFETY: zeroed is a valid `sigaction` (integers, an empty mask, no restorer).
        let mut old: libc::sigaction = unsafe { mem::zeroed() };
        // SAFETY: only queries the current action into `old`.
        unsafe { libc::sigaction(sig, ptr::null(), &mut old) };
        // Runs once (under `Once`), so the cell is empty.
        let _ = previous.set(old);
        // SAFETY: as above.
        let mut action: libc::sigaction = unsafe { mem::zeroed() };
        action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: `action` is fully initialised and `on_fault` has the SA_SIGINFO signature;
        // the previous action was saved above, so faults that are not ours still reach it.
        unsafe {
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, ptr::null_mut());
        }
    }
}

/// The SIGSEGV/SIGBUS handler: reports and aborts on a guard-page hit, else chains.
/// Async-signal-safe: atomics, a TLS load, a stack buffer, `write` and `abort`.
extern "C" fn on_fault(sig: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo for SIGSEGV and SIGBUS, whose si_addr is the
    // faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(usable) = guard_hit(addr) {
        let mut message = Message::new();
        message.push(b"goroutine ");
        message.push_decimal(RUNNING.with(Cell::get));
        message.push(b" overflowed its stack (");
        message.push_decimal(usable as u64 / 1024);
        message.push(b" KiB)\n");
        message.write_to_stderr();
        // SAFETY: abort is async-signal-safe and never returns.
        unsafe { libc::abort() };
    }
    chain(sig, info, context);
}

/// Passes a fault that is not a goroutine overflow to the action installed before ours.
fn chain(sig: c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    let Some(previous) = previous_action(sig).filter(|action| {
        action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN
    }) else {
        // An ignored synchronous fault would recur forever; the kernel kills instead, and so
        // do we: restore the default action and return, so the fault recurs and kills.
        // SAFETY: zeroed is a valid `sigaction`; with `SIG_DFL` (0) as its handler, installing
        // it is what `signal(sig, SIG_DFL)` does, and sigaction is async-signal-safe.
        unsafe {
            let mut default: libc::sigaction = mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &default, ptr::null_mut());
        }
        return;
    };
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO the saved handler has the three-argument signature, and we
        // pass it the arguments the kernel gave us.
        let handler: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
            unsafe { mem::transmute(previous.sa_sigaction) };
        handler(sig, info, context);
    } else {
        // SAFETY: without SA_SIGINFO the saved handler has the one-argument signature.
        let handler: extern "C" fn(c_int) = unsafe { mem::transmute(previous.sa_sigaction) };
        handler(sig);
    }
}

/// The overflow message, formatted without allocating.
struct Message {
    bytes: [u8; 96],
    len: usize,
}

impl Message {
    /// An empty message.
    fn new() -> Message {
        Message {
            bytes: [0; 96],
            len: 0,
        }
    }

    /// Appends `text`, truncated if the buffer is full.
    fn push(&mut self, text: &[u8]) {
        let take = text.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&text[..take]);
        self.len += take;
    }

    /// Appends `value` in decimal.
    fn push_decimal(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut first = digits.len();
        loop {
            first -= 1;
            digits[first] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.push(&digits[first..]);
    }

    /// Writes the message to file descriptor 2, retrying partial and interrupted writes.
    fn write_to_stderr(&self) {
        let mut rest = &self.bytes[..self.len];
        while !rest.is_empty() {
            // SAFETY: writes initialised bytes from a live buffer; write is async-signal-safe.
            let written =
                unsafe { libc::write(libc::STDERR_FILENO, rest.as_ptr().cast(), rest.len()) };
            if written > 0 {
                rest = &rest[written as usize..];
            } else if written == 0
                || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted
            {
                return;
            }
        }
    }
}

/// An alternate signal stack this module mapped for the current thread.
struct AltStack {
    /// The mapping: a guard page, then `ALT_STACK_SIZE` bytes.
    map: usize,
}

thread_local! {
    /// This thread's alternate signal stack, if `prepare_thread` had to make one; unmapped
    /// when the thread exits.
    static ALT_STACK: Cell<Option<AltStack>> = const { Cell::new(None) };
}

impl AltStack {
    /// Maps an alternate signal stack and makes it the calling thread's.
    fn new() -> Option<AltStack> {
        let page = page_size();
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing.
        let map = unsafe {
            libc::mmap(
                ptr::null_mut(),
                page + ALT_STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return None;
        }
        let alt = AltStack { map: map as usize };
        let stack = libc::stack_t {
            ss_sp: (alt.map + page) as *mut c_void,
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // SAFETY: the first page of the mapping just made becomes its guard, and the rest,
        // which lives until `drop` unregisters it, becomes this thread's alternate stack.
        let ok = unsafe {
            libc::mprotect(map, page, libc::PROT_NONE) == 0
                && libc::sigaltstack(&stack, ptr::null_mut()) == 0
        };
        ok.then_some(alt)
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let page = page_size();
        // SAFETY: zeroed is a valid `stack_t`.
        let mut current: libc::stack_t = unsafe { mem::zeroed() };
        // SAFETY: queries, then (if it is still ours) disables, this thread's alternate stack
        // before unmapping it; a thread-local destructor never runs on the alternate stack.
        unsafe {
            libc::sigaltstack(ptr::null(), &mut current);
            if current.ss_sp as usize == self.map + page && current.ss_flags & libc::SS_DISABLE == 0
            {
                let disable = libc::stack_t {
                    ss_sp: ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                libc::sigaltstack(&disable, ptr::null_mut());
            }
            libc::munmap(self.map as *mut c_void, page + ALT_STACK_SIZE);
        }
    }
}

#[cfg(test)]
mod tests {
    //! Tests that assert which slot a pool hands out use a stack size no other test uses, so
    //! that tests running in parallel do not share free lists.

    use super::*;
    use corosensei::{Coroutine, Yielder};
    use std::hint::black_box;
    use std::io::Read;
    use std::os::fd::FromRawFd;
    use std::panic::{self, AssertUnwindSafe};
    use std::process::Command;

    const KIB: usize = 1024;

    /// Recurses until the stack runs out.
    #[inline(never)]
    fn recurse(depth: u64) -> u64 {
        let frame = black_box([depth as u8; 512]);
        if black_box(depth) == u64::MAX {
            return 0;
        }
        recurse(depth + 1) + u64::from(black_box(frame)[0])
    }

    /// Runs `f` in a forked child with stderr captured; returns the wait status and stderr.
    /// `f` must not take locks other threads may hold (e.g. it must not carve stacks).
    fn in_child(f: impl FnOnce()) -> (c_int, String) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: the child only runs `f` and then `_exit`s, never returning into the harness.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", io::Error::last_os_error()),
            0 => {
                let no_core = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                // SAFETY: plain system calls on our own descriptors and limits.
                unsafe {
                    libc::dup2(fds[1], libc::STDERR_FILENO);
                    libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                }
                let code = match panic::catch_unwind(AssertUnwindSafe(f)) {
                    Ok(()) => 0,
                    Err(_) => 101,
                };
                // SAFETY: ends the child without running the parent's exit handlers.
                unsafe { libc::_exit(code) }
            }
            pid => {
                // SAFETY: the write end belongs to this process and is not used again.
                unsafe { libc::close(fds[1]) };
                // SAFETY: the read end belongs to this process; the File takes it over.
                let mut pipe = unsafe { std::fs::File::from_raw_fd(fds[0]) };
                let mut stderr = String::new();
                pipe.read_to_string(&mut stderr).unwrap();
                let mut status = 0;
                // SAFETY: waits for our own child.
                assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
                (status, stderr)
            }
        }
    }

    /// Asserts the child aborted after printing the overflow message.
    fn assert_overflow_reported(status: c_int, stderr: &str, goroutine: u64, kib: usize) {
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT,
            "child did not abort (status {status:#x}); stderr: {stderr}"
        );
        let message = format!("goroutine {goroutine} overflowed its stack ({kib} KiB)\n");
        assert!(
            stderr.contains(&message),
            "stderr lacks {message:?}: {stderr:?}"
        );
    }

    /// Writes into the stack's guard page in a child; asserts the overflow was reported.
    fn assert_guarded(stack: &GoroStack) {
        prepare_thread();
        // The byte an overflow reaches first.
        let guard = (stack.limit().get() + page_size() - 1) as *mut u8;
        let (status, stderr) = in_child(|| {
            // SAFETY: deliberately faults on the guard page; the handler aborts the child.
            unsafe { ptr::write_volatile(guard, 1) };
        });
        assert_overflow_reported(status, &stderr, 0, stack.size() / KIB);
    }

    /// The usable part of a stack.
    fn usable(stack: &GoroStack) -> std::ops::Range<usize> {
        stack.limit().get() + page_size()..stack.base().get()
    }

    /// Resident pages in `range` (a usable stack), per mincore.
    fn resident_pages(range: std::ops::Range<usize>) -> usize {
        let page = page_size();
        let mut flags = vec![0u8; range.len() / page];
        // SAFETY: the range is mapped memory of ours, with one flag byte per page.
        let ok =
            unsafe { libc::mincore(range.start as *mut c_void, range.len(), flags.as_mut_ptr()) };
        assert_eq!(ok, 0, "mincore: {}", io::Error::last_os_error());
        flags.iter().filter(|flag| *flag & 1 != 0).count()
    }

    /// The permissions column of the /proc/self/maps line covering `addr`.
    fn mapping_permissions(addr: usize) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .find_map(|line| {
                let (range, rest) = line.split_once(' ')?;
                let (start, end) = range.split_once('-')?;
                let start = usize::from_str_radix(start, 16).ok()?;
                let end = usize::from_str_radix(end, 16).ok()?;
                (start <= addr && addr < end).then(|| rest[..4].to_string())
            })
            .expect("address not mapped")
    }

    /// Whether this kernel took `MADV_GUARD_INSTALL`.
    fn guard_install_works() -> bool {
        !slots().guard_install_unsupported
    }

    #[test]
    fn stacks_are_send() {
        fn send<T: Send>() {}
        send::<GoroStack>();
        send::<StackPool>();
    }

    #[test]
    fn sizes_are_rounded_up_to_pages_with_a_minimum() {
        let page = page_size();
        assert_eq!(StackPool::new(1).take().unwrap().size(), MIN_STACK_SIZE);
        let odd = StackPool::new(100 * KIB + 1).take().unwrap();
        assert_eq!(odd.size(), (100 * KIB + 1).next_multiple_of(page));
        assert_eq!(odd.base().get() - odd.limit().get(), odd.size() + page);
        assert_eq!(odd.base().get() % page, 0);
    }

    #[test]
    fn given_back_stacks_are_reused_unzeroed() {
        let mut pool = StackPool::with_guard(24 * KIB, GuardMode::Install);
        let first = pool.take().unwrap();
        let low = first.limit();
        let top = (first.base().get() - 8) as *mut u64;
        // SAFETY: the top word of a stack this test owns.
        unsafe { top.write(0xfeed) };
        pool.give_back(first);
        let again = pool.take().unwrap();
        assert_eq!(again.limit(), low);
        // SAFETY: as above; pooled stacks keep their contents.
        assert_eq!(unsafe { top.read() }, 0xfeed);
        let other = pool.take().unwrap();
        assert_ne!(other.limit(), low);
    }

    #[test]
    fn many_stacks_are_distinct_and_disjoint() {
        let page = page_size();
        let mut pool = StackPool::new(16 * KIB);
        let stacks: Vec<GoroStack> = (0..20_000).map(|_| pool.take().unwrap()).collect();
        let mut ranges: Vec<(usize, usize)> = stacks
            .iter()
            .map(|stack| (stack.limit().get(), stack.base().get()))
            .collect();
        ranges.sort_unstable();
        for pair in ranges.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "overlapping stacks {pair:?}");
        }
        for &(limit, base) in &ranges {
            assert_eq!(base - limit, 16 * KIB + page);
            // SAFETY: the top word of a stack this test owns.
            unsafe { ((base - 8) as *mut u64).write(base as u64) };
        }
        for &(_, base) in &ranges {
            // SAFETY: as above; no other stack overwrote it.
            assert_eq!(unsafe { ((base - 8) as *const u64).read() }, base as u64);
        }
    }

    #[test]
    fn the_whole_usable_stack_is_writable() {
        for guard in [GuardMode::Install, GuardMode::Mprotect] {
            let stack = StackPool::with_guard(32 * KIB, guard).take().unwrap();
            let first = stack.limit().get() + page_size();
            // SAFETY: exactly the usable part of a stack this test owns.
            unsafe { ptr::write_bytes(first as *mut u8, 0xa5, stack.size()) };
        }
    }

    #[test]
    fn guard_page_stops_writes_in_both_modes() {
        for guard in [GuardMode::Install, GuardMode::Mprotect] {
            assert_guarded(&StackPool::with_guard(40 * KIB, guard).take().unwrap());
        }
    }

    #[test]
    fn guards_add_no_mapping_unless_made_with_mprotect() {
        let page = page_size();
        let installed = StackPool::with_guard(44 * KIB, GuardMode::Install)
            .take()
            .unwrap();
        if guard_install_works() {
            assert_eq!(mapping_permissions(installed.limit().get()), "rw-p");
        }
        let protected = StackPool::with_guard(44 * KIB, GuardMode::Mprotect)
            .take()
            .unwrap();
        assert_eq!(mapping_permissions(protected.limit().get()), "---p");
        assert_eq!(mapping_permissions(protected.limit().get() + page), "rw-p");
    }

    #[test]
    fn coroutine_overflow_is_reported_in_both_modes() {
        prepare_thread();
        for (guard, kib) in [(GuardMode::Install, 48), (GuardMode::Mprotect, 52)] {
            let stack = StackPool::with_guard(kib * KIB, guard).take().unwrap();
            let (status, stderr) = in_child(move || {
                note_running(42);
                let mut coroutine =
                    Coroutine::with_stack(stack, |_: &Yielder<(), ()>, ()| recurse(0));
                coroutine.resume(());
            });
            assert_overflow_reported(status, &stderr, 42, kib);
        }
    }

    #[test]
    fn faults_elsewhere_reach_the_previous_handler() {
        prepare_thread();
        let page = page_size();
        // SAFETY: a fresh inaccessible mapping, only ever faulted on.
        let hole = unsafe {
            libc::mmap(
                ptr::null_mut(),
                page,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(hole, libc::MAP_FAILED);
        let (status, stderr) = in_child(|| {
            // SAFETY: deliberately faults outside any goroutine stack.
            unsafe { ptr::write_volatile(hole.cast::<u8>(), 1) };
        });
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
            "child did not die of SIGSEGV (status {status:#x}); stderr: {stderr}"
        );
        assert!(!stderr.contains("overflowed"), "{stderr}");
        // SAFETY: unmaps the mapping made above, which nothing else uses.
        unsafe { libc::munmap(hole, page) };
    }

    #[test]
    fn stacks_above_the_high_water_mark_are_released_and_keep_their_guard() {
        for (guard, kib) in [(GuardMode::Install, 56), (GuardMode::Mprotect, 60)] {
            let mut pool = StackPool::with_guard(kib * KIB, guard);
            let stacks: Vec<GoroStack> = (0..=POOL_HIGH_WATER)
                .map(|_| pool.take().unwrap())
                .collect();
            for stack in &stacks {
                // SAFETY: the top word of a stack this test owns.
                unsafe { ((stack.base().get() - 8) as *mut u64).write(7) };
            }
            let released = stacks[POOL_HIGH_WATER].limit();
            for stack in stacks {
                pool.give_back(stack);
            }
            let mut other = StackPool::with_guard(kib * KIB, guard);
            let reused = other.take().unwrap();
            assert_eq!(reused.limit(), released);
            assert_eq!(resident_pages(usable(&reused)), 0);
            // SAFETY: the top word of a stack this test owns, zero since released.
            let top = unsafe { ((reused.base().get() - 8) as *const u64).read() };
            assert_eq!(top, 0);
            assert_guarded(&reused);
            let hot = pool.take().unwrap();
            assert_ne!(hot.limit(), released);
            // SAFETY: the top word of a pooled stack this test wrote above.
            assert_eq!(unsafe { ((hot.base().get() - 8) as *const u64).read() }, 7);
        }
    }

    #[test]
    fn dropped_stacks_return_to_the_global_free_list() {
        let mut pool = StackPool::with_guard(64 * KIB, GuardMode::Install);
        let stack = pool.take().unwrap();
        let low = stack.limit();
        drop(stack);
        let mut other = StackPool::with_guard(64 * KIB, GuardMode::Install);
        assert_eq!(other.take().unwrap().limit(), low);
    }

    #[test]
    fn a_parked_coroutine_costs_one_page() {
        let stack = StackPool::with_guard(68 * KIB, GuardMode::Install)
            .take()
            .unwrap();
        let range = usable(&stack);
        assert_eq!(resident_pages(range.clone()), 0);
        let mut coroutine = Coroutine::with_stack(stack, |yielder: &Yielder<(), ()>, ()| {
            yielder.suspend(());
        });
        coroutine.resume(());
        assert_eq!(resident_pages(range), 1);
        coroutine.resume(());
    }

    #[test]
    fn prepare_thread_gives_a_thread_an_alternate_stack() {
        std::thread::spawn(|| {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: zeroed is a valid `stack_t`; the calls only set or query this thread's
            // alternate stack, and nothing is running on it.
            let current = || unsafe {
                let mut current: libc::stack_t = mem::zeroed();
                libc::sigaltstack(ptr::null(), &mut current);
                current
            };
            // SAFETY: as above.
            unsafe { libc::sigaltstack(&disable, ptr::null_mut()) };
            prepare_thread();
            let first = current();
            assert_eq!(first.ss_flags & libc::SS_DISABLE, 0);
            assert_eq!(first.ss_size, ALT_STACK_SIZE);
            prepare_thread();
            assert_eq!(current().ss_sp, first.ss_sp);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn overflow_message_digits() {
        let mut message = Message::new();
        message.push_decimal(0);
        message.push(b" ");
        message.push_decimal(u64::MAX);
        assert_eq!(&message.bytes[..message.len], b"0 18446744073709551615");
    }

    /// The child half of `mprotect_guards_stop_short_of_max_map_count`.
    #[test]
    fn mprotect_budget_child() {
        if std::env::var_os("GORO_STACK_TEST_CHILD").is_none() {
            return;
        }
        let mut pool = StackPool::new(16 * KIB);
        let mut stacks = Vec::new();
        let err = loop {
            match pool.take() {
                Ok(stack) => stacks.push(stack),
                Err(err) => break err,
            }
        };
        let max = read_max_map_count();
        assert_eq!(
            stacks.len(),
            (max - MAP_COUNT_RESERVE) / MAPS_PER_MPROTECT_GUARD
        );
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        let text = err.to_string();
        assert!(text.contains("GORO_GUARD_MODE=mprotect"), "{text}");
        assert!(
            text.contains(&format!("vm.max_map_count ({max})")),
            "{text}"
        );
        let maps = std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count();
        assert!(maps < max - MAP_COUNT_RESERVE / 2, "{maps} mappings");
        std::thread::spawn(|| ()).join().unwrap();
        let carved = stacks.len();
        drop(stacks);
        assert!(
            pool.take().is_ok(),
            "a released slot is reused without a new guard"
        );
        println!("budget child: {carved} stacks, {maps} mappings");
    }

    #[test]
    fn mprotect_guards_stop_short_of_max_map_count() {
        let module = module_path!().split_once("::").unwrap().1;
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &format!("{module}::mprotect_budget_child"),
                "--nocapture",
            ])
            .env("GORO_STACK_TEST_CHILD", "1")
            .env("GORO_GUARD_MODE", "mprotect")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("budget child:"),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
