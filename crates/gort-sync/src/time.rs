//! Go's `time.After`: a timer that delivers on a channel; and
//! `time.AfterFunc`: a timer that runs a function in a task of its own.

use std::fmt;
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

/// Runs `f` in its own task once `d` has passed (Go's `time.AfterFunc`).
/// The returned [`FuncTimer`] stops or re-arms it; dropping it does not
/// (as in Go, the timer fires whether or not anyone keeps the value).
///
/// No task waits meanwhile: the runtime's timer holds `f`, and spawns the
/// task that runs it when it fires, so an armed `after_func` is not a live
/// task for `check_leaks`, and costs a timer, not a task.
///
/// # Panics
///
/// Outside a gort runtime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gort_core::time::now;
///
/// gort_core::synctest::run(async {
///     let t0 = now();
///     let (tx, rx) = gort_sync::chan::chan(1);
///     let t = gort_sync::time::after_func(Duration::from_secs(5), move || {
///         tx.try_send(now() - t0).unwrap();
///     });
///     assert_eq!(rx.recv().await, Some(Duration::from_secs(5)));
///     assert!(!t.stop(), "already fired");
///     assert!(!t.reset(Duration::from_secs(1)), "f is FnOnce: nothing to re-arm");
/// });
/// ```
pub fn after_func(d: Duration, f: impl FnOnce() + Send + 'static) -> FuncTimer {
    let inner = Arc::new(FuncInner {
        state: Mutex::new(FuncState {
            f: Some(Box::new(f)),
            generation: 0,
            armed: true,
            sleep: None,
        }),
    });
    let now_due = {
        let mut s = inner.lock();
        inner.arm(&mut s, d)
    };
    if now_due {
        inner.fire(0);
    }
    FuncTimer { inner }
}

/// The timer of an [`after_func`], with Go 1.23's `Stop` and `Reset`.
///
/// # Differences from Go
///
/// `f` is `FnOnce`: once it has run (or begun to), `reset` returns false
/// and arms nothing, where Go's `Reset` would run `f` again.
pub struct FuncTimer {
    inner: Arc<FuncInner>,
}

impl fmt::Debug for FuncTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.inner.lock();
        f.debug_struct("FuncTimer")
            .field("armed", &s.armed)
            .field("ran", &s.f.is_none())
            .finish()
    }
}

impl FuncTimer {
    /// Stops the timer: true if this call stopped it before `f` began,
    /// false if it had fired already or was stopped.
    pub fn stop(&self) -> bool {
        let (was, sleep) = {
            let mut s = self.inner.lock();
            let was = std::mem::replace(&mut s.armed, false);
            s.generation += 1;
            (was, s.sleep.take())
        };
        drop(sleep); // cancels the pending timer, outside the lock
        was
    }

    /// Re-arms the timer to run `f` `d` from now: true if it was armed
    /// (this call moved it), false if it was stopped (it is armed now) or
    /// `f` has already run (nothing is armed).
    pub fn reset(&self, d: Duration) -> bool {
        let (was, old, generation, now_due) = {
            let mut s = self.inner.lock();
            if s.f.is_none() {
                return false;
            }
            let was = std::mem::replace(&mut s.armed, true);
            s.generation += 1;
            let old = s.sleep.take();
            let now_due = self.inner.arm(&mut s, d);
            (was, old, s.generation, now_due)
        };
        drop(old);
        if now_due {
            self.inner.fire(generation);
        }
        was
    }
}

struct FuncInner {
    state: Mutex<FuncState>,
}

struct FuncState {
    /// `None` once taken to run.
    f: Option<Box<dyn FnOnce() + Send>>,
    /// Bumped by every `stop` and `reset`: a firing of an older arming
    /// finds it changed and does nothing (Go 1.23's "no stale fire").
    generation: u64,
    armed: bool,
    /// The pending timer (dropping it stops it).
    sleep: Option<Sleep>,
}

/// The waker the timer wakes: fires the arming it was made for.
struct FuncFire {
    inner: Arc<FuncInner>,
    generation: u64,
}

impl Wake for FuncFire {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.inner.fire(self.generation);
    }
}

impl FuncInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, FuncState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms the timer for `d` from now, for the current generation, with
    /// `s` locked. Returns true if it is due already (the caller fires
    /// once it has let go of the lock).
    fn arm(self: &Arc<Self>, s: &mut FuncState, d: Duration) -> bool {
        let waker = Waker::from(Arc::new(FuncFire {
            inner: self.clone(),
            generation: s.generation,
        }));
        let mut sleep = gort_core::time::sleep(d);
        // `poll_elapsed` never wakes synchronously, so the waker cannot run
        // (and take the lock we hold) on this thread.
        if sleep
            .poll_elapsed(&mut Context::from_waker(&waker))
            .is_ready()
        {
            return true;
        }
        s.sleep = Some(sleep);
        false
    }

    /// The timer of arming `generation` fired: if that arming is still the
    /// current one, take `f` and run it in a task of its own.
    fn fire(&self, generation: u64) {
        let (f, sleep) = {
            let mut s = self.lock();
            if s.generation != generation || !s.armed {
                return;
            }
            s.armed = false;
            (s.f.take(), s.sleep.take())
        };
        drop(sleep);
        let Some(f) = f else { return };
        // The timer fires on an M or the `block_on` thread, both inside
        // the runtime; a firing elsewhere (none is known) runs `f` in place
        // rather than lose it.
        match gort_core::Handle::try_current() {
            Some(h) => drop(h.spawn(async move { f() })),
            None => f(),
        }
    }
}
