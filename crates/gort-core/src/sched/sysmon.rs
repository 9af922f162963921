//! sysmon: the runtime's monitor thread (Go's `sysmon`), holding no P.
//!
//! # The loop
//!
//! Sleep 20 µs; after 50 rounds in a row that found nothing to do, double
//! the sleep each round up to 10 ms (Go's delay schedule). When every P is
//! idle, sleep deeply until an M acquires a P again (`wake_if_deep`). Each
//! round:
//!
//! 1. **Retake** (Go's `retake`). For each P, compare its status word with
//!    the one seen last round. A word carries a sequence number bumped on
//!    every poll and every syscall, so an unchanged word means the very same
//!    syscall or poll is still going on.
//!    - `SYSCALL` seen twice (at least one sysmon period, ≥ 20 µs): retake
//!      the P and hand it off, unless it has no work, other Ms are idle or
//!      spinning, and the syscall is younger than 10 ms (Go's condition).
//!    - `POLLING` seen unchanged for 10 ms (Go's `forcePreemptNS`): the task
//!      blocks or computes without yielding. Gort cannot preempt a future,
//!      so it does what Go does for a blocked syscall: retake the P, with
//!      its queue, `runnext` and timers, and hand it to another M, if
//!      anything is waiting for it. The blocked M finds out when its poll
//!      returns (the `end_poll` CAS fails) and looks for a P as an idle M
//!      would. A warning names the task's spawn site, once per task.
//! 2. **Stranded timers**: if a timer is overdue by more than 2 ms
//!    ([`STRANDED_NANOS`]), `wakep`. The timers of idle Ps are watched by
//!    one sleeping M (`Worker::stop`, or the netpoll holder); an M that
//!    leaves a sleep in `stop` hands the watch on for timers due within
//!    10 ms, but a later one, or one left by the holder, on an idle P,
//!    would wait for the next M to go idle, which a task blocking its poll
//!    can put off for as long as it blocks. The M woken fires it
//!    (`steal_work`'s last pass, or the sleep it ends in). Go's sysmon does
//!    the same where a kernel loses netpoll wake-ups (`startm` when
//!    `timeSleepUntil() < now`, on netbsd).
//! 3. **Netpoll**: if sources are registered and nobody has polled for
//!    10 ms, poll without blocking.
//! 4. **schedtrace**: with `GORT_DEBUG=schedtrace=MS`, print a line every MS
//!    milliseconds (`trace.rs`).
//! 5. **GOMAXPROCS**: every second, while the default is in force, follow
//!    the cgroup CPU limit and the CPU count (`procresize.rs`; Go 1.25's
//!    `sysmonUpdateGOMAXPROCS`).
//!
//! On Linux sysmon runs `SCHED_BATCH` while no P is in a syscall, so that
//! its wake-ups do not preempt the thread running on a CPU (`os_policy.rs`;
//! Go's sysmon is an ordinary thread).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::p::{state, PPOLLING, PSYSCALL};
use super::Shared;
use crate::loom::{lock, Ordering::*};
use crate::time::{clock::now_nanos, queue::NO_TIMER};

/// A poll running this long gets its P handed off (Go's `forcePreemptNS`).
pub(crate) const LONG_POLL_NANOS: u64 = 10_000_000;
/// How often the default `gomaxprocs` is checked against the CPU limit.
const PROCS_CHECK_NANOS: u64 = 1_000_000_000;
/// A syscall this long loses its P even if no one seems to need it.
const LONG_SYSCALL_NANOS: u64 = 10_000_000;
const MIN_DELAY_US: u64 = 20;
const MAX_DELAY_US: u64 = 10_000;
/// Idle rounds before the sleep starts doubling.
const IDLE_ROUNDS: u32 = 50;
/// A timer overdue by this much has no M watching it (module doc, step 2):
/// an M sleeping on the timers fires them microseconds after they are
/// due, or up to a millisecond after in the netpoller, whose waits are
/// rounded up to milliseconds.
pub(crate) const STRANDED_NANOS: u64 = 2_000_000;

/// sysmon's sleeping place, shared with whoever must wake it.
#[derive(Default)]
pub(crate) struct SysmonPark {
    pub(crate) state: std::sync::Mutex<ParkState>,
    pub(crate) cv: std::sync::Condvar,
    /// Mirrors `ParkState::deep` for a lock-free check on hot paths.
    pub(crate) deep: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
pub(crate) struct ParkState {
    deep: bool,
    woken: bool,
}

impl SysmonPark {
    /// Wakes sysmon from a deep sleep (an M just acquired a P). Relaxed
    /// check: a missed wake-up costs one deep-sleep timeout, not
    /// correctness, since the deep sleep is bounded.
    pub(crate) fn wake_if_deep(&self) {
        if self.deep.load(std::sync::atomic::Ordering::Relaxed) {
            self.wake();
        }
    }

    pub(crate) fn wake(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.woken = true;
        drop(s);
        self.cv.notify_one();
    }

    /// Sleeps up to `d`, or until woken. `deep` marks a sleep that only an
    /// M acquiring a P (or shutdown) should end early.
    fn sleep(&self, d: Duration, deep: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.woken {
            s.woken = false;
            return;
        }
        s.deep = deep;
        self.deep.store(deep, std::sync::atomic::Ordering::Relaxed);
        let (mut s, _) = self
            .cv
            .wait_timeout(s, d)
            .unwrap_or_else(|e| e.into_inner());
        s.deep = false;
        s.woken = false;
        self.deep.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What sysmon saw of one P last round.
#[derive(Clone, Copy)]
struct Seen {
    word: u64,
    since: u64,
}

/// Starts sysmon, once per runtime (with the first M). Its thread runs the
/// user's thread hooks and is named by `thread_name_fn`, as the Ms are.
pub(crate) fn start(shared: &Arc<Shared>) {
    // No sysmon in the loom models of the scheduler loop: its retake is
    // modelled on its own (`loom_handoff.rs`), and a thread that sleeps
    // on a timeout has no place in a model.
    if cfg!(loom) || shared.sysmon_started.swap(true, AcqRel) {
        return;
    }
    // Counted like an M, so shutdown waits for it (`shutdown.rs`).
    let Some(ticket) = super::shutdown::Ticket::register(shared) else {
        return;
    };
    let s2 = shared.clone();
    let name = shared
        .config
        .hooks
        .thread_name(|| format!("{}-sysmon", shared.config.thread_name));
    match crate::loom::thread::Builder::new()
        .name(name)
        .stack_size(256 * 1024)
        .spawn(move || {
            let _thread = ticket.start();
            sysmon_main(s2)
        }) {
        Ok(h) => lock(&shared.threads).push(h),
        Err(e) => tracing::error!(error = %e, "cannot start sysmon"),
    }
}

fn sysmon_main(shared: Arc<Shared>) {
    let _span = tracing::debug_span!("gort-sysmon").entered();
    // Its wake-ups must not preempt the Ms (`os_policy.rs`).
    let mut policy = super::os_policy::SysmonPolicy::start();
    let start = now_nanos();
    let mut seen = Vec::new();
    let mut procs_check = start.saturating_add(PROCS_CHECK_NANOS);
    let mut warned = HashSet::new();
    let mut idle_rounds = 0u32;
    let mut delay_us = MIN_DELAY_US;
    let mut trace = super::trace::Trace::from_config(&shared.config, start);
    loop {
        if idle_rounds == 0 {
            delay_us = MIN_DELAY_US;
        } else if idle_rounds > IDLE_ROUNDS {
            delay_us = (delay_us * 2).min(MAX_DELAY_US);
        }
        // A P whose M blocks in the netpoller is idle too; that M wakes
        // sysmon when it has work again.
        let all_idle = shared.idle.all_idle(shared.allp.len());
        let deep = all_idle && trace.is_none();
        let d = if deep {
            // Bounded, so a missed wake-up only delays the next round.
            Duration::from_millis(100)
        } else {
            Duration::from_micros(delay_us)
        };
        shared.sysmon.sleep(d, deep);
        if shared.is_shutdown() {
            return;
        }
        let now = now_nanos();
        crate::time::clock::refresh_coarse(now);
        super::poolclean::tick(now);
        crate::task::age_cells(now);
        // Before `retake`, which may move a P out of its syscall.
        let syscall_seen = shared
            .allp
            .iter()
            .any(|p| state(p.status.load(Relaxed)) == PSYSCALL);
        // Every P made: one `set_gomaxprocs` removed may still be held.
        seen.resize(
            shared.allp.len(),
            Seen {
                word: 0,
                since: now,
            },
        );
        let retook = retake(&shared, &mut seen, now, &mut warned);
        // Timers are due by the runtime's clock (a bubble's is virtual).
        rescue_timers(&shared, shared.now());
        policy.round(now, syscall_seen);
        #[cfg(not(loom))]
        let polled =
            shared.poller.overdue(now) && shared.poller.poll(Some(Duration::ZERO), false) > 0;
        #[cfg(loom)]
        let polled = false;
        let did = retook > 0 || polled;
        if let Some(t) = trace.as_mut() {
            t.tick(&shared, now);
        }
        if now >= procs_check {
            procs_check = now.saturating_add(PROCS_CHECK_NANOS);
            shared.update_default_gomaxprocs();
        }
        if did {
            idle_rounds = 0;
        } else {
            idle_rounds = idle_rounds.saturating_add(1);
        }
    }
}

/// Step 2 of the loop: wakes an M if a timer is overdue by more than
/// [`STRANDED_NANOS`]. Not counted as work done, so sysmon's sleep may
/// still grow: with every M busy (timers run late under overload) `wakep`
/// has no idle P to start an M on, and calling it every 20 µs would help
/// no one.
fn rescue_timers(shared: &Arc<Shared>, now: u64) {
    let earliest = shared.earliest_timer();
    if earliest != NO_TIMER && now >= earliest.saturating_add(STRANDED_NANOS) {
        tracing::trace!(overdue_ns = now - earliest, "sysmon: overdue timer, wakep");
        shared.stats.timer_rescues.fetch_add(1, Relaxed);
        shared.wakep();
    }
}

/// Go's `retake`. Returns the number of Ps retaken.
fn retake(shared: &Arc<Shared>, seen: &mut [Seen], now: u64, warned: &mut HashSet<u64>) -> usize {
    let mut n = 0;
    for (i, p) in shared.allp.iter().enumerate() {
        // Acquire: pairs with `begin_poll`'s Release, so the task id and
        // site stored before it are the current poll's.
        let word = p.status.load(Acquire);
        if seen[i].word != word {
            seen[i] = Seen { word, since: now };
            continue;
        }
        let age = now.saturating_sub(seen[i].since);
        match state(word) {
            PSYSCALL => {
                let others_looking =
                    shared.idle.nmspinning.load(SeqCst) + shared.idle.npidle.load(SeqCst) > 0
                        || shared.idle.holder_asleep();
                if !p.has_work() && others_looking && age < LONG_SYSCALL_NANOS {
                    continue;
                }
                // Counted before the CAS: the M may notice the retake (and
                // uncount itself) as soon as it succeeds.
                shared.detached_ms.fetch_add(1, Relaxed);
                if !p.retake(word) {
                    shared.detached_ms.fetch_sub(1, Relaxed);
                } else {
                    tracing::debug!(p = i, age_ns = age, "sysmon: retook P from a syscall");
                    n += 1;
                    shared.stats.sysmon_retakes.fetch_add(1, Relaxed);
                    crate::exectrace::retake(i, true);
                    shared.handoffp(i);
                }
            }
            PPOLLING if age >= LONG_POLL_NANOS => {
                let waiting =
                    p.has_work() || p.timers.next_when() != NO_TIMER || !shared.inject.is_empty();
                if !waiting {
                    continue;
                }
                let task = p.polling_task.load(Relaxed);
                let site = p.polling_site.load(Relaxed);
                shared.detached_ms.fetch_add(1, Relaxed);
                if !p.retake(word) {
                    shared.detached_ms.fetch_sub(1, Relaxed);
                } else {
                    n += 1;
                    shared.stats.sysmon_retakes.fetch_add(1, Relaxed);
                    crate::exectrace::retake(i, false);
                    if warned.insert(task) {
                        // SAFETY: `polling_site` only ever holds a
                        // `&'static Location` (or null).
                        let site = unsafe { site.as_ref() };
                        tracing::warn!(
                            task,
                            spawned_at = %site.map_or_else(|| "?".to_string(), |l| l.to_string()),
                            ms = age / 1_000_000,
                            "a task's poll has run without yielding; its P was handed to another M \
                             (wrap blocking calls in gort::syscall or gort::spawn_blocking)"
                        );
                    }
                    shared.handoffp(i);
                }
            }
            _ => {}
        }
    }
    n
}
