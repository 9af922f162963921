//! Loom models of the channel and select protocols. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gort-sync --release --lib loom_`.

use std::future::poll_fn;
use std::pin::Pin;

use loom::future::block_on;
use loom::thread;

use crate::chan::{chan, Receiver, SendError, TryRecvError};
use crate::select::{kind::IntoChanCase, map, Case, Select, Selected};

/// Unbuffered send racing a receive: the value moves exactly once.
#[test]
fn loom_unbuffered_send_recv() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let t = thread::spawn(move || block_on(tx.send(7)));
        assert_eq!(block_on(rx.recv()), Some(7));
        assert_eq!(t.join().unwrap(), Ok(()));
    });
}

/// Two receivers waiting on one channel (the first to park takes the
/// channel's embedded waiter, the other a sudog) and a sender of two
/// values: each receiver gets exactly one.
#[test]
fn loom_embedded_and_sudog_receivers() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let rx2 = rx.clone();
        let r = thread::spawn(move || block_on(rx2.recv()));
        let s = thread::spawn(move || {
            block_on(tx.send(1)).unwrap();
            block_on(tx.send(2)).unwrap();
        });
        let a = block_on(rx.recv()).unwrap();
        let b = r.join().unwrap().unwrap();
        s.join().unwrap();
        assert_eq!(a + b, 3, "got {a} and {b}");
    });
}

/// Buffered: two senders, one receiver, the last sender's drop closes it.
#[test]
fn loom_buffered_two_senders_then_close() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(1);
        let tx2 = tx.clone();
        let a = thread::spawn(move || block_on(tx.send(1)));
        let b = thread::spawn(move || block_on(tx2.send(2)));
        let mut got = Vec::new();
        while let Some(v) = block_on(rx.recv()) {
            got.push(v);
        }
        got.sort();
        assert_eq!(got, [1, 2]);
        a.join().unwrap().unwrap();
        b.join().unwrap().unwrap();
    });
}

/// Close racing a blocked send and a receive: the value is either received
/// (send Ok) or given back (send Err), never both, never neither.
#[test]
fn loom_close_races_send_and_recv() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let _keep_open = tx.clone(); // so only `close` closes it
        let rx2 = rx.clone();
        let s = thread::spawn(move || block_on(tx.send(5)));
        let c = thread::spawn(move || rx2.close());
        let got = block_on(rx.recv());
        let sent = s.join().unwrap();
        assert!(c.join().unwrap());
        match (got, sent) {
            (Some(5), Ok(())) => {}
            (None, Err(SendError(5))) => {}
            other => panic!("value lost or duplicated: {other:?}"),
        }
    });
}

/// A select over two receives, each fed by its own sender: exactly one case
/// commits; the other value stays in its channel. Run once per case order
/// (seeds 1 and 3 make the first shuffle keep, then swap, the two cases).
///
/// This model found the MISSED bug fixed in `Select::poll` (re-running
/// `begin` while still BUSY). It was ignored for a while because loom
/// reported a mutex "held by nobody" that could not be acquired: the
/// select's random case order differed between loom's re-executions, so
/// loom replayed schedules of a different program (see `LOOM_SEED`).
#[test]
fn loom_select_commits_exactly_once() {
    for seed in [1, 3] {
        crate::rand::LOOM_SEED.with(|s| s.set(seed));
        loom_select_commits_exactly_once_with_seed();
    }
}

fn loom_select_commits_exactly_once_with_seed() {
    loom::model(|| {
        let (tx1, rx1) = chan::<u32>(1);
        let (tx2, rx2) = chan::<u32>(1);
        let a = thread::spawn(move || (tx1.try_send(1).is_ok(), tx1));
        let b = thread::spawn(move || (tx2.try_send(2).is_ok(), tx2));
        let (i, v) = spin_on(select2(&rx1, &rx2));
        let (ok1, _tx1) = a.join().unwrap();
        let (ok2, _tx2) = b.join().unwrap();
        assert!(ok1 && ok2);
        let other = if i == 0 { &rx2 } else { &rx1 };
        assert_eq!(v, Some(i as u32 + 1));
        let left = other.try_recv().expect("the other value is still there");
        assert_eq!(left, 2 - i as u32);
        assert_eq!(rx1.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(rx2.try_recv(), Err(TryRecvError::Empty));
    });
}

/// A select parked on an unbuffered channel is dropped while a sender
/// commits to it: the value is handed back to the channel (and received
/// here), or the sender never delivered it. Never lost, never duplicated.
#[test]
fn loom_select_dropped_after_claim_hands_back() {
    loom::model(|| {
        let (tx, rx) = chan::<u32>(0);
        let (_tx_idle, rx_idle) = chan::<u32>(0);
        let mut sel = Select::new();
        let mut c0 = Some(map(rx.recv().into_chan_case(), |v| v));
        let mut c1 = Some(map(rx_idle.recv().into_chan_case(), |v| v));
        // First poll: nothing ready, both sudogs parked.
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        {
            let cases: &mut [&mut dyn Case<Option<u32>>] = &mut [&mut c0, &mut c1];
            assert!(sel.poll(&mut cx, cases, false).is_pending());
        }
        let s = thread::spawn(move || {
            let r = tx.try_send(9);
            (r.is_ok(), tx)
        });
        drop(c0);
        drop(c1);
        drop(sel);
        let (delivered, tx) = s.join().unwrap();
        let back = rx.try_recv();
        if delivered {
            assert_eq!(
                back,
                Ok(9),
                "a committed value must come back to the channel"
            );
        } else {
            assert_eq!(back, Err(TryRecvError::Empty));
        }
        drop(tx);
    });
}

async fn select2(rx1: &Receiver<u32>, rx2: &Receiver<u32>) -> (usize, Option<u32>) {
    let mut sel = Select::new();
    let mut c0 = Some(map(rx1.recv().into_chan_case(), |v| v));
    let mut c1 = Some(map(rx2.recv().into_chan_case(), |v| v));
    let r = poll_fn(|cx| {
        let cases: &mut [&mut dyn Case<Option<u32>>] = &mut [&mut c0, &mut c1];
        sel.poll(cx, cases, false)
    })
    .await;
    match r {
        Selected::Case(i, v) => (i, v),
        Selected::Default => unreachable!(),
    }
}

/// Polls `fut` with a no-op waker, yielding to loom between polls. Used
/// where a peer may wake the polling thread while it is blocked on a
/// channel mutex, which loom's `block_on` waker (an unpark) does not model.
fn spin_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::yield_now();
    }
}

/// The channel's spin lock (`chan/lock.rs`; the channel models above use
/// loom's `Mutex` in its place): two threads each update a pair of fields
/// under the lock in two steps. A torn pair would mean two holders at once;
/// the final pair shows every update was published to the next holder.
#[test]
fn loom_chan_lock_excludes_and_publishes() {
    use crate::chan::lock::ChanLock;
    use loom::sync::Arc;
    loom::model(|| {
        let lock = Arc::new(ChanLock::new((0u32, 0u32)));
        let l2 = lock.clone();
        let t = thread::spawn(move || {
            let mut g = l2.lock();
            let (a, b) = *g;
            assert_eq!(a, b, "two holders at once");
            g.0 = a + 1;
            g.1 = b + 1;
        });
        {
            let mut g = lock.lock();
            let (a, b) = *g;
            assert_eq!(a, b, "two holders at once");
            g.0 = a + 1;
            g.1 = b + 1;
        }
        t.join().unwrap();
        assert_eq!(*lock.lock(), (2, 2));
    });
}

/// Two selects meet on the same two unbuffered channels in opposite roles:
/// one sends on `a` or receives on `b`, the other receives on `a` or sends
/// on `b`. Each can find the other's sudog while the other holds its
/// selector `BUSY` (`chan/waiter.rs`, "Two selects"). Exactly one pair of
/// cases commits (one value moves, the other send delivers nothing), both
/// selects complete, and each is polled again only when woken, so a lost
/// wake-up or two selects that keep each other looking run the model out of
/// branches. Run once per case order, as `loom_select_commits_exactly_once`.
///
/// Also run with both selects polled again and again without being woken
/// (`spin_on`): the schedule in which a select that waits for the other
/// keeps finding it busy in one of its repeated polls (`chan/waiter.rs`,
/// "Two selects", rule 3).
#[test]
fn loom_select_vs_select_opposite_roles() {
    for seed in [1, 3] {
        crate::rand::LOOM_SEED.with(|s| s.set(seed));
        loom_select_vs_select_with_seed(false);
        loom_select_vs_select_with_seed(true);
    }
}

/// `spurious`: poll without being woken (`spin_on`), else only when woken.
fn loom_select_vs_select_with_seed(spurious: bool) {
    let run = move |f: SendOrRecvFut<'_>| {
        if spurious {
            spin_on(f)
        } else {
            poll_when_woken(f)
        }
    };
    loom::model(move || {
        let (tx_a, rx_a) = chan::<u32>(0);
        let (tx_b, rx_b) = chan::<u32>(0);
        let t = thread::spawn(move || {
            // Sends 1 on `a`, or receives on `b`.
            let r = run(Box::pin(send_or_recv(&tx_a, 1, &rx_b)));
            (r, tx_a, rx_b)
        });
        // Receives on `a`, or sends 2 on `b`.
        let mine = run(Box::pin(send_or_recv(&tx_b, 2, &rx_a)));
        let (theirs, _tx_a, _rx_b) = t.join().unwrap();
        match (mine, theirs) {
            // `a` carried 1.
            (SendOrRecv::Received(Some(1)), SendOrRecv::Sent(Ok(()))) => {}
            // `b` carried 2.
            (SendOrRecv::Sent(Ok(())), SendOrRecv::Received(Some(2))) => {}
            other => panic!("not exactly one value moved: {other:?}"),
        }
    });
}

/// A select parked on an unbuffered channel (and an idle one) races
/// `close` of it: whether `close` finds the select waiting (and commits
/// it) or busy (and marks it), the select completes once, with the
/// receive's closed outcome, and is woken for it (polled only when woken).
#[test]
fn loom_select_vs_close() {
    for seed in [1, 3] {
        crate::rand::LOOM_SEED.with(|s| s.set(seed));
        loom::model(|| {
            let (tx, rx) = chan::<u32>(0);
            let (_tx_idle, rx_idle) = chan::<u32>(0);
            let _keep_open = tx.clone(); // so only `close` closes it
            let c = thread::spawn(move || tx.close());
            let (i, v) = poll_when_woken(Box::pin(select2(&rx, &rx_idle)));
            assert!(c.join().unwrap());
            assert_eq!((i, v), (0, None), "the select must see the close");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        });
    }
}

/// Polls `fut` once, then again only after its waker was called, yielding
/// to loom meanwhile: a future that is never woken again spins here until
/// loom gives up (a lost wake-up fails the model).
pub(crate) fn poll_when_woken<F: std::future::Future + ?Sized>(mut fut: Pin<Box<F>>) -> F::Output {
    // A flag under a mutex: loom lets a thread that spins on an atomic
    // flag keep reading its own last store for ever, even with a yield in
    // the loop; a mutex's critical sections are totally ordered.
    struct Flag(loom::sync::Mutex<bool>);
    impl futures::task::ArcWake for Flag {
        fn wake_by_ref(arc_self: &std::sync::Arc<Self>) {
            *arc_self.0.lock().unwrap() = true;
        }
    }
    let flag = std::sync::Arc::new(Flag(loom::sync::Mutex::new(false)));
    let waker = futures::task::waker(flag.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        while !std::mem::take(&mut *flag.0.lock().unwrap()) {
            thread::yield_now();
        }
    }
}

type SendOrRecvFut<'a> = Pin<Box<dyn std::future::Future<Output = SendOrRecv> + 'a>>;

/// What [`send_or_recv`] completed with.
#[derive(Debug)]
enum SendOrRecv {
    Sent(Result<(), SendError<u32>>),
    Received(Option<u32>),
}

/// `select! { r = tx.send(v) => .., v = rx.recv() => .. }`.
async fn send_or_recv(tx: &crate::Sender<u32>, v: u32, rx: &Receiver<u32>) -> SendOrRecv {
    let mut sel = Select::new();
    let mut c0 = Some(map(tx.send(v).into_chan_case(), SendOrRecv::Sent));
    let mut c1 = Some(map(rx.recv().into_chan_case(), SendOrRecv::Received));
    let r = poll_fn(|cx| {
        let cases: &mut [&mut dyn Case<SendOrRecv>] = &mut [&mut c0, &mut c1];
        sel.poll(cx, cases, false)
    })
    .await;
    match r {
        Selected::Case(_, v) => v,
        Selected::Default => unreachable!(),
    }
}
