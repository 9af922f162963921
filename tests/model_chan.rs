//! Model-based tests of `gort::sync::chan` (issue 23).
//!
//! 1. `sequential_ops_match_the_model`: random sequences of channel
//!    operations on one thread, each checked against a sequential model of
//!    Go's `hchan` as gort defines it (docs/semantics.md): a `VecDeque`
//!    buffer of `cap` slots, a closed flag and the counts of live senders and
//!    receivers. Operations that would block are the non-blocking forms
//!    (`try_send`, `try_recv`), or the blocking forms polled exactly once
//!    with a no-op waker and dropped if pending, which also checks that a
//!    cancelled send takes nothing and a cancelled receive loses nothing.
//!    Every value is a `Tracked` counted alive; at the end of each case,
//!    with the channel dropped, none may be alive (no value leaked or
//!    dropped twice: a double drop makes the count wrap, caught too).
//!
//!    Where gort deviates from Go (docs/semantics.md, "Channels"), the
//!    model follows gort: a send on a closed channel returns its value in a
//!    `SendError`/`TrySendError::Closed` instead of panicking, a second
//!    `close` returns false instead of panicking, and with every receiver
//!    dropped the buffer is dropped and sends fail. So the model expects the
//!    error, not a panic: no `catch_unwind` is needed.
//! 2. `two_senders_deliver_the_multiset`: two tasks on a real runtime
//!    (procs 2) send a random multiset through a channel of random capacity
//!    (0 to 8) to a receiver; what is received is exactly what was sent.
//!
//! Proptest runs a fixed number of cases from a fixed seed
//! (`RngSeed::Fixed`), so a run is reproducible; failure persistence is off
//! (no `proptest-regressions` files): a counterexample found is kept as a
//! named regression test instead.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::noop_waker;
use gort::sync::{chan, Receiver, Sender, TryRecvError, TrySendError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The proptest configuration: `cases` cases from a fixed seed, no
/// persistence file.
fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x6011_2023),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A value whose life is counted: `alive` goes up on creation, down on drop.
#[derive(Debug)]
struct Tracked {
    id: u32,
    alive: Arc<AtomicIsize>,
}

impl Tracked {
    fn new(id: u32, alive: &Arc<AtomicIsize>) -> Tracked {
        // Relaxed: one thread makes and drops every value in this test.
        alive.fetch_add(1, Relaxed);
        Tracked {
            id,
            alive: alive.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Relaxed: single-threaded, as in `new`.
        self.alive.fetch_sub(1, Relaxed);
    }
}

/// One operation of a generated sequence.
#[derive(Debug, Clone)]
enum Op {
    TrySend,
    /// `send(v).await` polled once; dropped if pending.
    SendOnce,
    TryRecv,
    /// `recv().await` polled once; dropped if pending.
    RecvOnce,
    /// Close through a sender (`true`) or a receiver.
    Close(bool),
    Len,
    CloneSender,
    DropSender,
    CloneReceiver,
    DropReceiver,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::TrySend),
        3 => Just(Op::SendOnce),
        4 => Just(Op::TryRecv),
        3 => Just(Op::RecvOnce),
        1 => any::<bool>().prop_map(Op::Close),
        2 => Just(Op::Len),
        1 => Just(Op::CloneSender),
        1 => Just(Op::DropSender),
        1 => Just(Op::CloneReceiver),
        1 => Just(Op::DropReceiver),
    ]
}

/// The sequential model of one channel.
#[derive(Debug)]
struct Model {
    cap: usize,
    buf: VecDeque<u32>,
    closed: bool,
    senders: usize,
    receivers: usize,
}

impl Model {
    /// Whether a send can complete now without waiting: gort's `TrySend`.
    /// Sequentially no receiver is ever parked (a pending `RecvOnce` is
    /// dropped at once), so on an unbuffered channel nothing fits.
    fn send(&mut self, id: u32) -> Result<(), (bool, u32)> {
        if self.closed || self.receivers == 0 {
            Err((true, id))
        } else if self.buf.len() < self.cap {
            self.buf.push_back(id);
            Ok(())
        } else {
            Err((false, id))
        }
    }

    /// `Some(Some(v))`: got `v`; `Some(None)`: closed and drained; `None`:
    /// would wait.
    fn recv(&mut self) -> Option<Option<u32>> {
        match self.buf.pop_front() {
            Some(v) => Some(Some(v)),
            None if self.closed => Some(None),
            None => None,
        }
    }

    fn close(&mut self) -> bool {
        !std::mem::replace(&mut self.closed, true)
    }
}

fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    pin!(f).poll(&mut cx)
}

/// Runs `ops` on a channel of capacity `cap` and on the model, checking
/// each result; returns how many values are still alive once everything is
/// dropped (must be 0).
fn run_sequence(cap: usize, ops: &[Op]) -> Result<isize, TestCaseError> {
    let alive = Arc::new(AtomicIsize::new(0));
    let (tx, rx) = chan::<Tracked>(cap);
    let mut senders: Vec<Sender<Tracked>> = vec![tx];
    let mut receivers: Vec<Receiver<Tracked>> = vec![rx];
    let mut m = Model {
        cap,
        buf: VecDeque::new(),
        closed: false,
        senders: 1,
        receivers: 1,
    };
    let mut next_id = 0u32;
    for (step, op) in ops.iter().enumerate() {
        match op {
            Op::TrySend => {
                let Some(tx) = senders.last() else { continue };
                next_id += 1;
                let got = tx.try_send(Tracked::new(next_id, &alive));
                let want = m.send(next_id);
                match (got, want) {
                    (Ok(()), Ok(())) => {}
                    (Err(TrySendError::Full(v)), Err((false, id)))
                    | (Err(TrySendError::Closed(v)), Err((true, id))) => {
                        prop_assert_eq!(v.id, id, "step {}: the value came back", step);
                    }
                    (got, want) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step} {op:?}: gort {got:?}, model {want:?}"
                        )))
                    }
                }
            }
            Op::SendOnce => {
                let Some(tx) = senders.last() else { continue };
                next_id += 1;
                let got = poll_once(tx.send(Tracked::new(next_id, &alive)));
                let want = m.send(next_id);
                match (got, want) {
                    (Poll::Ready(Ok(())), Ok(())) => {}
                    // A send that must wait is dropped: its value with it.
                    (Poll::Pending, Err((false, _))) => {}
                    (Poll::Ready(Err(e)), Err((true, id))) => {
                        prop_assert_eq!(e.0.id, id, "step {}: the value came back", step);
                    }
                    (got, want) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step} {op:?}: gort {got:?}, model {want:?}"
                        )))
                    }
                }
            }
            Op::TryRecv => {
                let Some(rx) = receivers.last() else { continue };
                let got = rx.try_recv().map(|v| v.id);
                let want = m.recv();
                let ok = match (&got, want) {
                    (Ok(v), Some(Some(w))) => *v == w,
                    (Err(TryRecvError::Closed), Some(None)) => true,
                    (Err(TryRecvError::Empty), None) => true,
                    _ => false,
                };
                prop_assert!(
                    ok,
                    "step {} {:?}: gort {:?}, model {:?}",
                    step,
                    op,
                    got,
                    want
                );
            }
            Op::RecvOnce => {
                let Some(rx) = receivers.last() else { continue };
                let got = poll_once(rx.recv()).map(|o| o.map(|v| v.id));
                let want = m.recv();
                let ok = match (&got, want) {
                    (Poll::Ready(v), Some(w)) => *v == w,
                    (Poll::Pending, None) => true,
                    _ => false,
                };
                prop_assert!(
                    ok,
                    "step {} {:?}: gort {:?}, model {:?}",
                    step,
                    op,
                    got,
                    want
                );
            }
            Op::Close(via_sender) => {
                let got = match (via_sender, senders.last(), receivers.last()) {
                    (true, Some(tx), _) => tx.close(),
                    (_, _, Some(rx)) => rx.close(),
                    (_, Some(tx), None) => tx.close(),
                    (_, None, None) => continue,
                };
                prop_assert_eq!(got, m.close(), "step {}: close's result", step);
            }
            Op::Len => {
                let len = match (senders.last(), receivers.last()) {
                    (Some(tx), _) => tx.len(),
                    (None, Some(rx)) => rx.len(),
                    (None, None) => continue,
                };
                prop_assert_eq!(len, m.buf.len(), "step {}: len", step);
                if let Some(rx) = receivers.last() {
                    prop_assert_eq!(rx.cap(), cap);
                    prop_assert_eq!(rx.is_closed(), m.closed, "step {}: is_closed", step);
                }
            }
            Op::CloneSender => {
                if let Some(tx) = senders.last() {
                    senders.push(tx.clone());
                    m.senders += 1;
                }
            }
            Op::DropSender => {
                if senders.pop().is_some() {
                    m.senders -= 1;
                    if m.senders == 0 {
                        // Dropping the last Sender closes the channel.
                        m.closed = true;
                    }
                }
            }
            Op::CloneReceiver => {
                if let Some(rx) = receivers.last() {
                    receivers.push(rx.clone());
                    m.receivers += 1;
                }
            }
            Op::DropReceiver => {
                if receivers.pop().is_some() {
                    m.receivers -= 1;
                    if m.receivers == 0 {
                        // Nobody can receive them: the buffer is dropped.
                        m.buf.clear();
                        let n = alive.load(Relaxed);
                        prop_assert_eq!(n, 0, "step {}: the last receiver drops the buffer", step);
                    }
                }
            }
        }
        // Every value alive is in the buffer, nowhere else.
        prop_assert_eq!(
            alive.load(Relaxed),
            m.buf.len() as isize,
            "step {} {:?}: values alive vs buffered",
            step,
            op
        );
    }
    drop(senders);
    drop(receivers);
    Ok(alive.load(Relaxed))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sequential_ops_match_the_model(
        cap in 0usize..=8,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let left = run_sequence(cap, &ops)?;
        prop_assert_eq!(left, 0, "values alive after the channel is dropped");
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn two_senders_deliver_the_multiset(
        cap in 0usize..=8,
        a in proptest::collection::vec(0u16..64, 0..200),
        b in proptest::collection::vec(0u16..64, 0..200),
    ) {
        let rt = gort::Builder::new().procs(2).build().unwrap();
        let mut got = rt.block_on(async {
            let (tx, rx) = chan::<u16>(cap);
            let tasks: Vec<_> = [a.clone(), b.clone()]
                .into_iter()
                .map(|vals| {
                    let tx = tx.clone();
                    gort::spawn(async move {
                        for v in vals {
                            tx.send(v).await.unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let recv = gort::spawn(async move {
                let mut got = Vec::new();
                while let Some(v) = rx.recv().await {
                    got.push(v);
                }
                got
            });
            for t in tasks {
                t.await.unwrap();
            }
            recv.await.unwrap()
        });
        let mut want: Vec<u16> = a.iter().chain(&b).copied().collect();
        want.sort_unstable();
        got.sort_unstable();
        prop_assert_eq!(got, want);
    }
}

/// The model's own sanity: a buffered channel's basic life, written out.
#[test]
fn model_walkthrough() {
    use Op::*;
    let ops = [
        TrySend,
        TrySend,
        Len,
        RecvOnce,
        Close(true),
        TrySend,
        SendOnce,
        TryRecv,
        TryRecv,
        RecvOnce,
        Len,
    ];
    assert_eq!(run_sequence(2, &ops).unwrap(), 0);
    assert_eq!(run_sequence(0, &ops).unwrap(), 0);
}
