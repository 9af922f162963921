//! `block_on`: the calling thread polls a future itself, parking between
//! polls, as Go's main goroutine runs `main.main`.
//!
//! The thread is not an M and holds no P; tasks it wakes go to the global
//! queue. Its future is [`MainTask`] to the rest of the runtime: wakers
//! point at it, the dump lists it as `goroutine 0`, and it is registered in
//! `Shared::mains` while the call lasts.
//!
//! With the deadlock detector on, the park has a deadline: every
//! [`deadlock::CHECK`] without a wake-up, the thread asks
//! [`deadlock::quiescent`], and panics with Go's message and the dump when
//! two answers a `CHECK` apart both say nothing can wake anything, with the
//! same activity in between. A test timeout (`#[gort::test(timeout)]`) is a
//! second deadline of the same park, not a timer: it never counts as
//! pending work for the detector.

use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::handle::Handle;
use super::{context, deadlock, Shared};
use crate::task::{main_waker, MainTask};

/// A deadline for the whole call, and the text its panic quotes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) deadline: Instant,
    pub(crate) text: &'static str,
}

/// Registers `main` in `Shared::mains` until dropped.
struct Registered<'a> {
    shared: &'a Shared,
    main: &'a Arc<MainTask>,
}

impl<'a> Registered<'a> {
    fn new(shared: &'a Shared, main: &'a Arc<MainTask>) -> Registered<'a> {
        crate::loom::lock(&shared.mains).push(main.clone());
        Registered { shared, main }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut mains = crate::loom::lock(&self.shared.mains);
        if let Some(i) = mains.iter().position(|m| Arc::ptr_eq(m, self.main)) {
            mains.swap_remove(i);
        }
    }
}

/// Polls `future` on this thread until it is ready (module doc).
///
/// # Panics
///
/// On an M of a runtime (inside a task); on a deadlock, with the detector
/// on; past `limit`.
pub(crate) fn block_on<F: IntoFuture>(
    handle: &Handle,
    future: F,
    location: &'static Location<'static>,
    limit: Option<Limit>,
) -> F::Output {
    if context::with_worker(|w| w.is_some_and(|w| w.current_p().is_some())) {
        panic!("block_on called from inside a gort task; use .await instead");
    }
    let shared = &*handle.shared;
    let _enter = context::enter(handle.to_internal());
    let main = Arc::new(MainTask::new(location));
    let _registered = Registered::new(shared, &main);
    let mut fut = pin!(future.into_future());
    if shared.bubble.is_some() {
        return bubble_loop(handle, &main, fut.as_mut(), limit);
    }
    let waker = main_waker(&main);
    let mut cx = Context::from_waker(&waker);
    let detect = shared.config.detect_deadlock;
    loop {
        let polling = crate::task::current_enter(&main.wait_reason);
        let polled = fut.as_mut().poll(&mut cx);
        drop(polling);
        crate::exectrace::between_polls();
        if let Poll::Ready(v) = polled {
            return v;
        }
        if !detect && limit.is_none() {
            main.park();
            continue;
        }
        let mut suspect: Option<u64> = None;
        loop {
            let now = Instant::now();
            let mut until = limit.map_or(now + deadlock::CHECK, |l| l.deadline);
            if detect {
                until = until.min(now + deadlock::CHECK);
            }
            if main.park_until(until) {
                break;
            }
            if let Some(l) = limit {
                if Instant::now() >= l.deadline {
                    panic!("test timed out after {}\n\n{}", l.text, shared.dump());
                }
            }
            if !detect {
                continue;
            }
            match (deadlock::quiescent(shared, &main), suspect) {
                (Some(a), Some(b)) if a == b => {
                    panic!("all goroutines are asleep - deadlock!\n\n{}", shared.dump())
                }
                (seen, _) => suspect = seen,
            }
        }
    }
}

/// `block_on` on a synctest bubble: this thread is the bubble's monitor
/// (`bubble.rs`). Returns once the future has returned and every task of
/// the bubble has finished, as Go's `synctest.Test`; panics when the
/// bubble is durably blocked with no timer pending.
fn bubble_loop<T>(
    handle: &Handle,
    main: &Arc<MainTask>,
    mut fut: std::pin::Pin<&mut impl Future<Output = T>>,
    limit: Option<Limit>,
) -> T {
    let shared = &handle.shared;
    let bubble = shared.bubble.as_deref().expect("a bubble");
    struct Monitor<'a>(&'a super::bubble::Bubble);
    impl Drop for Monitor<'_> {
        fn drop(&mut self) {
            self.0.set_monitor(None);
        }
    }
    bubble.set_monitor(Some(std::thread::current()));
    let _monitor = Monitor(bubble);
    let waker = main_waker(main);
    let mut cx = Context::from_waker(&waker);
    let mut out: Option<T> = None;
    let mut poll = true;
    // The first sighting of a stuck bubble: its activity and when.
    let mut suspect: Option<(u64, Instant)> = None;
    loop {
        if poll && out.is_none() {
            let polling = crate::task::current_enter(&main.wait_reason);
            let polled = fut.as_mut().poll(&mut cx);
            drop(polling);
            crate::exectrace::between_polls();
            if let Poll::Ready(v) = polled {
                out = Some(v);
            }
        }
        if let Some(v) = out.take_if(|_| shared.owned.len() == 0) {
            return v;
        }
        let live_main = out.is_none().then_some(main);
        match bubble.step(shared, live_main) {
            super::bubble::Step::Released | super::bubble::Step::Advanced => {
                suspect = None;
                poll = main.take_notified();
                continue;
            }
            super::bubble::Step::Busy => suspect = None,
            super::bubble::Step::Stuck(seen) => match suspect {
                Some((s, at)) if s == seen && at.elapsed() >= deadlock::CHECK => {
                    let why = if out.is_some() {
                        "main bubble goroutine has exited but blocked goroutines remain"
                    } else {
                        "all goroutines in the bubble are durably blocked and no timer is pending"
                    };
                    panic!(
                        "all goroutines are asleep - deadlock! ({why})\n\n{}",
                        shared.dump()
                    )
                }
                Some((s, _)) if s == seen => {}
                _ => suspect = Some((seen, Instant::now())),
            },
        }
        // Park until the future is woken, an M kicks, or a CHECK passes.
        let now = Instant::now();
        let until = limit.map_or(now + deadlock::CHECK, |l| {
            l.deadline.min(now + deadlock::CHECK)
        });
        loop {
            if main.is_notified() || bubble.take_kick() {
                break;
            }
            let now = Instant::now();
            if now >= until {
                break;
            }
            std::thread::park_timeout(until - now);
        }
        if let Some(l) = limit {
            if Instant::now() >= l.deadline {
                panic!("test timed out after {}\n\n{}", l.text, shared.dump());
            }
        }
        poll = main.take_notified();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::task::{Poll, Waker};

    /// The shape of the TSan report that state.rs invariant 7 answers: the
    /// `block_on` thread (a thread outside the runtime) wakes a detached
    /// task by value while an M runs it to completion and frees its cell.
    /// Under Miri every access of the wake-up's push is checked against
    /// that free. Miri runs it under Tree Borrows only (`.ci/run`):
    /// crossbeam-epoch, under the run queues, fails Stacked Borrows in its
    /// intrusive list, and its global collector outlives the test.
    #[test]
    #[cfg_attr(miri, ignore = "run by .ci/run with -Zmiri-tree-borrows")]
    fn a_foreign_wake_by_value_racing_completion() {
        let rt = crate::Builder::new().procs(2).build().unwrap();
        let rounds = if cfg!(miri) { 4 } else { 200 };
        for _ in 0..rounds {
            rt.block_on(async {
                let slot: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
                let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let (slot2, done2) = (slot.clone(), done.clone());
                let mut first = true;
                drop(crate::spawn(std::future::poll_fn(move |cx| {
                    if first {
                        first = false;
                        *slot2.lock().unwrap() = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    done2.store(true, std::sync::atomic::Ordering::SeqCst);
                    Poll::Ready(())
                })));
                let waker = loop {
                    if let Some(w) = slot.lock().unwrap().take() {
                        break w;
                    }
                    crate::yield_now().await;
                };
                waker.wake();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    crate::yield_now().await;
                }
            });
        }
    }
}
