// One program written against `std::sync` and `std::thread`, compiled twice by
// `tests/sync_swap.rs`: once with `sync` and `thread` naming std's modules, once naming lockprof's.
// It uses every stable item of `std::sync`, so an item missing from `lockprof::sync` fails to
// compile here. Only the two import lines below mention the modules.

use sync::atomic::{AtomicUsize, Ordering};
#[allow(deprecated)]
use sync::{
    Arc, Barrier, BarrierWaitResult, Condvar, LazyLock, LockResult, Mutex, MutexGuard, ONCE_INIT, Once,
    OnceLock, OnceState, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError,
    TryLockResult, WaitTimeoutResult, Weak, mpsc,
};
use thread::{Builder, JoinHandle, Scope, ScopedJoinHandle, Thread, ThreadId};

static HITS: AtomicUsize = AtomicUsize::new(0);
static GREETING: LazyLock<String> = LazyLock::new(|| {
    HITS.fetch_add(1, Ordering::SeqCst);
    "hello".to_owned()
});
static CONFIG: OnceLock<u32> = OnceLock::new();
#[allow(deprecated)]
static LEGACY: Once = ONCE_INIT;
static START: Once = Once::new();

fn first<T: Clone>(r: LockResult<MutexGuard<'_, T>>) -> T {
    r.unwrap_or_else(PoisonError::into_inner).clone()
}

fn try_state<T>(r: TryLockResult<T>) -> &'static str {
    match r {
        Ok(_) => "free",
        Err(TryLockError::WouldBlock) => "busy",
        Err(TryLockError::Poisoned(_)) => "poisoned",
    }
}

/// Runs the program and returns its transcript.
pub fn run() -> Vec<String> {
    let mut out = Vec::new();

    // Arc, Weak, Mutex, MutexGuard, LockResult, PoisonError.
    let shared = Arc::new(Mutex::new(vec![1, 2]));
    let weak: Weak<Mutex<Vec<i32>>> = Arc::downgrade(&shared);
    out.push(format!("vec {:?} weak alive {}", first(shared.lock()), weak.upgrade().is_some()));

    // Poisoning, exactly as std.
    let poisoned = Arc::new(Mutex::new(0));
    let p2 = Arc::clone(&poisoned);
    let _ = thread::spawn(move || {
        let _g = p2.lock().unwrap();
        panic!("poison it");
    })
    .join();
    out.push(format!("poisoned {} {}", poisoned.is_poisoned(), try_state(poisoned.try_lock())));
    poisoned.clear_poison();
    out.push(format!("cleared {}", try_state(poisoned.try_lock())));

    // RwLock and its guards.
    let table = RwLock::new(10);
    {
        let r1: RwLockReadGuard<'_, i32> = table.read().unwrap();
        let r2 = table.read().unwrap();
        out.push(format!("reads {} {} write {}", *r1, *r2, try_state(table.try_write())));
    }
    {
        let mut w: RwLockWriteGuard<'_, i32> = table.write().unwrap();
        *w += 1;
    }
    out.push(format!("rw {}", *table.read().unwrap()));

    // Condvar and WaitTimeoutResult, with a worker from a Builder and a JoinHandle.
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let pair2 = Arc::clone(&pair);
    let worker: JoinHandle<String> = Builder::new()
        .name("notifier".into())
        .spawn(move || {
            let (ready, cv) = &*pair2;
            *ready.lock().unwrap() = true;
            cv.notify_all();
            thread::current().name().unwrap_or("?").to_owned()
        })
        .unwrap();
    {
        let (ready, cv) = &*pair;
        let guard = cv.wait_while(ready.lock().unwrap(), |r| !*r).unwrap();
        out.push(format!("ready {}", *guard));
        let (guard, timeout): (_, WaitTimeoutResult) =
            cv.wait_timeout(guard, std::time::Duration::from_millis(1)).unwrap();
        out.push(format!("timed out {} still {}", timeout.timed_out(), *guard));
    }
    out.push(format!("worker named {}", worker.join().unwrap()));

    // mpsc: channel, sync_channel, rendezvous.
    let (tx, rx) = mpsc::channel();
    let tx2: mpsc::Sender<i32> = tx.clone();
    thread::spawn(move || tx2.send(2).unwrap());
    tx.send(1).unwrap();
    drop(tx);
    let mut got: Vec<i32> = rx.iter().collect();
    got.sort_unstable();
    out.push(format!("channel {got:?}"));
    let (stx, srx): (mpsc::SyncSender<u8>, mpsc::Receiver<u8>) = mpsc::sync_channel(0);
    let sender = thread::spawn(move || stx.send(7).unwrap());
    out.push(format!("rendezvous {}", srx.recv().unwrap()));
    sender.join().unwrap();
    out.push(format!("disconnected {:?}", srx.try_recv().err()));
    let _: Option<mpsc::RecvError> = None;
    let _: Option<mpsc::SendError<u8>> = None;
    let _: Option<mpsc::TrySendError<u8>> = None;
    let _: Option<mpsc::RecvTimeoutError> = None;
    let _: Option<mpsc::TryRecvError> = None;

    // The rest of mpsc's API: the iterator types, try_iter, recv_timeout, try_send's errors,
    // disconnection, and Debug output.
    let (tx, rx) = mpsc::sync_channel::<u8>(1);
    out.push(format!("{:?} {:?}", tx.try_send(1), tx.try_send(2)));
    out.push(format!("{tx:?} {rx:?}"));
    let now: mpsc::TryIter<'_, u8> = rx.try_iter();
    out.push(format!("try_iter {:?}", now.collect::<Vec<_>>()));
    out.push(format!("{:?}", rx.recv_timeout(std::time::Duration::from_millis(1))));
    drop(tx);
    out.push(format!("{:?} {:?}", rx.try_recv(), rx.recv()));
    let (tx, rx) = mpsc::channel::<u8>();
    tx.send(3).unwrap();
    tx.send(4).unwrap();
    drop(tx);
    let by_ref: mpsc::Iter<'_, u8> = rx.iter();
    out.push(format!("iter {:?}", by_ref.take(1).collect::<Vec<_>>()));
    let owned: mpsc::IntoIter<u8> = rx.into_iter();
    out.push(format!("into_iter {:?}", owned.collect::<Vec<_>>()));
    let (tx, rx) = mpsc::channel::<u8>();
    drop(rx);
    out.push(format!("{:?} {tx:?}", tx.send(5)));
    let barrier = Barrier::new(1);
    out.push(format!("{barrier:?} {:?}", barrier.wait().is_leader()));

    // Barrier and BarrierWaitResult in scoped threads (Scope, ScopedJoinHandle).
    let barrier = Barrier::new(3);
    let leaders = AtomicUsize::new(0);
    thread::scope(|s: &Scope<'_, '_>| {
        let handles: Vec<ScopedJoinHandle<'_, ThreadId>> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let r: BarrierWaitResult = barrier.wait();
                    if r.is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                    thread::current().id()
                })
            })
            .collect();
        if barrier.wait().is_leader() {
            leaders.fetch_add(1, Ordering::SeqCst);
        }
        let me: Thread = thread::current();
        for h in handles {
            assert_ne!(h.join().unwrap(), me.id());
        }
    });
    out.push(format!("leaders {}", leaders.load(Ordering::SeqCst)));

    // Once, OnceState, OnceLock, LazyLock.
    let mut runs = 0;
    START.call_once(|| runs += 1);
    START.call_once(|| runs += 1);
    LEGACY.call_once_force(|state: &OnceState| {
        runs += usize::from(!state.is_poisoned());
    });
    out.push(format!("once runs {runs} done {}", START.is_completed()));
    out.push(format!("config {}", CONFIG.get_or_init(|| 5)));
    out.push(format!("lazy {} {} inits {}", *GREETING, GREETING.len(), HITS.load(Ordering::SeqCst)));
    out
}
