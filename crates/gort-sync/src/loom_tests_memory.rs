//! Loom models of Go's memory model as gort-sync honours it: one model per
//! happens-before rule of <https://go.dev/ref/mem> (the four channel
//! rules, select, Mutex, RwMutex, Once, WaitGroup, Cond, the weighted
//! Semaphore, Context, sync.Map). `docs/semantics.md`, "Memory model",
//! lists the rules, where each is made true, and names these models.
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p
//! gort-sync --release --lib loom_mm_`.
//!
//! # The pattern
//!
//! One thread writes a plain, non-atomic value ([`Plain`], a loom
//! `UnsafeCell`), then performs the operation; the other performs the
//! matching operation, then reads the value. Loom tracks the causality of
//! every access to the cell: a read that no happens-before edge orders
//! after the write is reported as a data race and fails the model. So
//! each model passes only if the operation pair is a release/acquire
//! edge, and fails if the implementation weakens it (an `Acquire` made
//! `Relaxed`, a lock left out). Each model's doc says how it was checked
//! to fail.
//!
//! Under `--cfg loom` the channel's lock is loom's `Mutex` (`chan/hchan.rs`;
//! the spin lock `chan/lock.rs` has its own model, which checks that its
//! unlock publishes what was written under it), and so are the wait queues
//! of the Semaphore and Cond and the WaitGroup's waiter list: for those
//! the edge the model checks is the lock's. The Mutex, RwMutex, Once,
//! WaitGroup counter, Context and sync.Map edges are gort's own atomics.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::cell::UnsafeCell;
use loom::future::block_on;
use loom::sync::Arc;
use loom::thread;

use crate::chan::{chan, Receiver};
use crate::context::{background, with_cancel};
use crate::loom_tests::poll_when_woken;
use crate::select::{kind::IntoChanCase, map, Case, Select, Selected};
use crate::{Cond, Map, Mutex, Once, RwMutex, Semaphore, WaitGroup};

/// A plain value: written by one thread before an operation, read by
/// another after the matching one. Every access goes through loom's
/// `UnsafeCell`, which fails the model if two accesses, one a write, are
/// not ordered by happens-before.
struct Plain(UnsafeCell<u32>);

// SAFETY: the models share `Plain` between threads on purpose: the claim
// under test is that the operation between the write and the read orders
// them. Loom checks that claim at every access and fails the model (before
// the access runs) where it does not hold.
unsafe impl Sync for Plain {}

impl Plain {
    fn new() -> Arc<Plain> {
        Arc::new(Plain(UnsafeCell::new(0)))
    }

    fn write(&self, v: u32) {
        // SAFETY: see the `Sync` impl: loom rejects an unordered access.
        self.0.with_mut(|p| unsafe { *p = v })
    }

    fn read(&self) -> u32 {
        // SAFETY: see the `Sync` impl: loom rejects an unordered access.
        self.0.with(|p| unsafe { *p })
    }
}

/// A branch point that orders nothing: a `Relaxed` store by the writing
/// thread before it starts, and a `Relaxed` load by the reading thread
/// before its operation. Loom backtracks to a point only where two
/// threads' accesses to one object conflict, and it keeps an object's last
/// access only; when the writer's operation first reads the word the
/// reader read (a `Relaxed` pre-check, as `cancel_one`'s), that read hides
/// the reader's, and loom never tries the writer first (one execution was
/// all it ran). The hint is a conflict loom cannot miss. Being `Relaxed`
/// on both sides it makes no happens-before edge, so the model still
/// passes only through the operation's own ordering.
struct Hint(loom::sync::atomic::AtomicUsize);

impl Hint {
    fn new() -> Arc<Hint> {
        Arc::new(Hint(loom::sync::atomic::AtomicUsize::new(0)))
    }

    fn writer_starts(&self) {
        self.0.store(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn reader_looks(&self) {
        let _ = self.0.load(std::sync::atomic::Ordering::Relaxed);
    }
}

fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    f.poll(&mut cx)
}

/// Go: "A send on a channel is synchronized before the completion of the
/// corresponding receive from that channel." Unbuffered, so the value goes
/// through a waiter (the receiver parked, or the sender parked with it).
///
/// Checked to fail: with the channel's lock under loom made gort's spin
/// lock (`chan/lock.rs`) and its two acquiring exchanges weakened to
/// `Relaxed`, loom fails this model and every channel model below
/// ("Concurrent write accesses to `UnsafeCell`": the channel's own state,
/// reached before the plain value, races first).
#[test]
fn loom_mm_send_before_recv_completes_unbuffered() {
    loom::model(|| {
        let data = Plain::new();
        let (tx, rx) = chan::<()>(0);
        let d = data.clone();
        let t = thread::spawn(move || {
            d.write(1);
            block_on(tx.send(())).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Some(()));
        assert_eq!(data.read(), 1);
        t.join().unwrap();
    });
}

/// The send-before-receive rule through a buffer slot (cap 1): the value
/// waits in the buffer; the receive that takes it sees the sender's write.
///
/// Checked to fail as `loom_mm_send_before_recv_completes_unbuffered`.
#[test]
fn loom_mm_send_before_recv_completes_buffered() {
    loom::model(|| {
        let data = Plain::new();
        let (tx, rx) = chan::<()>(1);
        let d = data.clone();
        let t = thread::spawn(move || {
            d.write(1);
            block_on(tx.send(())).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Some(()));
        assert_eq!(data.read(), 1);
        t.join().unwrap();
    });
}

/// Go: "The closing of a channel is synchronized before a receive that
/// returns because the channel is closed." The receive may park first (and
/// be woken by the close) or find the channel closed.
///
/// Checked to fail as `loom_mm_send_before_recv_completes_unbuffered`.
#[test]
fn loom_mm_close_before_recv_of_closed() {
    loom::model(|| {
        let data = Plain::new();
        let (tx, rx) = chan::<()>(0);
        let d = data.clone();
        let _keep_open = tx.clone(); // so only `close` closes it
        let t = thread::spawn(move || {
            d.write(1);
            assert!(tx.close());
        });
        assert_eq!(block_on(rx.recv()), None);
        assert_eq!(data.read(), 1);
        t.join().unwrap();
    });
}

/// Go: "A receive from an unbuffered channel is synchronized before the
/// completion of the corresponding send on that channel." The receiver
/// writes before it receives; the sender reads after its send returns.
///
/// Checked to fail as `loom_mm_send_before_recv_completes_unbuffered`.
#[test]
fn loom_mm_unbuffered_recv_before_send_completes() {
    loom::model(|| {
        let data = Plain::new();
        let (tx, rx) = chan::<()>(0);
        let d = data.clone();
        let t = thread::spawn(move || {
            d.write(1);
            block_on(rx.recv())
        });
        block_on(tx.send(())).unwrap();
        assert_eq!(data.read(), 1);
        assert_eq!(t.join().unwrap(), Some(()));
    });
}

/// Go: "The kth receive on a channel with capacity C is synchronized
/// before the completion of the k+Cth send from that channel completes."
/// Here C = 1, k = 1: the first send fills the buffer, the receiver writes
/// and then receives (the first receive), and the second send, which can
/// only complete once a slot is free, is followed by the read. This is the
/// rule behind a buffered channel used as a counting semaphore (the test
/// `tests/memory_model.rs` runs that idiom).
///
/// Checked to fail as `loom_mm_send_before_recv_completes_unbuffered`.
#[test]
fn loom_mm_kth_recv_before_k_plus_cap_send_completes() {
    loom::model(|| {
        let data = Plain::new();
        let (tx, rx) = chan::<u32>(1);
        tx.try_send(0).unwrap(); // send 1: fills the one slot
        let d = data.clone();
        let t = thread::spawn(move || {
            d.write(1);
            let v = block_on(rx.recv()); // receive 1
            (v, rx) // kept alive, so send 2 is not refused
        });
        block_on(tx.send(1)).unwrap(); // send 1 + C
        assert_eq!(data.read(), 1);
        let (v, rx) = t.join().unwrap();
        assert_eq!(v, Some(0));
        assert_eq!(rx.try_recv(), Ok(1));
    });
}

/// `select! { v = rx1.recv() => .., v = rx2.recv() => .. }` over a buffered
/// channel and an idle one.
async fn select_recv2(rx1: &Receiver<()>, rx2: &Receiver<()>) -> (usize, Option<()>) {
    let mut sel = Select::new();
    let mut c0 = Some(map(rx1.recv().into_chan_case(), |v| v));
    let mut c1 = Some(map(rx2.recv().into_chan_case(), |v| v));
    let r = poll_fn(|cx| {
        let cases: &mut [&mut dyn Case<Option<()>>] = &mut [&mut c0, &mut c1];
        sel.poll(cx, cases, false)
    })
    .await;
    match r {
        Selected::Case(i, v) => (i, v),
        Selected::Default => unreachable!("no default case"),
    }
}

/// A select's chosen case obeys its channel's rule: the sender's write is
/// seen after a select commits to the receive of its value, whether the
/// select found the value at once or parked its sudogs and was committed
/// to by the sender. Run once per case order (`LOOM_SEED`, as
/// `loom_select_commits_exactly_once`).
///
/// Checked to fail as `loom_mm_send_before_recv_completes_unbuffered`.
#[test]
fn loom_mm_select_recv_case_after_send() {
    for seed in [1, 3] {
        crate::rand::LOOM_SEED.with(|s| s.set(seed));
        loom::model(|| {
            let data = Plain::new();
            let (tx, rx) = chan::<()>(1);
            let (_tx_idle, rx_idle) = chan::<()>(0);
            let d = data.clone();
            let t = thread::spawn(move || {
                d.write(1);
                tx.try_send(()).unwrap();
                tx
            });
            let (i, v) = poll_when_woken(Box::pin(select_recv2(&rx, &rx_idle)));
            assert_eq!((i, v), (0, Some(())));
            assert_eq!(data.read(), 1);
            drop(t.join().unwrap());
        });
    }
}

/// Go: "For any sync.Mutex or sync.RWMutex variable l and n < m, call n of
/// l.Unlock() is synchronized before call m of l.Lock() returns." The
/// thread that locks second sees what the first wrote before unlocking
/// (the flag under the lock says which came first).
///
/// Checked to fail: with the fast path's acquiring exchange in
/// `Mutex::lock`/`try_lock` (`mutex.rs`) weakened to `Relaxed`, loom
/// reports the read as racing the write.
#[test]
fn loom_mm_mutex_unlock_before_next_lock() {
    loom::model(|| {
        let data = Plain::new();
        let m = Arc::new(Mutex::new(false));
        let (d, m2) = (data.clone(), m.clone());
        let t = thread::spawn(move || {
            let mut g = block_on(m2.lock());
            d.write(1);
            *g = true;
        });
        {
            let g = block_on(m.lock());
            if *g {
                assert_eq!(data.read(), 1);
            }
        }
        t.join().unwrap();
        assert_eq!(data.read(), 1);
    });
}

/// RwMutex, both of Go's rules: a writer's `Unlock` is synchronized before
/// a later `RLock` returns, and a reader's `RUnlock` before the next
/// `Lock` returns. The writer writes the plain value under the write lock,
/// the reader reads it under a read lock: in either order the two accesses
/// must be ordered (write then read, or read then write), else loom
/// reports a race.
///
/// Checked to fail: with `RwMutex::try_read`'s and the read lock's
/// acquiring exchanges (`rwmutex.rs`) weakened to `Relaxed`, loom reports
/// the read as racing the write.
#[test]
fn loom_mm_rwmutex_unlock_before_rlock_and_runlock_before_lock() {
    loom::model(|| {
        let data = Plain::new();
        let rw = Arc::new(RwMutex::new(()));
        let (d, rw2) = (data.clone(), rw.clone());
        let t = thread::spawn(move || {
            let _w = block_on(rw2.write());
            d.write(1);
        });
        let seen = {
            let _r = block_on(rw.read());
            data.read()
        };
        assert!(seen == 0 || seen == 1);
        t.join().unwrap();
        assert_eq!(data.read(), 1);
    });
}

/// Go: "The completion of a single call of f() from once.Do(f) is
/// synchronized before the return of any call of once.Do(f)." Two callers
/// race; whichever does not run `f` still sees what `f` wrote.
///
/// Checked to fail: with the fast path's load of `done` (`once.rs`,
/// `do_once`) weakened to `Relaxed`, loom reports the read as racing `f`'s
/// write.
#[test]
fn loom_mm_once_f_before_any_do_returns() {
    loom::model(|| {
        let data = Plain::new();
        let once = Arc::new(Once::new());
        let (d, o2) = (data.clone(), once.clone());
        let t = thread::spawn(move || {
            block_on(o2.call_once(|| d.write(1)));
            assert_eq!(d.read(), 1);
        });
        block_on(once.call_once(|| data.write(1)));
        assert_eq!(data.read(), 1);
        t.join().unwrap();
    });
}

/// Go (sync docs): "a call to Done synchronizes before the return of any
/// Wait call that it unblocks." The waiter may see the zero at once or be
/// released by the `done`.
///
/// Checked to fail: with `done`'s read-modify-write (`waitgroup.rs`,
/// `add_to_counter`) weakened from `AcqRel` to `Acquire`, loom reports the
/// read as racing the write.
#[test]
fn loom_mm_waitgroup_done_before_wait_returns() {
    loom::model(|| {
        let data = Plain::new();
        let wg = WaitGroup::new();
        wg.add(1);
        let (d, wg2) = (data.clone(), wg.clone());
        let t = thread::spawn(move || {
            d.write(1);
            wg2.done();
        });
        poll_when_woken(Box::pin(wg.wait()));
        assert_eq!(data.read(), 1);
        t.join().unwrap();
    });
}

/// Go (sync docs): "Cond arranges that a call to Broadcast or Signal
/// synchronizes before any Wait call that it unblocks." The waiter is
/// registered (one poll) before the signalling thread starts, and the
/// signaller does not take the mutex, so the only edge is the signal's
/// (the Cond's waiter queue, a lock).
#[test]
fn loom_mm_cond_signal_before_wait_returns() {
    loom::model(|| {
        let data = Plain::new();
        let m = Arc::new(Mutex::new(()));
        let cond = Arc::new(Cond::new());
        let g = m.try_lock().unwrap();
        let mut wait = Box::pin(cond.wait(g));
        assert!(poll_once(wait.as_mut()).is_pending()); // registered, unlocked
        let (d, c2) = (data.clone(), cond.clone());
        let t = thread::spawn(move || {
            d.write(1);
            c2.signal();
        });
        let g = poll_when_woken(wait);
        assert_eq!(data.read(), 1);
        drop(g);
        t.join().unwrap();
    });
}

/// x/sync's weighted semaphore: a `release` is synchronized before the
/// `acquire` its permits satisfy returns (the waiter queue's lock; Go's
/// x/sync uses a mutex the same way).
#[test]
fn loom_mm_semaphore_release_before_acquire_returns() {
    loom::model(|| {
        let data = Plain::new();
        let sem = Arc::new(Semaphore::new(1));
        assert!(sem.try_acquire(1));
        let (d, s2) = (data.clone(), sem.clone());
        let t = thread::spawn(move || {
            d.write(1);
            s2.release(1);
        });
        poll_when_woken(Box::pin(sem.acquire(1))).unwrap();
        assert_eq!(data.read(), 1);
        t.join().unwrap();
    });
}

/// Context: a cancel is synchronized before a `done()` it completes
/// returns (Go's Done channel is closed by cancel: the close rule).
///
/// Checked to fail: with `err()`'s load weakened to `Relaxed`, loom reports
/// the read of the plain value (with the [`Hint`]; see the next model).
#[test]
fn loom_mm_context_cancel_before_done_returns() {
    loom::model(|| {
        let data = Plain::new();
        let hint = Hint::new();
        let (ctx, cancel) = with_cancel(&background());
        let (d, h) = (data.clone(), hint.clone());
        let t = thread::spawn(move || {
            h.writer_starts();
            d.write(1);
            cancel.cancel();
        });
        hint.reader_looks();
        poll_when_woken(Box::pin(ctx.done()));
        assert_eq!(data.read(), 1);
        t.join().unwrap();
    });
}

/// Context: an `err()` that returns `Some` (Go: `Err` returns non-nil) sees
/// everything before the cancel that set it: no lock is taken on this
/// path, only the `err` word's Release store and Acquire load.
///
/// Checked to fail: with the load in `err()` (`context/cancel.rs`)
/// weakened to `Relaxed`, loom reports the read of the plain value. Without
/// the [`Hint`] it did not: `cancel_one`'s own `Relaxed` pre-check of the
/// `err` word became that word's last access and hid this thread's load
/// from loom, which then ran one execution only (a counter showed it).
#[test]
fn loom_mm_context_cancel_before_err_is_some() {
    loom::model(|| {
        let data = Plain::new();
        let hint = Hint::new();
        let (ctx, cancel) = with_cancel(&background());
        let (d, h) = (data.clone(), hint.clone());
        let t = thread::spawn(move || {
            h.writer_starts();
            d.write(1);
            cancel.cancel();
        });
        hint.reader_looks();
        if ctx.err().is_some() {
            assert_eq!(data.read(), 1);
        }
        t.join().unwrap();
        assert!(ctx.err().is_some());
    });
}

/// Go (sync.Map docs): "Load ... is a read operation ... A write operation
/// is synchronized before any read operation that observes the effect of
/// the write." A load that returns the stored value sees what the storer
/// wrote before the store, whether it found the key in the read-only
/// snapshot or the dirty map.
///
/// Checked to fail: with `Entry::load`'s `Acquire` (`syncmap/entry.rs`)
/// weakened to `Relaxed`, loom reports the read of the plain value. As in
/// the context model, it needed the [`Hint`]: without it loom ran this
/// model once.
#[test]
fn loom_mm_syncmap_store_before_load_that_observes_it() {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::BuildHasherDefault;
    loom::model(|| {
        let data = Plain::new();
        // A fixed hasher, as the map's own models (loom replays schedules).
        let m: Arc<Map<u8, u8, BuildHasherDefault<DefaultHasher>>> =
            Arc::new(Map::with_hasher(BuildHasherDefault::default()));
        m.store(1, 0); // the key exists: the store below is an update
        m.load(&1); // a miss promotes it into the snapshot: the lock-free path
        let hint = Hint::new();
        let (d, m2, h) = (data.clone(), m.clone(), hint.clone());
        let t = thread::spawn(move || {
            h.writer_starts();
            d.write(1);
            m2.store(1, 7);
        });
        hint.reader_looks();
        if m.load(&1) == Some(7) {
            assert_eq!(data.read(), 1);
        }
        t.join().unwrap();
    });
}
