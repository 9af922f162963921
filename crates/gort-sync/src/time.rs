//! Go's `time.After` and `time.Tick`: timers that deliver on a channel.

use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use gort_core::time::Sleep;

use crate::chan::{chan_kept_open, Receiver, Sender};

/// A channel that receives the current time once, after `d` (Go's
/// `time.After`). Usable as a `select!` case: `_ = gort::time::after(d) =>`.
///
/// No task is spawned: the runtime's timer sends on the channel when it
/// fires (the channel has room for the one value). As in Go the channel is
/// never closed: a second receive waits. Dropping the receiver early leaves
/// the timer to fire into a channel nobody reads, which costs nothing else.
///
/// # Panics
///
/// Outside a gort runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let at = gort_sync::time::after(Duration::from_millis(2)).await;
///     assert!(at.is_some());
/// });
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = chan_kept_open(1);
    arm(gort_core::time::sleep(d), tx);
    rx
}

/// Fires `sleep` into `tx`: the sleep is polled once with a waker that owns
/// it, so the timer keeps it alive until it fires.
fn arm(sleep: Sleep, tx: Sender<Instant>) {
    struct Fire {
        tx: Sender<Instant>,
        sleep: Mutex<Option<Sleep>>,
    }
    impl Wake for Fire {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            // Drop the sleep (and with it the timer's reference to us).
            let sleep = self.sleep.lock().unwrap_or_else(|e| e.into_inner()).take();
            if sleep.is_some() {
                let _ = self.tx.try_send(gort_core::time::now());
            }
        }
    }
    let fire = Arc::new(Fire {
        tx,
        sleep: Mutex::new(None),
    });
    let waker = Waker::from(fire.clone());
    let mut sleep = sleep;
    // Hold the slot while registering: a timer firing on another M between
    // the registration and the store would otherwise find the slot empty
    // and deliver nothing. (`poll_elapsed` never wakes synchronously, so
    // the waker cannot run on this thread while we hold the lock.)
    let mut slot = fire.sleep.lock().unwrap_or_else(|e| e.into_inner());
    if sleep
        .poll_elapsed(&mut Context::from_waker(&waker))
        .is_ready()
    {
        drop(slot);
        let _ = fire.tx.try_send(gort_core::time::now());
        return;
    }
    *slot = Some(sleep);
}
