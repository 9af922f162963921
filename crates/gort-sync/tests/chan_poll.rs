//! Poll-level tests of the channel futures with tokio-test: registration,
//! wake-ups, and what dropping a pending future does.

use gort_sync::{chan, SendError};
use tokio_test::task::spawn;
use tokio_test::{assert_pending, assert_ready, assert_ready_eq};

#[test]
fn pending_recv_registers_and_send_wakes_it() {
    let (tx, rx) = chan::<u32>(0);
    let mut recv = spawn(rx.recv());
    assert_pending!(recv.poll());
    assert!(!recv.is_woken());
    // The receiver waits, so an unbuffered try_send succeeds.
    tx.try_send(5).unwrap();
    assert!(recv.is_woken());
    assert_ready_eq!(recv.poll(), Some(5));
}

#[test]
fn send_wakes_exactly_the_first_waiter() {
    let (tx, rx) = chan::<u32>(0);
    let mut r1 = spawn(rx.recv());
    let mut r2 = spawn(rx.recv());
    assert_pending!(r1.poll());
    assert_pending!(r2.poll());
    tx.try_send(1).unwrap();
    assert!(r1.is_woken());
    assert!(!r2.is_woken());
    assert_ready_eq!(r1.poll(), Some(1));
    assert_pending!(r2.poll());
}

#[test]
fn dropped_pending_recv_deregisters_and_loses_nothing() {
    let (tx, rx) = chan::<u32>(0);
    let mut r1 = spawn(rx.recv());
    assert_pending!(r1.poll());
    drop(r1);
    // No receiver is waiting any more: an unbuffered try_send must fail.
    assert!(tx.try_send(1).unwrap_err().is_full());
    let mut r2 = spawn(rx.recv());
    assert_pending!(r2.poll());
    tx.try_send(2).unwrap();
    assert_ready_eq!(r2.poll(), Some(2));
}

#[test]
fn recv_dropped_after_commit_hands_the_value_back() {
    let (tx, rx) = chan::<u32>(0);
    let mut r1 = spawn(rx.recv());
    assert_pending!(r1.poll());
    tx.try_send(7).unwrap(); // committed into r1's waiter
    drop(r1); // never polled again
    assert_eq!(rx.try_recv(), Ok(7), "the value came back to the channel");
}

#[test]
fn pending_send_woken_by_receive_and_by_close() {
    let (tx, rx) = chan::<u32>(0);
    let mut s = spawn(tx.send(3));
    assert_pending!(s.poll());
    assert_eq!(rx.try_recv(), Ok(3));
    assert!(s.is_woken());
    assert_ready!(s.poll()).unwrap();

    let mut s = spawn(tx.send(4));
    assert_pending!(s.poll());
    assert!(rx.close());
    assert!(s.is_woken());
    assert_eq!(assert_ready!(s.poll()), Err(SendError(4)));
}

#[test]
fn dropped_pending_send_delivers_nothing() {
    let (tx, rx) = chan::<u32>(0);
    let mut s = spawn(tx.send(9));
    assert_pending!(s.poll());
    drop(s);
    assert_eq!(rx.try_recv(), Err(gort_sync::TryRecvError::Empty));
}

#[test]
fn buffered_full_send_waits_for_room() {
    let (tx, rx) = chan::<u32>(1);
    tx.try_send(1).unwrap();
    let mut s = spawn(tx.send(2));
    assert_pending!(s.poll());
    assert_eq!(rx.try_recv(), Ok(1));
    // The waiting sender's value moved into the buffer behind it.
    assert!(s.is_woken());
    assert_ready!(s.poll()).unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}
