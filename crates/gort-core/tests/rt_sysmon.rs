//! `gort::syscall` hand-off and sysmon's rescue of a P whose poll blocks.
//!
//! Bounds are generous (tests run on loaded 2-core machines): what they
//! check is that progress happens at all while the blocking goes on, not
//! how fast.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort_core::Metrics;
use gort_core::{Builder, Runtime};

fn rt(procs: usize) -> Runtime {
    Builder::new().procs(procs).build().unwrap()
}

/// Counts the ticks of a task that sleeps `period` in a loop until `stop`.
async fn ticker(stop: Arc<AtomicBool>, ticks: Arc<AtomicUsize>) {
    while !stop.load(SeqCst) {
        gort_core::time::sleep(Duration::from_millis(1)).await;
        ticks.fetch_add(1, SeqCst);
    }
}

/// Runs `block` in a task while a ticker ticks every 1 ms on the same
/// runtime; returns the ticks counted while `block` ran.
async fn ticks_while(block: impl FnOnce() + Send + 'static) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = gort_core::spawn(ticker(stop.clone(), ticks.clone()));
    gort_core::time::sleep(Duration::from_millis(5)).await;
    let (before, during) = gort_core::spawn({
        let ticks = ticks.clone();
        async move {
            let before = ticks.load(SeqCst);
            block();
            (before, ticks.load(SeqCst))
        }
    })
    .await
    .unwrap();
    stop.store(true, SeqCst);
    t.await.unwrap();
    during - before
}

/// With one P, a task blocked 300 ms in `gort::syscall` does not stop
/// another task from ticking: sysmon hands the P to another M.
#[test]
fn a_long_syscall_hands_off_its_p() {
    let rt = rt(1);
    rt.block_on(async {
        let ticks =
            ticks_while(|| gort_core::syscall(|| std::thread::sleep(Duration::from_millis(300))))
                .await;
        assert!(
            ticks > 10,
            "the ticker made {ticks} ticks during a 300 ms syscall"
        );
        let m = gort_core::runtime::metrics();
        assert!(m.sysmon_retakes >= 1 && m.handoffs >= 1, "{m:?}");
    });
}

/// A short syscall keeps its P (no hand-off for a call far shorter than a
/// sysmon period), and `syscall` works outside a runtime.
#[test]
fn short_syscalls_keep_their_p() {
    assert_eq!(gort_core::syscall(|| 7), 7);
    let rt = rt(1);
    rt.block_on(async {
        gort_core::spawn(async {
            let p = gort_core::runtime::current_proc();
            let mut sum = 0u64;
            for i in 0..10_000u64 {
                sum += gort_core::syscall(|| i);
            }
            assert_eq!(sum, 10_000 * 9_999 / 2);
            assert_eq!(gort_core::runtime::current_proc(), p);
            // Nested: the inner call just runs.
            assert_eq!(gort_core::syscall(|| gort_core::syscall(|| 3)), 3);
        })
        .await
        .unwrap();
    });
}

/// Never more than `procs` tasks run outside a syscall at once, even when
/// syscalls lose their Ps and come back: each task counts itself in while
/// it runs on a P.
#[test]
fn never_more_than_procs_running() {
    const PROCS: usize = 2;
    let rt = rt(PROCS);
    rt.block_on(async {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (running, peak) = (running.clone(), peak.clone());
            tasks.push(gort_core::spawn(async move {
                for _ in 0..5 {
                    let now = running.fetch_add(1, SeqCst) + 1;
                    peak.fetch_max(now, SeqCst);
                    // Busy a little while holding the P.
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(200) {
                        std::hint::spin_loop();
                    }
                    running.fetch_sub(1, SeqCst);
                    gort_core::syscall(|| std::thread::sleep(Duration::from_millis(2)));
                    gort_core::yield_now().await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(
            peak.load(SeqCst) <= PROCS,
            "peak {} > procs",
            peak.load(SeqCst)
        );
        assert!(gort_core::runtime::metrics().handoffs >= 1);
    });
}

/// A task whose poll blocks 500 ms without any wrapper does not stop a
/// ticking task on the same (only) P for long: sysmon rescues the P.
#[test]
fn a_blocking_poll_does_not_stall_its_p() {
    let rt = rt(1);
    rt.block_on(async {
        // No syscall wrapper.
        let ticks = ticks_while(|| std::thread::sleep(Duration::from_millis(500))).await;
        assert!(
            ticks > 20,
            "the ticker made {ticks} ticks during a 500 ms blocked poll"
        );
    });
}

/// The wait reason of a task in a syscall shows in the dump.
#[test]
fn the_dump_names_a_syscall() {
    let rt = rt(2);
    rt.block_on(async {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let entered = Arc::new(AtomicBool::new(false));
        let t = gort_core::spawn({
            let entered = entered.clone();
            async move {
                gort_core::syscall(|| {
                    entered.store(true, SeqCst);
                    rx.recv().unwrap()
                })
            }
        });
        while !entered.load(SeqCst) {
            gort_core::time::sleep(Duration::from_millis(1)).await;
        }
        let dump = gort_core::runtime::dump();
        tx.send(()).unwrap();
        t.await.unwrap();
        assert!(dump.contains("syscall"), "{dump}");
    });
}

/// Linux's scheduling policies, as `/proc` shows them.
#[cfg(target_os = "linux")]
const SCHED_OTHER: u32 = 0;
#[cfg(target_os = "linux")]
const SCHED_BATCH: u32 = 3;

/// Whether this process runs under another policy than those two (`chrt`):
/// sysmon then leaves the policy alone, and the policy tests have nothing
/// to check.
#[cfg(target_os = "linux")]
fn under_chrt() -> bool {
    policies("")
        .iter()
        .any(|&(_, p)| p != SCHED_OTHER && p != SCHED_BATCH)
}

/// The scheduling policy (`SCHED_OTHER` 0, `SCHED_BATCH` 3) of each thread
/// of this process whose name starts with `prefix`, from field 41 of
/// `/proc/self/task/TID/stat`.
#[cfg(target_os = "linux")]
fn policies(prefix: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue; // the thread has exited
        };
        let comm = comm.trim_end().to_string();
        if !comm.starts_with(prefix) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // Fields after "pid (comm)": the first of them is field 3.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let policy = rest.split(' ').nth(41 - 3).unwrap().parse().unwrap();
        out.push((comm, policy));
    }
    out
}

/// On Linux sysmon runs `SCHED_BATCH` while no P is in a syscall (its
/// wake-ups do not preempt the Ms), and an M that sysmon starts, which
/// inherits that, goes back to `SCHED_OTHER`: here the M started when
/// sysmon hands off the P of a poll that blocks for 100 ms.
#[cfg(target_os = "linux")]
#[test]
fn sysmon_is_sched_batch_and_the_ms_it_starts_are_not() {
    if under_chrt() {
        return;
    }
    let rt = Builder::new()
        .procs(1)
        .thread_name("polchk")
        .build()
        .unwrap();
    rt.block_on(async {
        // Not in `gort::syscall`: sysmon's rescue of a long poll.
        let ticks = ticks_while(|| std::thread::sleep(Duration::from_millis(100))).await;
        assert!(ticks > 0, "no tick during a 100 ms blocked poll");
        let m = gort_core::runtime::metrics();
        assert!(m.handoffs >= 1, "{m:?}");
    });
    let threads = policies("polchk-");
    let ms: Vec<_> = threads
        .iter()
        .filter(|(name, _)| name["polchk-".len()..].bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert!(ms.len() >= 2, "the hand-off started no M: {threads:?}");
    assert!(
        ms.iter().all(|&&(_, p)| p == SCHED_OTHER),
        "an M runs SCHED_BATCH: {threads:?}"
    );
    assert!(
        threads
            .iter()
            .any(|(name, p)| name == "polchk-sysmon" && *p == SCHED_BATCH),
        "sysmon is not SCHED_BATCH: {threads:?}"
    );
}

/// While Ps enter syscalls sysmon runs `SCHED_OTHER`, so that its retakes
/// are not a scheduler tick late; 10 ms after the last one it is back to
/// `SCHED_BATCH`.
#[cfg(target_os = "linux")]
#[test]
fn sysmon_is_sched_other_while_syscalls_go_on() {
    if under_chrt() {
        return;
    }
    let sysmon = || {
        policies("polsys-")
            .into_iter()
            .find(|(name, _)| name == "polsys-sysmon")
            .map(|(_, p)| p)
    };
    let rt = Builder::new()
        .procs(2)
        .thread_name("polsys")
        .build()
        .unwrap();
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(20);
        // sysmon starts as its creator (SCHED_OTHER) and turns batch.
        while sysmon() != Some(SCHED_BATCH) {
            assert!(Instant::now() < deadline, "sysmon stayed {:?}", sysmon());
            gort_core::time::sleep(Duration::from_millis(5)).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        // A failed assertion must not leave the caller running: the
        // runtime's drop would wait for it forever.
        struct StopOnDrop(Arc<AtomicBool>);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.store(true, SeqCst);
            }
        }
        let _guard = StopOnDrop(stop.clone());
        // One task in syscalls back to back: a P is in a syscall almost
        // all the time, and sysmon sees it every round.
        let caller = gort_core::spawn({
            let stop = stop.clone();
            async move {
                while !stop.load(SeqCst) {
                    gort_core::syscall(|| std::thread::sleep(Duration::from_millis(2)));
                    gort_core::yield_now().await;
                }
            }
        });
        while sysmon() != Some(SCHED_OTHER) {
            assert!(Instant::now() < deadline, "sysmon stayed {:?}", sysmon());
            gort_core::time::sleep(Duration::from_millis(5)).await;
        }
        stop.store(true, SeqCst);
        caller.await.unwrap();
        while sysmon() != Some(SCHED_BATCH) {
            assert!(Instant::now() < deadline, "sysmon stayed {:?}", sysmon());
            gort_core::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

/// Sleeps `first` in one task and `second` in another, spawned first;
/// then runs a task that blocks its poll (no `gort::syscall`) until the
/// first task's sleep has ended, 5 s at most. Returns whether it ended
/// during the block, and sysmon's retakes and timer rescues by then.
///
/// The spawning task's M wakes from the timer sleep for `second` and runs
/// the blocker from `runnext`; the first task's timer is on that P or on
/// the idle one, and the M that watched the timers is now blocked.
fn sleep_ends_during_blocked_poll(first: Duration, second: Duration) -> (bool, Metrics) {
    let rt = rt(2);
    rt.block_on(async move {
        gort_core::spawn(async move {
            let fired = Arc::new(AtomicBool::new(false));
            let sleeper = gort_core::spawn({
                let fired = fired.clone();
                async move {
                    gort_core::time::sleep(first).await;
                    fired.store(true, SeqCst);
                }
            });
            gort_core::time::sleep(second).await;
            let ended = gort_core::spawn({
                let fired = fired.clone();
                async move {
                    let start = Instant::now();
                    while !fired.load(SeqCst) && start.elapsed() < Duration::from_secs(5) {
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    fired.load(SeqCst)
                }
            })
            .await
            .unwrap();
            sleeper.await.unwrap();
            (ended, gort_core::runtime::metrics())
        })
        .await
        .unwrap()
    })
}

/// A timer due soon after its watching M left its sleep for a task that
/// blocks its poll fires on the other M, with neither sysmon's rescue of
/// the P (after 10 ms) nor its call for an M (2 ms overdue): the M leaving
/// its sleep first wakes another to watch the timers (`Worker::stop`).
/// Before that hand-off the sleep ended only after a rescue, or, with its
/// timer on the idle P, not while the poll blocked at all.
///
/// The timer is due 2 ms after the block starts, and the other M fires it
/// then; a machine too loaded to run that M within 2 ms more makes sysmon
/// call for it. So of 3 rounds, one without sysmon's help is enough
/// (without the hand-off, every round needs it).
#[test]
fn a_timer_due_during_a_blocked_poll_does_not_wait_for_sysmon() {
    let mut unaided = 0;
    for _ in 0..3 {
        let (ended, m) =
            sleep_ends_during_blocked_poll(Duration::from_millis(22), Duration::from_millis(20));
        assert!(ended, "the sleep never ended while the poll blocked");
        if m.sysmon_retakes == 0 && m.timer_rescues == 0 {
            unaided += 1;
        }
    }
    assert!(unaided >= 1, "every sleep ended only with sysmon's help");
}

/// A timer due too late for that hand-off (more than 10 ms after the M
/// left its sleep) still fires while the poll blocks: sysmon calls an M
/// for a timer overdue by 2 ms. Without that, a timer on the idle P waited
/// for the whole block.
#[test]
fn a_timer_due_late_in_a_blocked_poll_still_fires() {
    for _ in 0..3 {
        let (ended, _) =
            sleep_ends_during_blocked_poll(Duration::from_millis(60), Duration::from_millis(20));
        assert!(ended, "the sleep never ended while the poll blocked");
    }
}
