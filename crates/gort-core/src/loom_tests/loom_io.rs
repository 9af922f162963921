//! The readiness protocol of `io::PollDesc`: an event racing a task's
//! registration (no lost wake-up), and a clear racing a newer event (the
//! newer readiness is kept).

use std::sync::Arc;
use std::task::{Context, Poll};

use loom::future::block_on;
use loom::thread;

use crate::io::{Direction, PollDesc};

const READABLE: usize = 1;

/// A task that saw "not ready" and is registering races the poller's
/// event: it either sees the readiness on its re-read, or is woken.
#[test]
fn loom_io_event_vs_registration() {
    loom::model(|| {
        let desc = Arc::new(PollDesc::new(0));
        let d = desc.clone();
        let poller = thread::spawn(move || d.add_bits(READABLE));
        let got = block_on(std::future::poll_fn(|cx| {
            desc.poll_ready(Direction::Read, cx)
        }));
        assert!(got.is_ok());
        poller.join().unwrap();
    });
}

/// A task clearing the readiness it consumed (after `WouldBlock`) races a
/// new event: if the event came after the read, the clear must not erase
/// it, so the task does not sleep on data that is there.
#[test]
fn loom_io_clear_vs_new_event() {
    loom::model(|| {
        let desc = Arc::new(PollDesc::new(0));
        desc.add_bits(READABLE);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(Ok(ev)) = desc.poll_ready(Direction::Read, &mut cx) else {
            panic!("ready after the first event");
        };
        let d = desc.clone();
        let poller = thread::spawn(move || d.add_bits(READABLE));
        // The operation "returned WouldBlock" for the first event.
        desc.clear_readiness(ev);
        poller.join().unwrap();
        // The second event's readiness survives whichever order.
        assert!(matches!(
            desc.poll_ready(Direction::Read, &mut cx),
            Poll::Ready(Ok(_))
        ));
    });
}

/// Two pollers deliver events for one descriptor at once (the poller
/// dispatches its batch after releasing the set, so batches taken one
/// after the other may be delivered in either order, `io/poller.rs`):
/// the waiting task is woken whichever lands first, and a task that
/// consumed one event and cleared it still sees the other if that came
/// after its read.
#[test]
fn loom_io_two_pollers_deliver_at_once() {
    loom::model(|| {
        let desc = Arc::new(PollDesc::new(0));
        let pollers: Vec<_> = (0..2)
            .map(|_| {
                let d = desc.clone();
                thread::spawn(move || d.add_bits(READABLE))
            })
            .collect();
        let ev = block_on(std::future::poll_fn(|cx| {
            desc.poll_ready(Direction::Read, cx)
        }))
        .expect("not closed");
        // The read "returned WouldBlock" for what the task saw.
        desc.clear_readiness(ev);
        for p in pollers {
            p.join().unwrap();
        }
        // The observed tick counts the deliveries the task's read covered:
        // with one, the other came after the read and must survive the
        // clear; with both, the clear may drop them (the read took their
        // data).
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let after = desc.poll_ready(Direction::Read, &mut cx);
        match ev.tick {
            1 => assert!(
                matches!(after, Poll::Ready(Ok(_))),
                "a later delivery was lost"
            ),
            2 => assert!(after.is_pending(), "the clear kept what the read took"),
            t => panic!("tick {t} after two deliveries"),
        }
    });
}
