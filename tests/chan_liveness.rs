//! Liveness corners of channels and `select!` that need no particular
//! timing to go wrong:
//!
//! - two selects that meet on the same channels in opposite roles (one
//!   sending on `a` or receiving on `b`, the other the reverse) both
//!   complete, round after round, on two threads that run at once
//!   (`gort-sync`'s `chan/waiter.rs`, "Two selects"; its loom model is
//!   `loom_select_vs_select_opposite_roles`);
//! - a value whose `Drop` re-enters the channel it travels on (clones a
//!   sender of it, looks at its length, sends on it) is never dropped
//!   while the channel's lock is held, on every path that drops a value
//!   the channel held: a send future or select dropped while parked, the
//!   losing send case of a select, the last receiver draining the buffer,
//!   and a value given back by `try_send`, by a close or by the last
//!   receiver going. The channel's lock is not reentrant: a drop under it
//!   would spin for ever.
//!
//! Each test runs on a thread of its own under a watchdog, so a hang fails
//! the test instead of stalling the suite. Counts are fixed.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use gort::sync::{chan, Receiver, SendError, Sender, TrySendError};

/// Runs `f` on a thread of its own and fails if it has not returned within
/// 30 s (a deadlock or livelock), or if it panicked.
fn watchdog(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => t.join().unwrap(),
        // The thread ended without sending: it panicked.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = t.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: no progress in 30 s (a drop under the channel's lock, or a livelock)")
        }
    }
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(std::task::Waker::noop()))
}

// ---------------------------------------------------------------------------
// Two selects in opposite roles
// ---------------------------------------------------------------------------

/// What one side's select did in one round.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Side {
    Sent,
    Received(u32),
}

/// `select! { r = tx.send(v) => .., v = rx.recv() => .. }`.
async fn send_or_recv(tx: &Sender<u32>, v: u32, rx: &Receiver<u32>) -> Side {
    gort::select! {
        r = tx.send(v) => {
            r.expect("the channels stay open");
            Side::Sent
        },
        got = rx.recv() => Side::Received(got.expect("the channels stay open")),
    }
}

/// Two threads, each running one select per round over the same two
/// unbuffered channels in opposite roles. Each round exactly one value
/// moves: on `a` (left sent, right received it) or on `b` (the reverse),
/// with that round's number; every round completes.
#[test]
fn opposite_selects_complete_every_round() {
    const ROUNDS: u32 = if cfg!(debug_assertions) {
        5_000
    } else {
        50_000
    };
    watchdog("opposite selects", || {
        let (tx_a, rx_a) = chan::<u32>(0);
        let (tx_b, rx_b) = chan::<u32>(0);
        let left = std::thread::spawn(move || {
            (0..ROUNDS)
                .map(|k| futures::executor::block_on(send_or_recv(&tx_a, k, &rx_b)))
                .collect::<Vec<_>>()
        });
        let right: Vec<Side> = (0..ROUNDS)
            .map(|k| futures::executor::block_on(send_or_recv(&tx_b, k, &rx_a)))
            .collect();
        let left = left.join().unwrap();
        for (k, (l, r)) in left.iter().zip(&right).enumerate() {
            let k = k as u32;
            assert!(
                matches!((l, r), (Side::Sent, Side::Received(v)) | (Side::Received(v), Side::Sent) if *v == k),
                "round {k}: left {l:?}, right {r:?}"
            );
        }
    });
}

// ---------------------------------------------------------------------------
// Values whose Drop re-enters their channel
// ---------------------------------------------------------------------------

/// Where a [`Reenter`] finds its channel. Cleared at the end of a test so
/// that the channel can close.
type Home = Arc<Mutex<Option<Sender<Reenter>>>>;

/// A value that, when dropped, clones a sender of its channel, looks at the
/// channel and tries to send a leaf on it (each of which takes the
/// channel's lock); a leaf does nothing of the sort.
struct Reenter {
    home: Option<Home>,
    drops: Arc<AtomicUsize>,
}

impl Reenter {
    fn new(home: &Home, drops: &Arc<AtomicUsize>) -> Reenter {
        Reenter {
            home: Some(home.clone()),
            drops: drops.clone(),
        }
    }
}

impl Drop for Reenter {
    fn drop(&mut self) {
        let Some(home) = self.home.take() else {
            return;
        };
        self.drops.fetch_add(1, SeqCst);
        // The std mutex is the test's own; the clone locks the channel.
        let tx = home.lock().unwrap().clone();
        if let Some(tx) = tx {
            let _ = tx.len();
            let _ = tx.is_closed();
            // A full buffer or a closed channel gives the leaf back; it is
            // dropped here, doing nothing.
            let _ = tx.try_send(Reenter {
                home: None,
                drops: self.drops.clone(),
            });
        } // and dropping the clone locks the channel again
    }
}

/// A channel of [`Reenter`]s with room for `cap`, its home set, and a drop
/// counter.
fn reentrant(cap: usize) -> (Sender<Reenter>, Receiver<Reenter>, Home, Arc<AtomicUsize>) {
    let (tx, rx) = chan::<Reenter>(cap);
    let home: Home = Arc::new(Mutex::new(Some(tx.clone())));
    (tx, rx, home, Arc::new(AtomicUsize::new(0)))
}

/// A send future dropped while parked: in the channel's embedded waiter
/// (the first), and in a sudog of its own (the second).
#[test]
fn reentrant_drop_of_a_cancelled_send() {
    watchdog("cancelled send", || {
        let (tx, _rx, home, drops) = reentrant(0);
        {
            let mut first = pin!(tx.send(Reenter::new(&home, &drops)));
            let mut second = pin!(tx.send(Reenter::new(&home, &drops)));
            assert!(poll_once(first.as_mut()).is_pending());
            assert!(poll_once(second.as_mut()).is_pending());
        }
        assert_eq!(drops.load(SeqCst), 2);
        home.lock().unwrap().take();
    });
}

/// A select's send cases that did not win: one that only offered its value
/// (the select completed at once), and one whose value waited in its sudog
/// until the select completed through another case.
#[test]
fn reentrant_drop_of_a_losing_send_case() {
    watchdog("losing send case", || {
        let (tx, _rx, home, drops) = reentrant(0);
        let (other_tx, other_rx) = chan::<u32>(1);

        other_tx.try_send(1).unwrap();
        let got = futures::executor::block_on(async {
            gort::select! {
                _ = tx.send(Reenter::new(&home, &drops)) => None,
                v = other_rx.recv() => v,
            }
        });
        assert_eq!(got, Some(1));
        assert_eq!(drops.load(SeqCst), 1);

        let mut sel = pin!(async {
            gort::select! {
                _ = tx.send(Reenter::new(&home, &drops)) => None,
                v = other_rx.recv() => v,
            }
        });
        assert!(poll_once(sel.as_mut()).is_pending(), "nothing ready yet");
        other_tx.try_send(2).unwrap(); // commits the receive case
        assert_eq!(poll_once(sel.as_mut()), Poll::Ready(Some(2)));
        assert_eq!(drops.load(SeqCst), 2);
        home.lock().unwrap().take();
    });
}

/// A select parked on a send is dropped before any case commits.
#[test]
fn reentrant_drop_of_a_dropped_select() {
    watchdog("dropped select", || {
        let (tx, _rx, home, drops) = reentrant(0);
        let (_other_tx, other_rx) = chan::<u32>(0);
        {
            let mut sel = pin!(async {
                gort::select! {
                    _ = tx.send(Reenter::new(&home, &drops)) => {},
                    _ = other_rx.recv() => {},
                }
            });
            assert!(poll_once(sel.as_mut()).is_pending());
        }
        assert_eq!(drops.load(SeqCst), 1);
        home.lock().unwrap().take();
    });
}

/// The last receiver going drops the buffered values (whose drops fill the
/// buffer again with leaves), and gives a parked sender its value back.
#[test]
fn reentrant_drop_when_the_last_receiver_goes() {
    watchdog("last receiver", || {
        let (tx, rx, home, drops) = reentrant(2);
        for _ in 0..2 {
            assert!(tx.try_send(Reenter::new(&home, &drops)).is_ok());
        }
        let mut parked = pin!(tx.send(Reenter::new(&home, &drops)));
        assert!(
            poll_once(parked.as_mut()).is_pending(),
            "the buffer is full"
        );
        drop(rx);
        assert_eq!(drops.load(SeqCst), 2, "the buffered values");
        match poll_once(parked.as_mut()) {
            Poll::Ready(Err(SendError(v))) => drop(v),
            other => panic!("the parked send must fail: {:?}", other.is_ready()),
        }
        assert_eq!(drops.load(SeqCst), 3);
        home.lock().unwrap().take();
    });
}

/// Values given back: by `try_send` on a full channel, and to a select's
/// send case and a plain send parked when the channel closes.
#[test]
fn reentrant_drop_of_values_given_back() {
    watchdog("values given back", || {
        let (tx, rx, home, drops) = reentrant(1);
        assert!(tx.try_send(Reenter::new(&home, &drops)).is_ok());
        match tx.try_send(Reenter::new(&home, &drops)) {
            Err(TrySendError::Full(v)) => drop(v),
            _ => panic!("the buffer is full"),
        }
        assert_eq!(drops.load(SeqCst), 1);

        let (_idle_tx, idle_rx) = chan::<u32>(0);
        let mut sel = pin!(async {
            gort::select! {
                r = tx.send(Reenter::new(&home, &drops)) => r.map_err(|SendError(v)| drop(v)).is_err(),
                _ = idle_rx.recv() => false,
            }
        });
        let mut plain = pin!(tx.send(Reenter::new(&home, &drops)));
        assert!(poll_once(sel.as_mut()).is_pending());
        assert!(poll_once(plain.as_mut()).is_pending());
        assert!(rx.close());
        assert_eq!(poll_once(sel.as_mut()), Poll::Ready(true));
        match poll_once(plain.as_mut()) {
            Poll::Ready(Err(SendError(v))) => drop(v),
            _ => panic!("the parked send must get its value back"),
        }
        assert_eq!(drops.load(SeqCst), 3);
        // The buffered value is still there after the close; receiving it
        // and dropping it is the user's drop.
        drop(rx.try_recv().expect("closed channels drain"));
        assert_eq!(drops.load(SeqCst), 4);
        home.lock().unwrap().take();
    });
}
