//! The execution tracer's stop handshake (`exectrace/mod.rs`, design step
//! 4) as a protocol model on loom's atomics. `exectrace/` itself uses
//! `std`'s atomics (it is a leaf below the loom facade, and its ring's
//! `UnsafeCell`s are `std`'s), so this models the protocol rather than
//! running that code: the same operations, in the same order, with the
//! same orderings.
//!
//! - The poller (an M): reads the session (`poll_begin`'s relaxed load),
//!   publishes `in_poll = S` (SeqCst), polls, pushes its record (a relaxed
//!   flag here; in the ring, a slot published by `tail`), and clears
//!   `in_poll` with a Release store (`poll_end_slow`).
//! - `stop`: stores `STATE = 0` (SeqCst), then waits while `in_poll == S`
//!   (Acquire loads), then drains.
//!
//! What it proves: a poll that `stop` sees in flight is in the drain (the
//! Release clear and the Acquire load that reads it carry the record), and
//! the wait always ends. What it does not: that a poll which began just
//! before `stop`'s store is recorded (the design lets that one go, as a
//! leftover the next session drops). Clearing `in_poll` before pushing
//! the record makes loom find a drain without it (checked by hand). Loom
//! does not explore every weak-memory outcome: with the clear weakened to
//! Relaxed it still passes, so the Release/Acquire pair itself rests on
//! its comments in `exectrace/mod.rs`.

use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use loom::sync::Arc;
use loom::thread;

/// The session being stopped.
const S: u64 = 1;

#[test]
fn loom_trace_stop_drains_the_poll_it_waited_for() {
    loom::model(|| {
        let state = Arc::new(AtomicU64::new(S));
        let in_poll = Arc::new(AtomicU64::new(0));
        let recorded = Arc::new(AtomicBool::new(false));
        let poller = {
            let (state, in_poll, recorded) = (state.clone(), in_poll.clone(), recorded.clone());
            thread::spawn(move || {
                if state.load(Relaxed) == S {
                    in_poll.store(S, SeqCst);
                    // The poll runs; then its record is pushed.
                    recorded.store(true, Relaxed);
                    in_poll.store(0, Release);
                }
            })
        };
        state.store(0, SeqCst);
        let mut waited = false;
        while in_poll.load(Acquire) == S {
            waited = true;
            thread::yield_now();
        }
        if waited {
            assert!(
                recorded.load(Relaxed),
                "stop drained before the record it waited for"
            );
        }
        poller.join().unwrap();
    });
}
