//! Single-threaded tests that drive every unsafe slot access (a receive
//! parked and completed, a send parked and taken, hand-back after a commit,
//! select cases committed and dropped); run under Miri in CI.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use super::{chan, SendError, TryRecvError};
use crate::select::{kind::IntoChanCase, map, Case, Select, Selected};

fn cx() -> Context<'static> {
    Context::from_waker(futures::task::noop_waker_ref())
}

#[test]
fn parked_recv_completed_by_send() {
    let (tx, rx) = chan::<String>(0);
    let mut r = pin!(rx.recv());
    assert!(r.as_mut().poll(&mut cx()).is_pending());
    tx.try_send("a".into()).unwrap();
    assert_eq!(r.as_mut().poll(&mut cx()), Poll::Ready(Some("a".into())));
}

#[test]
fn parked_send_taken_by_recv_and_closed() {
    let (tx, rx) = chan::<String>(0);
    {
        let mut s = pin!(tx.send("b".into()));
        assert!(s.as_mut().poll(&mut cx()).is_pending());
        assert_eq!(rx.try_recv(), Ok("b".into()));
        assert_eq!(s.as_mut().poll(&mut cx()), Poll::Ready(Ok(())));
    }
    let mut s = pin!(tx.send("c".into()));
    assert!(s.as_mut().poll(&mut cx()).is_pending());
    rx.close();
    assert_eq!(
        s.as_mut().poll(&mut cx()),
        Poll::Ready(Err(SendError("c".into())))
    );
}

#[test]
fn hand_back_after_commit() {
    let (tx, rx) = chan::<Box<u32>>(0);
    {
        let mut r = pin!(rx.recv());
        assert!(r.as_mut().poll(&mut cx()).is_pending());
        tx.try_send(Box::new(5)).unwrap();
    }
    assert_eq!(rx.try_recv(), Ok(Box::new(5)));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn dropped_parked_send_drops_its_value() {
    let (tx, rx) = chan::<Box<u32>>(0);
    {
        let mut s = pin!(tx.send(Box::new(1)));
        assert!(s.as_mut().poll(&mut cx()).is_pending());
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn select_committed_by_peer_then_dropped_cases() {
    let (tx1, rx1) = chan::<Box<u32>>(0);
    let (tx2, rx2) = chan::<Box<u32>>(0);
    let mut sel = Select::new();
    let mut c0 = Some(map(rx1.recv().into_chan_case(), |v| v));
    let mut c1 = Some(map(
        tx2.send(Box::new(7)).into_chan_case(),
        |r: Result<(), SendError<Box<u32>>>| r.ok().map(|()| Box::new(0)),
    ));
    {
        let cases: &mut [&mut dyn Case<Option<Box<u32>>>] = &mut [&mut c0, &mut c1];
        assert!(sel.poll(&mut cx(), cases, false).is_pending());
    }
    tx1.try_send(Box::new(3)).unwrap(); // commits case 0
    assert!(rx2.try_recv().is_err(), "case 1 cannot commit any more");
    {
        let cases: &mut [&mut dyn Case<Option<Box<u32>>>] = &mut [&mut c0, &mut c1];
        match sel.poll(&mut cx(), cases, false) {
            Poll::Ready(Selected::Case(0, Some(v))) => assert_eq!(*v, 3),
            _ => panic!("case 0 was committed"),
        }
    }
    drop((c0, c1));
}

#[test]
fn select_dropped_after_commit_hands_back() {
    let (tx, rx) = chan::<Box<u32>>(0);
    let mut sel = Select::new();
    let mut c0 = Some(map(rx.recv().into_chan_case(), |v| v));
    {
        let cases: &mut [&mut dyn Case<Option<Box<u32>>>] = &mut [&mut c0];
        assert!(sel.poll(&mut cx(), cases, false).is_pending());
    }
    tx.try_send(Box::new(4)).unwrap();
    drop(c0);
    assert_eq!(rx.try_recv(), Ok(Box::new(4)));
}

/// The first waiter of a channel uses its embedded waiter, the second a
/// sudog of its own: both complete in FIFO order, and a dropped one of
/// each kind hands its committed value back.
#[test]
fn second_plain_waiter_gets_a_sudog() {
    let (tx, rx) = chan::<String>(0);
    let mut r1 = pin!(rx.recv());
    let mut r2 = pin!(rx.recv());
    assert!(r1.as_mut().poll(&mut cx()).is_pending()); // embedded
    assert!(r2.as_mut().poll(&mut cx()).is_pending()); // sudog
    tx.try_send("1".into()).unwrap();
    tx.try_send("2".into()).unwrap();
    assert_eq!(
        tx.try_send("3".into()),
        Err(super::TrySendError::Full("3".into()))
    );
    assert_eq!(r2.as_mut().poll(&mut cx()), Poll::Ready(Some("2".into())));
    assert_eq!(r1.as_mut().poll(&mut cx()), Poll::Ready(Some("1".into())));

    {
        let mut s1 = pin!(tx.send("a".into()));
        let mut s2 = pin!(tx.send("b".into()));
        assert!(s1.as_mut().poll(&mut cx()).is_pending());
        assert!(s2.as_mut().poll(&mut cx()).is_pending());
        assert_eq!(rx.try_recv(), Ok("a".into()));
        assert_eq!(s1.as_mut().poll(&mut cx()), Poll::Ready(Ok(())));
        // s2 (a sudog) dropped still waiting: its value goes with it.
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    {
        let mut r1 = pin!(rx.recv());
        let mut r2 = pin!(rx.recv());
        assert!(r1.as_mut().poll(&mut cx()).is_pending());
        assert!(r2.as_mut().poll(&mut cx()).is_pending());
        tx.try_send("x".into()).unwrap();
        tx.try_send("y".into()).unwrap();
        // Both dropped after their commits: both values handed back.
    }
    let mut got = [rx.try_recv().unwrap(), rx.try_recv().unwrap()];
    got.sort();
    assert_eq!(got, ["x".to_string(), "y".to_string()]);
}

/// A receive parked through `Stream` on a channel that closes, and a
/// parked send (embedded waiter) given its value back by the close.
#[test]
fn embedded_waiter_released_by_close() {
    let (tx, rx) = chan::<Box<u32>>(0);
    let mut s = pin!(tx.send(Box::new(9)));
    assert!(s.as_mut().poll(&mut cx()).is_pending());
    let mut r = pin!(rx.recv());
    assert_eq!(r.as_mut().poll(&mut cx()), Poll::Ready(Some(Box::new(9))));
    assert_eq!(s.as_mut().poll(&mut cx()), Poll::Ready(Ok(())));
    let mut r = pin!(rx.recv());
    assert!(r.as_mut().poll(&mut cx()).is_pending());
    assert!(
        r.as_mut().poll(&mut cx()).is_pending(),
        "polled again, still waiting"
    );
    tx.close();
    assert_eq!(r.as_mut().poll(&mut cx()), Poll::Ready(None));
}

/// Where a parked task's channel bytes go (64-bit targets): the channel
/// with its embedded waiter and two inline wait queues fits in a 128-byte
/// allocation with the `Arc` counts, and a parked receive needs no other.
#[test]
#[cfg(target_pointer_width = "64")]
fn channel_sizes() {
    use std::mem::size_of;
    assert_eq!(size_of::<super::waitq::WaitQ<()>>(), 16);
    assert!(
        size_of::<super::Chan<()>>() <= 120,
        "{}",
        size_of::<super::Chan<()>>()
    );
}
