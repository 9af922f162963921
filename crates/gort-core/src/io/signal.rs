//! Unix signals on the netpoller (the engine under `gort::signal`, Go's
//! `os/signal`): a low-level subscription API, [`subscribe`], that calls a
//! function for each signal that arrives, and the `#[gort::main]` SIGQUIT
//! watcher.
//!
//! # How a signal travels
//!
//! 1. Each subscription owns a `signal_hook_mio::v1_0::Signals`:
//!    signal-hook's async-signal-safe handler writes the signal into a
//!    self-pipe of that subscription (signal-hook runs every registered
//!    action, so each subscription gets every signal it asked for, as Go
//!    delivers to every channel passed to `Notify`).
//! 2. The pipe's read end is registered in the netpoller of the runtime
//!    that called [`subscribe`] as a *hook* (`poller.rs`, "Hooks"): no
//!    task and no thread waits for it. An M blocked in the netpoller (the
//!    holder, or parking step 4) wakes for it; registering counts as a
//!    source, and [`subscribe`] kicks a sleeping M or starts one, so that
//!    an idle runtime has an M in the poll (as `Registration::new` does).
//! 3. The poller runs the hook on its thread: it drains the pipe
//!    (signal-hook coalesces, so a signal raised several times before the
//!    drain is seen once, as the kernel's pending set does) and calls the
//!    subscription's `deliver` for each signal. `deliver` must not block:
//!    gort's `notify` does a `try_send` on a channel of capacity 1 and
//!    drops the signal when the channel is full, as Go does.
//!
//! # Restoring the default action
//!
//! signal-hook never puts the default action back (unregistering leaves its
//! handler installed, and a signal nobody waits for is then ignored). So,
//! per signal, a process-global count of live subscriptions, and once per
//! signal, at its first subscription, `signal_hook::flag::
//! register_conditional_default` with a flag that is true while the count
//! is 0: with no subscription, the handler itself runs the default action
//! (terminate, ignore, stop...).
//!
//! A subscription ends when its `deliver` returns [`Delivery::Gone`] (the
//! facade's: every `Receiver` is gone, or a context's stop was called), or
//! when its runtime shuts down. The first is only seen when a signal comes
//! for it: the count still included it when the handler ran, so the
//! conditional default did not fire. Then, if that subscription was the
//! last for the signal, the hook runs the default action itself
//! (`signal_hook::low_level::emulate_default_handler`: resets the
//! disposition and re-raises a terminating signal), so what the process
//! observes is the same as if the default had been restored at the drop: a
//! SIGUSR1 after the last receiver is dropped kills it.
//!
//! # Process-wide signals, several runtimes
//!
//! Signals are per process; runtimes are several. A subscription belongs to
//! the runtime that was current when it was made, and only that runtime's
//! netpoller watches its pipe. Several runtimes with subscribers each get
//! every signal their subscriptions asked for (each pipe gets its copy).
//! When a runtime shuts down, its subscriptions end: their `deliver`
//! functions are dropped (the facade's channel closes, so `recv` returns
//! `None` after any buffered signal, and `ctrl_c` fails with
//! `RuntimeShutdown`), and the counts drop with them, so with no other
//! subscription the default action is back.
//!
//! # SIGQUIT under `#[gort::main]`
//!
//! Go's runtime answers SIGQUIT by printing `SIGQUIT: quit` and every
//! goroutine's stack, then exiting with status 2, unless the program asked
//! for SIGQUIT through `signal.Notify`. `#[gort::main]` calls
//! [`install_sigquit_dump`]: an *internal* subscription (a hook the
//! deadlock detector does not count, no task, nothing that keeps the
//! runtime from shutting down) whose `deliver` prints `SIGQUIT: quit` and
//! the runtime's dump to stderr and exits with status 2, when no user
//! subscription for SIGQUIT is live. A user subscription whose receivers
//! are gone hands the signal back to it (the "default action" of SIGQUIT
//! while the watcher lives).
//!
//! # Deadlock detector
//!
//! A user subscription is a registered source, so the detector stays quiet
//! while one is live: a signal may still come, as Go's `checkdead` knows
//! of the signal-handling goroutine. The SIGQUIT watcher is internal and
//! does not count.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use mio::Interest;
use signal_hook::consts::signal as raw;
use signal_hook_mio::v1_0::Signals;

use super::poller::{Hook, Poller};
use super::NoRuntime;
use crate::sched::handle::Handle;
use crate::sched::Shared;

/// The signals gort lets a program ask for (the Unix ones Go programs
/// commonly `Notify` for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// `SIGINT` (Go's `os.Interrupt`): Ctrl-C at a terminal.
    Interrupt,
    /// `SIGTERM` (`syscall.SIGTERM`): a polite request to stop.
    Terminate,
    /// `SIGHUP`: the terminal went away; by convention, reload.
    Hangup,
    /// `SIGQUIT`: Ctrl-\ at a terminal; under `#[gort::main]`, a goroutine
    /// dump and exit status 2 unless asked for.
    Quit,
    /// `SIGUSR1`.
    User1,
    /// `SIGUSR2`.
    User2,
    /// `SIGCHLD`: a child process stopped or exited (ignored by default).
    Child,
}

impl Signal {
    /// Every signal of the enum, in declaration order (what an empty list
    /// passed to [`subscribe`] asks for, as `signal.Notify(c)` with no
    /// signals relays all of them).
    pub const ALL: [Signal; 7] = [
        Signal::Interrupt,
        Signal::Terminate,
        Signal::Hangup,
        Signal::Quit,
        Signal::User1,
        Signal::User2,
        Signal::Child,
    ];

    /// The signal's number on this platform (`libc::SIGINT`...).
    ///
    /// ```
    /// use gort_core::io::signal::Signal;
    /// assert_eq!(Signal::from_raw(Signal::User1.as_raw()), Some(Signal::User1));
    /// ```
    pub fn as_raw(self) -> i32 {
        match self {
            Signal::Interrupt => raw::SIGINT,
            Signal::Terminate => raw::SIGTERM,
            Signal::Hangup => raw::SIGHUP,
            Signal::Quit => raw::SIGQUIT,
            Signal::User1 => raw::SIGUSR1,
            Signal::User2 => raw::SIGUSR2,
            Signal::Child => raw::SIGCHLD,
        }
    }

    /// The signal with number `n`, if it is one of the enum's.
    pub fn from_raw(n: i32) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.as_raw() == n)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Signal {
    /// Go's `Signal.String()`: `interrupt`, `terminated`, `hangup`,
    /// `quit`, `user defined signal 1`, `user defined signal 2`, `child
    /// exited`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "interrupt",
            Signal::Terminate => "terminated",
            Signal::Hangup => "hangup",
            Signal::Quit => "quit",
            Signal::User1 => "user defined signal 1",
            Signal::User2 => "user defined signal 2",
            Signal::Child => "child exited",
        })
    }
}

/// What a subscription's `deliver` did with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed over.
    Delivered,
    /// Dropped (the facade's channel was full), as Go drops a signal that
    /// finds its channel full.
    Dropped,
    /// Nobody will take signals from this subscription any more: it ends
    /// now, and if it was the last one for this signal, the signal gets
    /// its default action (module doc).
    Gone,
}

/// The function a subscription calls for each signal, on a polling thread.
type Deliver = Box<dyn FnMut(Signal) -> Delivery + Send>;

/// Subscribes `deliver` to `signals` (all of [`Signal::ALL`] if empty) in
/// the current runtime's netpoller: it is called, on whichever thread polls,
/// for each signal that arrives, until it returns [`Delivery::Gone`] or the
/// runtime shuts down (module doc). `deliver` must not block.
///
/// # Errors
///
/// [`NoRuntime`] (as `io::ErrorKind::Other`) outside a gort runtime,
/// `RuntimeShutdown` once it shut down, or the OS's error installing the
/// handler or making the pipe.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use gort_core::io::signal::{subscribe, Delivery, Signal};
///
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let got = Arc::new(AtomicBool::new(false));
///     let seen = got.clone();
///     subscribe(&[Signal::User2], move |_| {
///         seen.store(true, Ordering::SeqCst);
///         Delivery::Delivered
///     })
///     .unwrap();
///     signal_hook::low_level::raise(Signal::User2.as_raw()).unwrap();
///     while !got.load(Ordering::SeqCst) {
///         gort_core::time::sleep(std::time::Duration::from_millis(1)).await;
///     }
/// });
/// ```
pub fn subscribe(
    signals: &[Signal],
    deliver: impl FnMut(Signal) -> Delivery + Send + 'static,
) -> io::Result<()> {
    let handle = crate::sched::context::try_current().ok_or_else(|| io::Error::other(NoRuntime))?;
    subscribe_with(&handle, signals, deliver)
}

/// [`subscribe`] in `handle`'s runtime.
///
/// # Errors
///
/// As [`subscribe`], less [`NoRuntime`].
pub fn subscribe_with(
    handle: &Handle,
    signals: &[Signal],
    deliver: impl FnMut(Signal) -> Delivery + Send + 'static,
) -> io::Result<()> {
    let signals = if signals.is_empty() {
        &Signal::ALL[..]
    } else {
        signals
    };
    Subscription::start(&handle.shared, signals, Box::new(deliver), Kind::User).map(|_| ())
}

/// Installs the SIGQUIT watcher for `handle`'s runtime (module doc); what
/// `#[gort::main]` calls before `block_on`. Not public API.
#[doc(hidden)]
pub fn install_sigquit_dump(handle: &Handle) {
    let weak = Arc::downgrade(&handle.shared);
    lock(&QUIT_WATCH).replace(weak);
    let deliver: Deliver = Box::new(|_| {
        if lock(&STATE).signals[Signal::Quit.index()].users == 0 {
            quit_dump();
        }
        Delivery::Delivered
    });
    if let Err(e) = Subscription::start(&handle.shared, &[Signal::Quit], deliver, Kind::QuitWatch) {
        lock(&QUIT_WATCH).take();
        tracing::warn!(error = %e, "signal: cannot watch SIGQUIT");
    }
}

/// The process-global state of each signal (module doc, "Restoring the
/// default action").
struct State {
    signals: [SigState; 7],
}

struct SigState {
    /// Live subscriptions for this signal, the SIGQUIT watcher included.
    subs: usize,
    /// Of `subs`, the user's (not the SIGQUIT watcher).
    users: usize,
    /// The conditional default's flag, once installed: true while `subs`
    /// is 0. Written under `STATE`'s lock; read (SeqCst, by signal-hook) in
    /// the handler, which cannot take a lock.
    default_on: Option<Arc<AtomicBool>>,
}

static STATE: Mutex<State> = Mutex::new(State {
    signals: [const {
        SigState {
            subs: 0,
            users: 0,
            default_on: None,
        }
    }; 7],
});

/// The runtime whose dump the SIGQUIT watcher prints, while it lives.
static QUIT_WATCH: Mutex<Option<Weak<Shared>>> = Mutex::new(None);

/// Set by the first thread to run the SIGQUIT dump: a second SIGQUIT (or
/// two hooks seeing the same one) prints nothing more while it exits.
static QUITTING: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whose subscription: the user's, or the runtime's SIGQUIT watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    QuitWatch,
}

/// One subscription: its pipe, its `deliver`, and its share of the counts.
struct Subscription {
    kind: Kind,
    signals: Vec<Signal>,
    /// The pipe and the function, locked by the hook while it drains: two
    /// pollers may take two events of one pipe at once, and the second
    /// must wait for the first's drain rather than skip (the pipe is
    /// edge-triggered: skipping could leave a signal in it unseen).
    inner: Mutex<Inner>,
    /// The poller's token, set under `inner`'s lock right after
    /// registering (a hook run before that waits on the lock).
    token: AtomicUsize,
    /// Set once its counts are released (exactly once: `end` or drop).
    released: AtomicBool,
}

struct Inner {
    pipe: Signals,
    deliver: Deliver,
}

impl Subscription {
    /// Counts the subscription, makes its pipe and registers it as a hook
    /// in `shared`'s netpoller; from then on it lives in the poller.
    fn start(
        shared: &Arc<Shared>,
        signals: &[Signal],
        deliver: Deliver,
        kind: Kind,
    ) -> io::Result<()> {
        if shared.is_shutdown() {
            return Err(super::poll_desc::shutdown_error());
        }
        let mut signals = signals.to_vec();
        signals.sort();
        signals.dedup();
        // Counted before the handler goes in: a signal in between finds
        // the conditional default off and no pipe yet, and is ignored,
        // rather than killing a process that is subscribing to it.
        acquire(&signals, kind)?;
        let pipe = match Signals::new(signals.iter().map(|s| s.as_raw())) {
            Ok(p) => p,
            Err(e) => {
                release(&signals, kind);
                return Err(e);
            }
        };
        // From here on, dropping `sub` releases the counts.
        let sub = Arc::new(Subscription {
            kind,
            signals,
            inner: Mutex::new(Inner { pipe, deliver }),
            token: AtomicUsize::new(0),
            released: AtomicBool::new(false),
        });
        {
            let mut inner = lock(&sub.inner);
            let hook: Arc<dyn Hook> = sub.clone();
            let internal = kind == Kind::QuitWatch;
            let token =
                shared
                    .poller
                    .register_hook(&mut inner.pipe, Interest::READABLE, hook, internal)?;
            // Relaxed: read by the hook under `inner`'s lock, which orders it.
            sub.token.store(token, Relaxed);
        }
        tracing::debug!(signals = ?sub.signals, internal = kind == Kind::QuitWatch, "signal: subscribed");
        // Some M must block in the poll now (the module doc, step 2).
        if !shared.kick_sleeping_m(false) {
            shared.wakep();
        }
        Ok(())
    }

    /// The subscription ends because `deliver` returned `Gone` for `sig`:
    /// its counts go, and if it was the last for `sig`, `sig` gets its
    /// default action now (module doc, "Restoring the default action").
    fn end(&self, sig: Signal) {
        // Relaxed: the RMW alone makes it once; the counts are under a lock.
        if self.released.swap(true, Relaxed) {
            return;
        }
        let gone = release(&self.signals, self.kind);
        let st = gone.iter().find(|g| g.0 == sig);
        if sig == Signal::Quit && st.is_some_and(|g| g.2) && quit_watched() {
            quit_dump();
        } else if st.is_some_and(|g| g.1) {
            tracing::debug!(signal = %sig, "signal: last subscription gone, default action");
            let _ = signal_hook::low_level::emulate_default_handler(sig.as_raw());
        }
    }
}

impl Hook for Subscription {
    fn ready(&self, poller: &Poller) {
        let mut inner = lock(&self.inner);
        // At most one of each signal (signal-hook coalesces).
        let pending: Vec<i32> = inner.pipe.pending().collect();
        for n in pending {
            let Some(sig) = Signal::from_raw(n) else {
                continue;
            };
            match (inner.deliver)(sig) {
                Delivery::Delivered => tracing::trace!(signal = %sig, "signal delivered"),
                Delivery::Dropped => {
                    tracing::trace!(signal = %sig, "signal dropped: its channel is full")
                }
                Delivery::Gone => {
                    poller.deregister_hook(self.token.load(Relaxed), &mut inner.pipe);
                    drop(inner);
                    self.end(sig);
                    return;
                }
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Relaxed: as in `end`.
        if !self.released.swap(true, Relaxed) {
            release(&self.signals, self.kind);
        }
        if self.kind == Kind::QuitWatch {
            lock(&QUIT_WATCH).take();
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("kind", &self.kind)
            .field("signals", &self.signals)
            .finish_non_exhaustive()
    }
}

/// Counts a new subscription for each of `signals`, installing a signal's
/// conditional default the first time, and turns the default off.
fn acquire(signals: &[Signal], kind: Kind) -> io::Result<()> {
    let mut st = lock(&STATE);
    for (i, &sig) in signals.iter().enumerate() {
        let s = &mut st.signals[sig.index()];
        if s.default_on.is_none() {
            let flag = Arc::new(AtomicBool::new(true));
            if let Err(e) =
                signal_hook::flag::register_conditional_default(sig.as_raw(), flag.clone())
            {
                drop(st);
                release(&signals[..i], kind);
                return Err(e);
            }
            s.default_on = Some(flag);
        }
        s.subs += 1;
        if kind == Kind::User {
            s.users += 1;
        }
        if let Some(flag) = &s.default_on {
            // SeqCst: pairs with the handler's SeqCst load of the flag
            // (`register_conditional_default`).
            flag.store(false, SeqCst);
        }
    }
    Ok(())
}

/// Uncounts a subscription for each of `signals`, turning a signal's
/// default back on when its last subscription goes. Returns, per signal,
/// whether no subscription is left, and whether no user subscription is.
fn release(signals: &[Signal], kind: Kind) -> Vec<(Signal, bool, bool)> {
    let mut st = lock(&STATE);
    let mut out = Vec::with_capacity(signals.len());
    for &sig in signals {
        let s = &mut st.signals[sig.index()];
        s.subs -= 1;
        if kind == Kind::User {
            s.users -= 1;
        }
        if s.subs == 0 {
            if let Some(flag) = &s.default_on {
                // SeqCst: as in `acquire`.
                flag.store(true, SeqCst);
            }
        }
        out.push((sig, s.subs == 0, s.users == 0));
    }
    out
}

/// Whether a SIGQUIT watcher's runtime is alive.
fn quit_watched() -> bool {
    lock(&QUIT_WATCH)
        .as_ref()
        .is_some_and(|w| w.strong_count() > 0)
}

/// Go's answer to SIGQUIT: `SIGQUIT: quit`, the dump, exit status 2.
fn quit_dump() {
    // Relaxed: the RMW alone picks the one thread that prints.
    if QUITTING.swap(true, Relaxed) {
        return;
    }
    let shared = lock(&QUIT_WATCH).as_ref().and_then(Weak::upgrade);
    let dump = shared.map(|s| s.dump()).unwrap_or_default();
    eprint!("SIGQUIT: quit\n\n{dump}");
    std::process::exit(2);
}
