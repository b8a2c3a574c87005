//! The public contract (API.md) as a user spells it: every path, signature and Display
//! text that the contract fixes, each used for real.

use std::time::{Duration, Instant};

use goro::context::{CancelHandle, Context, ContextError};
use goro::runtime::{GoroutineInfo, State, WaitReason};
use goro::sync::{
    Cond, ErrGroup, Mutex, MutexGuard, Once, OnceCell, RwLock, RwLockReadGuard, RwLockWriteGuard,
    Semaphore, SemaphorePermit, WaitGroup,
};
use goro::{
    Chan, GoroutineId, IntoIter, Iter, JoinHandle, Receiver, RecvTimeoutError, Select, SendError,
    SendTimeoutError, Sender, TryRecvError, TrySendError,
};

static GLOBAL_MUTEX: Mutex<u32> = Mutex::new(0);
static GLOBAL_RW: RwLock<u32> = RwLock::new(0);
static GLOBAL_ONCE: Once = Once::new();
static GLOBAL_CELL: OnceCell<u32> = OnceCell::new();
static GLOBAL_COND: Cond = Cond::new();
static GLOBAL_SEM: Semaphore = Semaphore::new(2);

fn assert_handle_traits<H: Clone + Send + Sync + std::fmt::Debug>() {}

#[test]
fn runtime_paths_and_signatures() {
    let h: JoinHandle<u8> = goro::go(|| 1);
    let id: GoroutineId = h.id();
    assert_eq!(h.join().unwrap(), 1);
    assert!(id.to_string().parse::<u64>().is_ok());
    let _: goro::runtime::GoroutineId = id;
    let rt: goro::Runtime = goro::Builder::default().max_procs(1).build().unwrap();
    let _: &goro::runtime::Runtime = &rt;
    assert_eq!(rt.run(goro::max_procs), 1);
    let infos: Vec<GoroutineInfo> = goro::runtime::dump();
    drop(infos);
    let s = State::Waiting(WaitReason::Other("x"));
    assert_eq!(s, State::Waiting(WaitReason::Other("x")));
    let words: Vec<String> = [
        WaitReason::ChanSend,
        WaitReason::ChanRecv,
        WaitReason::Select,
        WaitReason::Sleep,
        WaitReason::Mutex,
        WaitReason::RwLock,
        WaitReason::WaitGroup,
        WaitReason::Cond,
        WaitReason::Semaphore,
        WaitReason::Join,
        WaitReason::Io,
    ]
    .iter()
    .map(|r| r.to_string())
    .collect();
    assert_eq!(
        words,
        [
            "chan send",
            "chan receive",
            "select",
            "sleep",
            "sync.Mutex.Lock",
            "sync.RWMutex.Lock",
            "sync.WaitGroup.Wait",
            "sync.Cond.Wait",
            "semacquire",
            "join",
            "IO wait"
        ]
    );
}

#[test]
fn channel_paths_errors_and_texts() {
    assert_handle_traits::<Chan<u8>>();
    assert_handle_traits::<Sender<u8>>();
    assert_handle_traits::<Receiver<u8>>();
    let ch: Chan<u8> = goro::chan(1);
    let tx: Sender<u8> = ch.sender();
    let rx: Receiver<u8> = ch.receiver();
    assert_eq!(tx.try_send(1), Ok(()));
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    assert_eq!(
        TrySendError::Full(2).to_string(),
        "sending on a full channel"
    );
    let mut it: Iter<'_, u8> = rx.iter();
    assert_eq!(it.next(), Some(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        TryRecvError::Empty.to_string(),
        "receiving on an empty channel"
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    assert_eq!(
        RecvTimeoutError::Timeout.to_string(),
        "timed out waiting on receive operation"
    );
    assert_eq!(tx.send_timeout(3, Duration::from_millis(5)), Ok(()));
    assert_eq!(
        tx.send_timeout(4, Duration::from_millis(5)),
        Err(SendTimeoutError::Timeout(4))
    );
    assert_eq!(
        SendTimeoutError::Timeout(4).to_string(),
        "timed out waiting on send operation"
    );
    assert!(tx.close());
    assert!(!ch.close());
    assert_eq!(tx.send(5), Err(SendError(5)));
    assert_eq!(SendError(5).into_inner(), 5);
    assert_eq!(SendError(5).to_string(), "sending on a closed channel");
    let rest: IntoIter<u8> = Receiver::from(ch).into_iter();
    assert_eq!(rest.collect::<Vec<_>>(), [3]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(
        TryRecvError::Closed.to_string(),
        "receiving on a closed channel"
    );
    assert_eq!(
        RecvTimeoutError::Closed.to_string(),
        "receiving on a closed channel"
    );
    let unbuffered = goro::chan::<()>(0);
    assert!(unbuffered.is_empty() && unbuffered.is_full());
    assert_eq!((unbuffered.len(), unbuffered.cap()), (0, 0));
    let never: Receiver<u8> = goro::never();
    assert_eq!(never.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn select_macro_and_builder() {
    let a = goro::chan::<u32>(1);
    let b = goro::chan::<u32>(1);
    b.send(9).unwrap();
    let got = goro::select! {
        recv(a) -> v => v.map(|v| v + 100),
        recv(&b.receiver()) -> v => v,
    };
    assert_eq!(got, Some(9));
    let none = goro::select! {
        recv(a) -> _v => "a",
        default => "nothing ready",
    };
    assert_eq!(none, "nothing ready");
    let out: u32 = Select::new()
        .send(&a, 7, |r: Result<(), SendError<u32>>| {
            r.unwrap();
            1
        })
        .recv(&b, |_v: Option<u32>| 2)
        .wait();
    assert_eq!(out, 1);
    let timed: Option<u32> = Select::new()
        .recv(&b.receiver(), |_| 0)
        .wait_timeout(Duration::from_millis(5));
    assert_eq!(timed, None);
}

#[test]
fn time_paths() {
    let fired: Instant = goro::time::after(Duration::from_millis(1)).recv().unwrap();
    assert!(fired <= Instant::now());
    assert_eq!(
        goro::time::tick(Duration::ZERO).try_recv(),
        Err(TryRecvError::Empty)
    );
    let t = goro::time::Timer::new(Duration::from_secs(60));
    assert!(t.stop());
    assert!(!t.reset(Duration::from_millis(1)));
    assert!(t.receiver().recv().is_some());
    let tk = goro::time::Ticker::new(Duration::from_millis(1));
    assert!(tk.receiver().recv().is_some());
    tk.reset(Duration::from_millis(2));
    tk.stop();
    goro::time::sleep(Duration::from_millis(1));
}

#[test]
fn sync_and_context_paths() {
    let wg = WaitGroup::new();
    let h: JoinHandle<u8> = wg.go(|| 3);
    wg.wait();
    assert_eq!(h.join().unwrap(), 3);
    {
        let mut g: MutexGuard<'_, u32> = GLOBAL_MUTEX.lock();
        *g += 1;
    }
    assert!(GLOBAL_MUTEX.try_lock().is_some());
    {
        let r: RwLockReadGuard<'_, u32> = GLOBAL_RW.read();
        assert_eq!(*r, 0);
    }
    {
        let mut w: RwLockWriteGuard<'_, u32> = GLOBAL_RW.write();
        *w = 2;
    }
    GLOBAL_ONCE.call_once(|| ());
    assert!(GLOBAL_ONCE.is_completed());
    assert_eq!(*GLOBAL_CELL.get_or_init(|| 4), 4);
    assert_eq!(GLOBAL_CELL.set(5), Err(5));
    GLOBAL_COND.notify_all();
    let p: SemaphorePermit<'_> = GLOBAL_SEM.acquire();
    assert_eq!(GLOBAL_SEM.available_permits(), 1);
    drop(p);
    let eg: ErrGroup<String> = ErrGroup::new();
    eg.go(|| Err("first".to_string()));
    assert_eq!(eg.wait(), Err("first".to_string()));
    let (ctx, cancel): (Context, CancelHandle) = Context::background().with_cancel();
    let (child, _keep) = ctx.with_timeout(Duration::from_secs(60));
    cancel.cancel();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert!(child.done().recv().is_none());
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    let (g2, gctx) = ErrGroup::<()>::with_context(&Context::background());
    g2.go(|| Ok(()));
    assert_eq!(g2.wait(), Ok(()));
    assert!(gctx.is_done());
}

#[goro::test]
fn goro_test_attribute_runs_in_a_goroutine() {
    assert!(goro::current_id().is_some());
}

#[goro::test]
fn goro_test_may_return_a_non_send_error() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}
