//! `gort::signal`: Go's `os/signal` on the netpoller.
//!
//! Signals are process-wide, and the tests of this file share one process:
//! each test in the main process uses a signal no other one raises there
//! (SIGUSR1, SIGUSR2, SIGHUP), and raises it only while it holds a live
//! subscription, so no raise ever meets the default action. Whatever
//! needs SIGINT, SIGQUIT, a dying process or exact counts runs in a child:
//! the test binary re-runs itself with `GORT_SIGNAL_CHILD` set and one
//! `child_*` test selected; without the variable, those bodies return at
//! once.
#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use gort::context;
use gort::signal::{self, Signal};

const CHILD: &str = "GORT_SIGNAL_CHILD";

/// A hang guard, not a timing claim.
const WATCHDOG: Duration = Duration::from_secs(20);

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// Runs the test `name` alone in a child process.
fn run_child(name: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sends `sig` to this thread; its handler has run when this returns.
fn raise(sig: Signal) {
    signal_hook::low_level::raise(sig.as_raw()).unwrap();
}

/// Sends `sig` to this process (`kill(getpid(), sig)`), as another
/// process would.
fn kill(sig: Signal) {
    // SAFETY: plain system calls with no pointer arguments.
    let r = unsafe { libc::kill(libc::getpid(), sig.as_raw()) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
}

async fn recv(rx: &gort::sync::Receiver<Signal>) -> Option<Signal> {
    gort::time::timeout(WATCHDOG, rx.recv())
        .await
        .expect("no signal within the watchdog")
}

/// A runtime with no other I/O and no timer, every M idle, gets a signal
/// sent from another thread: an M is blocked in the netpoller for the
/// subscription. The deadlock detector (on in `#[gort::test]`) stays
/// quiet while main waits on the receiver: a signal may come. The
/// watchdog is a plain thread, so the runtime has no timer to wake for.
#[gort::test(procs = 2)]
async fn a_signal_wakes_an_idle_runtime() {
    let rx = signal::notify(&[Signal::User1]).unwrap();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let sender = std::thread::spawn(move || {
        // Long enough for every M to go idle; the test holds either way.
        std::thread::sleep(Duration::from_millis(100));
        kill(Signal::User1);
        if done_rx.recv_timeout(WATCHDOG).is_err() {
            eprintln!("the signal was not received within the watchdog");
            std::process::abort();
        }
    });
    assert_eq!(rx.recv().await, Some(Signal::User1));
    done_tx.send(()).unwrap();
    sender.join().unwrap();
}

/// Go delivers a signal to every channel registered for it.
#[gort::test]
async fn every_notify_gets_the_signal() {
    let a = signal::notify(&[Signal::User2]).unwrap();
    let b = signal::notify(&[Signal::User2, Signal::Hangup]).unwrap();
    assert_eq!((a.cap(), b.cap()), (1, 1));
    kill(Signal::User2);
    assert_eq!(recv(&a).await, Some(Signal::User2));
    assert_eq!(recv(&b).await, Some(Signal::User2));
}

/// `notify_context`'s context is done when the signal comes; a stop after
/// that ends the subscription.
#[gort::test]
async fn notify_context_is_done_on_the_signal() {
    let parent = context::background();
    let (ctx, stop) = signal::notify_context(&parent, &[Signal::Hangup]).unwrap();
    // A second subscription keeps SIGHUP caught after `stop` (the shared
    // process must not meet the default).
    let keep = signal::notify(&[Signal::Hangup]).unwrap();
    assert!(!ctx.is_done());
    kill(Signal::Hangup);
    gort::time::timeout(WATCHDOG, ctx.done())
        .await
        .expect("the context was not cancelled");
    assert_eq!(ctx.err(), Some(context::Error::Canceled));
    stop.cancel();
    assert_eq!(recv(&keep).await, Some(Signal::Hangup));
}

/// Outside a runtime there is no netpoller to watch the signal.
#[test]
fn notify_outside_a_runtime_is_an_error() {
    let e = signal::notify(&[Signal::User1]).unwrap_err();
    assert!(
        e.get_ref()
            .is_some_and(|e| e.is::<gort_core::io::NoRuntime>()),
        "{e}"
    );
}

/// The signals' names are Go's.
#[test]
fn signals_print_as_in_go() {
    assert_eq!(Signal::Interrupt.to_string(), "interrupt");
    assert_eq!(Signal::Terminate.to_string(), "terminated");
    assert_eq!(Signal::User1.to_string(), "user defined signal 1");
    for s in Signal::ALL {
        assert_eq!(Signal::from_raw(s.as_raw()), Some(s));
    }
}

/// Three signals while the channel is full: one is kept, the others are
/// dropped, and a receive after draining waits for a new one. With one P
/// and the raises made by the task that holds it, no M polls between
/// them (the handler runs before `raise` returns).
#[gort::test(procs = 1)]
async fn child_a_full_channel_drops() {
    if !in_child() {
        return;
    }
    let rx = signal::notify(&[Signal::User1]).unwrap();
    gort::spawn(async {
        for _ in 0..3 {
            raise(Signal::User1);
        }
    })
    .await
    .unwrap();
    assert_eq!(recv(&rx).await, Some(Signal::User1));
    // Let any hook run still due for the raises above happen: each finds
    // the channel empty or full, and every signal it holds was one of
    // the three, already seen once.
    gort::time::sleep(Duration::from_millis(20)).await;
    while rx.try_recv().is_ok() {}
    assert!(rx.len() <= 1);
    assert!(
        gort::time::timeout(Duration::from_millis(50), rx.recv())
            .await
            .is_err(),
        "a dropped signal was delivered later"
    );
    raise(Signal::User1);
    assert_eq!(recv(&rx).await, Some(Signal::User1));
}

#[test]
fn a_full_channel_drops_signals() {
    let out = run_child("child_a_full_channel_drops");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
}

/// `ctrl_c()` installs its handler when called: the SIGINT raised before
/// the future is first polled is caught, not the process killed.
#[gort::test]
async fn child_ctrl_c() {
    if !in_child() {
        return;
    }
    let interrupted = signal::ctrl_c();
    raise(Signal::Interrupt);
    gort::time::timeout(WATCHDOG, interrupted)
        .await
        .expect("ctrl_c did not resolve")
        .unwrap();
}

#[test]
fn ctrl_c_resolves_on_sigint() {
    let out = run_child("child_ctrl_c");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
}

/// A program under `#[gort::main]` that receives SIGQUIT dumps and exits 2.
/// The signal is raised once the dump shows the stuck task parked on its
/// receive: one `yield_now` is not enough on two Ps (another M may have
/// stolen the task and not polled it yet; seen once under load).
#[gort::main(procs = 2)]
async fn quit_program() {
    let (_tx, rx) = gort::sync::chan::<u8>(0);
    let _stuck = gort::spawn(async move { rx.recv().await });
    let parked = async {
        while !gort::runtime::dump().contains("chan receive") {
            gort::time::sleep(Duration::from_millis(1)).await;
        }
    };
    gort::time::timeout(WATCHDOG, parked)
        .await
        .expect("the stuck task never parked");
    raise(Signal::Quit);
    gort::time::sleep(WATCHDOG).await;
}

#[test]
fn child_sigquit_dump() {
    if in_child() {
        quit_program();
    }
}

#[test]
fn sigquit_under_main_dumps_and_exits_2() {
    let out = run_child("child_sigquit_dump");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("SIGQUIT: quit"), "stderr: {err}");
    assert!(err.contains("goroutine "), "stderr: {err}");
    assert!(err.contains("chan receive"), "stderr: {err}");
}

/// Asking for SIGQUIT takes it from the runtime's dump.
#[gort::main]
async fn quit_notified_program() {
    let rx = signal::notify(&[Signal::Quit]).unwrap();
    raise(Signal::Quit);
    assert_eq!(recv(&rx).await, Some(Signal::Quit));
}

#[test]
fn child_sigquit_notified() {
    if in_child() {
        quit_notified_program();
    }
}

#[test]
fn sigquit_asked_for_is_received() {
    let out = run_child("child_sigquit_notified");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(!stderr(&out).contains("SIGQUIT: quit"));
}

/// The SIGQUIT watcher is no reason to wait: a stuck `#[gort::main]` with
/// the detector on is still reported.
#[gort::main(detect_deadlock = true)]
async fn stuck_program() {
    let (_tx, rx) = gort::sync::chan::<u8>(0);
    rx.recv().await;
}

#[test]
fn child_stuck_main() {
    if in_child() {
        stuck_program();
    }
}

#[test]
fn the_sigquit_watcher_does_not_hide_a_deadlock() {
    let out = run_child("child_stuck_main");
    let err = stderr(&out);
    assert!(!out.status.success(), "stderr: {err}");
    assert!(
        err.contains("all goroutines are asleep - deadlock!"),
        "stderr: {err}"
    );
}

/// Dropping the last receiver restores the default: the next SIGUSR1
/// terminates the process (the drop is seen when it arrives).
#[gort::test]
async fn child_default_after_drop() {
    if !in_child() {
        return;
    }
    let rx = signal::notify(&[Signal::User1]).unwrap();
    drop(rx);
    raise(Signal::User1);
    gort::time::sleep(WATCHDOG).await;
}

#[test]
fn dropping_every_receiver_restores_the_default() {
    let out = run_child("child_default_after_drop");
    assert_eq!(
        out.status.signal(),
        Some(Signal::User1.as_raw()),
        "status {:?}, stderr: {}",
        out.status,
        stderr(&out)
    );
}

/// A runtime's subscriptions end when it shuts down: the channel closes,
/// and with no subscription left, SIGUSR2 has its default again.
#[test]
fn child_default_after_shutdown() {
    if !in_child() {
        return;
    }
    let rt = gort::Runtime::new().unwrap();
    let rx = rt.block_on(async { signal::notify(&[Signal::User2]).unwrap() });
    drop(rt);
    assert_eq!(rx.recv_blocking(), None);
    raise(Signal::User2);
    std::thread::sleep(WATCHDOG);
}

#[test]
fn a_runtime_shutting_down_ends_its_subscriptions() {
    let out = run_child("child_default_after_shutdown");
    assert_eq!(
        out.status.signal(),
        Some(Signal::User2.as_raw()),
        "status {:?}, stderr: {}",
        out.status,
        stderr(&out)
    );
}
