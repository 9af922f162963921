//! The execution tracer (Go's `runtime/trace`): what every M and P did,
//! over time, as Chrome Trace Event JSON for Perfetto or chrome://tracing.
//! Not `sched/trace.rs`, which is `schedtrace`, Go's periodic one-line
//! summary.
//!
//! # Design
//!
//! Tracing is process-wide, as Go's: one session at a time, recording on
//! every thread of every runtime.
//!
//! 1. **Off**: every hook is `#[inline]` and loads one global word,
//!    `STATE`, with a relaxed load; 0 means off and the hook returns. The
//!    recording itself is a `#[cold]` out-of-line call, so the hot paths
//!    carry only the load and a branch.
//! 2. **On**: `STATE` holds the session's id. A hook reads the clock and
//!    pushes one record into its thread's ring (`ring.rs`: a fixed-size
//!    single-producer ring, no lock, no allocation but a task's name).
//!    Each record carries the session id, so a record made by a thread
//!    that read `STATE` just before `stop()` is recognised as stale by
//!    the next session and dropped.
//! 3. **Flush**: an M, after each traced poll, hands its ring to the
//!    writer once it is half full ([`after_poll`]), and whatever it holds
//!    before it parks ([`m_park`]); the `block_on` thread does the same
//!    between its polls ([`between_polls`]), and any thread as it exits
//!    (`Local`'s drop). Handing over takes the session's mutex: it is
//!    touched per flush, never per event. A ring that fills before its
//!    owner can flush (a poll that records thousands of events, a thread
//!    that never polls) drops the newest records and counts them.
//! 4. **Stop**: [`stop`] turns `STATE` off, waits for the traced polls
//!    still running on other threads to record their slices, drains every
//!    thread's ring (the registry `RINGS` lists them), names the tracks
//!    and closes the JSON, with `otherData.dropped_events` saying how many
//!    were lost.
//!
//! The wait is Go's stop-the-world in `StopTrace`, in the one form a
//! runtime without preemption can give it: a poll is recorded at its end,
//! and the poll that completes a task is the one that wakes whoever
//! awaits it, so a `stop` right after `spawn(..).await` would otherwise
//! race the M's record of that very poll and lose it. Each ring publishes
//! `in_poll` (the session of its owner's traced poll, 0 between polls);
//! `stop` spins, then sleeps, until every other ring's is not the
//! session's, for at most [`STOP_WAIT`]; a poll still running then (a
//! task computing for longer, or one blocked on the thread calling
//! `stop`) is counted in `dropped_events`. The thread calling `stop` does
//! not wait on its own poll, which cannot end first. The handshake's loom
//! model (of the protocol; this module's atomics are `std`'s) is
//! `loom_tests/loom_trace_stop.rs`.
//!
//! A poll is one record, written at its end (`Poll { task, p, dur }`), and
//! becomes two complete ("X") events, one on the M's track (pid 1, tid =
//! M id) and one on the P's (pid 2, tid = P id): complete events need no
//! begin/end pairing across flushes. Instant events go on the recording
//! thread's track; threads that are no M (the `block_on` thread, sysmon,
//! offload threads, a user's) get tracks of their own on pid 1, from tid
//! [`THREAD_TID_BASE`], named after the thread.
//!
//! Rejected: a global lock-free queue (every event would contend on one
//! cache line across Ms); a mutex per thread's buffer (uncontended, still
//! an atomic read-modify-write per event); growing buffers (unbounded
//! memory in a long trace with a slow writer).

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{
    AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

mod json;
mod ring;

use ring::{Ev, Record, Ring, Track, CAP};

/// The first tid of the tracks of threads that are no M.
pub const THREAD_TID_BASE: u64 = 1_000_000;

/// How long [`stop`] waits for the polls in flight on other threads to end
/// (design, step 4).
const STOP_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// The session being recorded, or 0: the one word the hooks load.
static STATE: AtomicU64 = AtomicU64::new(0);
/// The last session id handed out.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(0);
/// Serial numbers of the tracks of threads that are no M.
static NEXT_THREAD: AtomicU32 = AtomicU32::new(0);
/// The writer and what the trace has seen; locked by flushes, `start` and
/// `stop` (lock order: `SESSION`, then `RINGS`).
static SESSION: Mutex<Option<Session>> = Mutex::new(None);
/// Every live thread's ring that has recorded, so that `stop` can drain
/// them; a thread that exits takes its ring out (`Local`'s drop).
static RINGS: Mutex<Vec<Arc<Ring>>> = Mutex::new(Vec::new());
/// The clock's origin: timestamps are nanoseconds since it.
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn now() -> u64 {
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why [`start`] or [`stop`] refused (inside the `io::Error` they return).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceError {
    /// `start` while a trace is running (Go: "tracing is already
    /// enabled").
    AlreadyTracing,
    /// `stop` with no trace running.
    NotTracing,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceError::AlreadyTracing => "gort: tracing is already enabled",
            TraceError::NotTracing => "gort: tracing is not enabled",
        })
    }
}

impl std::error::Error for TraceError {}

impl From<TraceError> for io::Error {
    fn from(e: TraceError) -> io::Error {
        let kind = match e {
            TraceError::AlreadyTracing => io::ErrorKind::AlreadyExists,
            TraceError::NotTracing => io::ErrorKind::NotFound,
        };
        io::Error::new(kind, e)
    }
}

struct Session {
    id: u64,
    out: Box<dyn Write + Send>,
    /// `now()` at `start`: the JSON's `ts` are microseconds since it.
    start: u64,
    /// Encoded events not yet written.
    buf: String,
    /// The first write error; `stop` returns it.
    err: Option<io::Error>,
    /// The tracks seen, to name them at the end.
    tracks: BTreeMap<(u32, u64), String>,
    /// Task names, from `Ev::Name` records.
    names: HashMap<u64, Box<str>>,
    events: u64,
    dropped: u64,
}

impl Session {
    /// Encodes the records of `ring` that belong to this session.
    fn take(&mut self, ring: &Ring) {
        let tid = match &ring.track {
            Track::M(m) => {
                let m = u64::from(*m);
                self.tracks
                    .entry((json::PID_M, m))
                    .or_insert_with(|| format!("M{m}"));
                m
            }
            Track::Thread { serial, name } => {
                let tid = THREAD_TID_BASE + u64::from(*serial);
                self.tracks
                    .entry((json::PID_M, tid))
                    .or_insert_with(|| name.clone());
                tid
            }
        };
        // SAFETY: every caller holds `SESSION`'s lock (`flush`, `stop_if`,
        // `Local`'s drop): consumers are one at a time.
        let dropped = unsafe {
            ring.drain(|rec| {
                if rec.session != self.id {
                    return;
                }
                let ts = rec.ts.saturating_sub(self.start);
                match rec.ev {
                    Ev::Name { task, name } => {
                        self.names.insert(task, name);
                    }
                    ref ev => {
                        if let Ev::Poll { p, .. } = ev {
                            let p = u64::from(*p);
                            self.tracks
                                .entry((json::PID_P, p))
                                .or_insert_with(|| format!("P{p}"));
                        }
                        let name = match ev {
                            Ev::Poll { task, .. } => self.names.get(task).map(|n| &**n),
                            _ => None,
                        };
                        json::event(&mut self.buf, &rec, ts, tid, name);
                        self.events += 1;
                    }
                }
            })
        };
        self.dropped += dropped;
        self.write();
    }

    /// Writes what is encoded (keeping the first error, as `stop`'s).
    fn write(&mut self) {
        if self.err.is_none() && !self.buf.is_empty() {
            if let Err(e) = self.out.write_all(self.buf.as_bytes()) {
                self.err = Some(e);
            }
        }
        self.buf.clear();
    }
}

/// This thread's part: its ring (made at its first event while tracing),
/// its M id (if it is an M), the task it polls.
struct Local {
    ring: OnceCell<Arc<Ring>>,
    m: Cell<Option<u32>>,
    /// `(session, task)` being polled on this thread, as `poll_begin` set
    /// it; stale once the session changed.
    current: Cell<(u64, u64)>,
    /// The named tasks whose name this thread recorded, in a session.
    named: RefCell<Option<(u64, HashSet<u64>)>>,
}

impl Local {
    fn ring(&self) -> &Arc<Ring> {
        self.ring.get_or_init(|| {
            let track = match self.m.get() {
                Some(m) => Track::M(m),
                None => {
                    let serial = NEXT_THREAD.fetch_add(1, Relaxed);
                    let t = std::thread::current();
                    let name = t
                        .name()
                        .map_or_else(|| format!("thread {:?}", t.id()), |n| n.to_owned());
                    Track::Thread { serial, name }
                }
            };
            let r = Arc::new(Ring::new(track));
            lock(&RINGS).push(r.clone());
            r
        })
    }

    /// The task this thread polls in `session`, or 0.
    fn current(&self, session: u64) -> u64 {
        match self.current.get() {
            (s, t) if s == session => t,
            _ => 0,
        }
    }
}

impl Drop for Local {
    /// The thread exits: what its ring holds goes to the writer, and the
    /// registry lets the ring go (a pool thread that retires leaves no
    /// buffer behind).
    fn drop(&mut self) {
        let Some(ring) = self.ring.get() else {
            return;
        };
        let mut s = lock(&SESSION);
        if let Some(s) = s.as_mut() {
            s.take(ring);
        }
        lock(&RINGS).retain(|r| !Arc::ptr_eq(r, ring));
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            ring: OnceCell::new(),
            m: Cell::new(None),
            current: Cell::new((0, 0)),
            named: RefCell::new(None),
        }
    };
}

/// Pushes `ev` into this thread's ring, with the task this thread polls
/// (0 if none) as a spawn's parent or a wake's waker. Not generic, and out
/// of line: a hook's inlined part is the load, the branch and the call.
#[cold]
#[inline(never)]
fn record(session: u64, mut ev: Ev) {
    let ts = now();
    let _ = LOCAL.try_with(|l| {
        match &mut ev {
            Ev::Spawn { parent: who, .. } | Ev::Wake { by: who, .. } => *who = l.current(session),
            _ => {}
        }
        // SAFETY: this thread owns its ring: the only producer.
        unsafe { l.ring().push(Record { ts, session, ev }) };
    });
}

/// The session being recorded, or 0: the hooks' one relaxed load.
#[inline(always)]
fn session() -> u64 {
    STATE.load(Relaxed)
}

/// Starts recording into `w` (Go's `runtime/trace.Start`). Tracing is
/// process-wide: every thread of every gort runtime records until
/// [`stop`].
///
/// # Errors
///
/// [`TraceError::AlreadyTracing`] (kind `AlreadyExists`) while a trace
/// runs, `GORT_DEBUG=trace=PATH`'s included; the error of writing the
/// JSON's opening to `w`.
///
/// # Examples
///
/// ```
/// use gort_core::runtime::trace;
///
/// let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
/// # struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
/// # impl std::io::Write for Shared {
/// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
/// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// # }
/// trace::start(Shared(out.clone())).unwrap();
/// assert!(trace::start(Vec::new()).is_err()); // one trace at a time
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     gort_core::spawn(async {}).await.unwrap();
/// });
/// trace::stop().unwrap();
/// let json = String::from_utf8(out.lock().unwrap().clone()).unwrap();
/// assert!(json.starts_with("{\"traceEvents\":["));
/// assert!(json.contains("\"name\":\"spawn\""));
/// ```
pub fn start(w: impl Write + Send + 'static) -> io::Result<()> {
    start_with(|| Ok(Box::new(w))).map(drop)
}

/// `start` with the writer made only once tracing is known to be off (so
/// that `GORT_DEBUG=trace=PATH` does not truncate a running trace's file).
fn start_with(make: impl FnOnce() -> io::Result<Box<dyn Write + Send>>) -> io::Result<u64> {
    let mut s = lock(&SESSION);
    if s.is_some() {
        return Err(TraceError::AlreadyTracing.into());
    }
    let mut out = make()?;
    out.write_all(b"{\"traceEvents\":[")?;
    let id = NEXT_SESSION.fetch_add(1, Relaxed) + 1;
    // Leftovers of an earlier session (records made after its `stop`
    // drained them): thrown away, with their drop counts.
    for r in lock(&RINGS).iter() {
        // SAFETY: `SESSION` is locked: the only consumer.
        unsafe { r.drain(drop) };
    }
    *s = Some(Session {
        id,
        out,
        start: now(),
        buf: String::new(),
        err: None,
        tracks: BTreeMap::new(),
        names: HashMap::new(),
        events: 0,
        dropped: 0,
    });
    // Relaxed: a hook that sees the id records into its own ring; the
    // session's fields are read only under `SESSION`'s lock.
    STATE.store(id, Relaxed);
    tracing::debug!(session = id, "execution trace started");
    Ok(id)
}

/// Stops the trace and completes its JSON (Go's `runtime/trace.Stop`):
/// once this returns, the writer given to [`start`] holds one object
/// `{"traceEvents": [...]}` and has been flushed; `otherData` says how
/// many events were recorded (`events`) and lost to full buffers
/// (`dropped_events`).
///
/// # Errors
///
/// [`TraceError::NotTracing`] (kind `NotFound`) with no trace running; the
/// first error the writer returned during the trace (the trace then
/// stopped anyway).
///
/// # Examples
///
/// ```
/// use gort_core::runtime::trace;
/// assert!(trace::stop().is_err()); // nothing to stop
/// ```
pub fn stop() -> io::Result<()> {
    stop_if(|_| true)
}

/// `stop`, if the running session is `id` (a runtime's
/// `GORT_DEBUG=trace=PATH`, when it ends).
pub(crate) fn stop_session(id: u64) -> io::Result<()> {
    stop_if(|s| s == id)
}

fn stop_if(which: impl FnOnce(u64) -> bool) -> io::Result<()> {
    let mut guard = lock(&SESSION);
    match guard.as_ref() {
        Some(s) if which(s.id) => {}
        _ => return Err(TraceError::NotTracing.into()),
    }
    // SeqCst: see `poll_begin_slow`'s store of `in_poll`.
    STATE.store(0, SeqCst);
    let mut s = guard.take().expect("checked above");
    // A snapshot, so that a thread making its ring during the wait below
    // is not held up on the registry's lock.
    let rings: Vec<Arc<Ring>> = lock(&RINGS).clone();
    let own = LOCAL.try_with(|l| l.ring.get().cloned()).ok().flatten();
    let deadline = Instant::now() + STOP_WAIT;
    for r in &rings {
        if own.as_ref().is_some_and(|o| Arc::ptr_eq(o, r)) {
            // This thread's own poll, if any, ends after `stop` returns.
        } else if !wait_poll_end(r, s.id, deadline) {
            s.dropped += 1;
        }
        s.take(r);
    }
    let tracks = std::mem::take(&mut s.tracks);
    for ((pid, tid), name) in &tracks {
        json::thread_name(&mut s.buf, *pid, *tid, name);
    }
    json::process_name(&mut s.buf, json::PID_M, "Ms");
    json::process_name(&mut s.buf, json::PID_P, "Ps");
    // Every event ends in a comma; the last one written is here.
    s.buf.pop();
    use std::fmt::Write as _;
    let _ = writeln!(
        s.buf,
        "],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"producer\":\"gort\",\"events\":{},\"dropped_events\":{}}}}}",
        s.events, s.dropped
    );
    s.write();
    tracing::debug!(
        events = s.events,
        dropped = s.dropped,
        "execution trace stopped"
    );
    if let Some(e) = s.err.take() {
        return Err(e);
    }
    s.out.flush()
}

/// Waits until `ring`'s owner runs no poll traced in `session` (design,
/// step 4): a few spins, then naps of 50 µs, until `deadline`. False if
/// the poll outlasted it.
fn wait_poll_end(ring: &Ring, session: u64, deadline: Instant) -> bool {
    let mut spins = 0u32;
    // Acquire: pairs with `poll_end_slow`'s Release store, so its record
    // is visible to the drain that follows.
    while ring.in_poll.load(Acquire) == session {
        if spins < 64 {
            spins += 1;
            std::hint::spin_loop();
        } else if Instant::now() >= deadline {
            return false;
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
    true
}

/// Starts the trace `GORT_DEBUG=trace=PATH` asked for, into a new file at
/// `path`; its session id, for [`stop_session`].
pub(crate) fn start_file(path: &std::path::Path) -> io::Result<u64> {
    start_with(|| {
        let f = std::fs::File::create(path)?;
        Ok(Box::new(io::BufWriter::new(f)))
    })
}

/// This thread is M `m`: its events go on the M's track.
pub(crate) fn set_m(m: usize) {
    let _ = LOCAL.try_with(|l| l.m.set(u32::try_from(m).ok()));
}

/// When a traced poll began (`now()`, at least 1), or 0 for a poll begun
/// while tracing was off: returned by [`poll_begin`], handed to
/// [`poll_end`]. One word, so that it costs the M one register across the
/// poll; the session is in `Local::current`.
#[derive(Clone, Copy)]
pub(crate) struct PollStart(u64);

/// A poll of task `task` (named `name()`, if it was given one; asked only
/// while tracing) begins on this thread. The name is taken now: the cell
/// may be freed by the time the poll ends.
#[inline]
pub(crate) fn poll_begin<'a>(task: u64, name: impl FnOnce() -> Option<&'a str>) -> PollStart {
    match session() {
        0 => PollStart(0),
        s => poll_begin_slow(s, task, name()),
    }
}

#[cold]
#[inline(never)]
fn poll_begin_slow(session: u64, task: u64, name: Option<&str>) -> PollStart {
    let ts = now().max(1);
    let _ = LOCAL.try_with(|l| {
        l.current.set((session, task));
        // `stop_if`'s wait loads `in_poll` after its store of `STATE`:
        // either such a load sees this store (and `stop` waits for the
        // record), or it read an older value and this poll counts as begun
        // after `stop`, whose record is a leftover the next session drops.
        // SeqCst here and on that store: a total order to argue in; the
        // wait's own load is Acquire, for the record (`wait_poll_end`).
        l.ring().in_poll.store(session, SeqCst);
        let Some(name) = name else {
            return;
        };
        let mut named = l.named.borrow_mut();
        let named = match &mut *named {
            Some((s, set)) if *s == session => set,
            other => &mut other.insert((session, HashSet::new())).1,
        };
        if named.insert(task) {
            let ev = Ev::Name {
                task,
                name: name.into(),
            };
            // SAFETY: this thread owns its ring.
            unsafe { l.ring().push(Record { ts, session, ev }) };
        }
    });
    PollStart(ts)
}

/// The poll `start` began ended, on P `p`.
#[inline]
pub(crate) fn poll_end(start: PollStart, task: u64, p: usize) {
    if start.0 != 0 {
        poll_end_slow(start.0, task, p);
    }
}

#[cold]
#[inline(never)]
fn poll_end_slow(ts: u64, task: u64, p: usize) {
    let end = now();
    let _ = LOCAL.try_with(|l| {
        let (session, _) = l.current.replace((0, 0));
        if session == 0 {
            return;
        }
        let ev = Ev::Poll {
            task,
            p: u32::try_from(p).unwrap_or(u32::MAX),
            dur: end.saturating_sub(ts),
        };
        // Recorded even if `stop` ran during the poll: it waits for this
        // record (design, step 4). If it gave up waiting, the record is
        // stale and the next session drops it.
        let ring = l.ring();
        // SAFETY: this thread owns its ring.
        unsafe { ring.push(Record { ts, session, ev }) };
        // Release: pairs with `stop_if`'s Acquire load, so the push above
        // is published before `stop` drains this ring.
        ring.in_poll.store(0, Release);
    });
}

/// Between two polls on this thread (`block_on`'s loop): hands the ring
/// to the writer once it is half full.
#[inline]
pub(crate) fn between_polls() {
    if session() != 0 {
        flush(CAP / 2);
    }
}

/// [`between_polls`] for an M, after the poll `start` began (and its
/// requeue): keyed on the poll's own start word, so that the
/// untraced case loads nothing more.
#[inline]
pub(crate) fn after_poll(start: PollStart) {
    if start.0 != 0 {
        flush(CAP / 2);
    }
}

/// Hands this thread's ring to the writer if it holds `at_least` records.
#[cold]
#[inline(never)]
fn flush(at_least: usize) {
    let _ = LOCAL.try_with(|l| {
        let Some(ring) = l.ring.get() else {
            return;
        };
        if ring.len() < at_least.max(1) {
            return;
        }
        let mut s = lock(&SESSION);
        // If stopped meanwhile, the records are leftovers, which the next
        // `start` throws away.
        if let Some(s) = s.as_mut() {
            s.take(ring);
        }
    });
}

/// Task `task` was spawned (by the task this thread polls, if any).
#[inline]
pub(crate) fn spawn(task: u64) {
    if let s @ 1.. = session() {
        record(s, Ev::Spawn { task, parent: 0 });
    }
}

/// Task `task` was made runnable by a wake-up on this thread.
#[inline]
pub(crate) fn wake(task: u64) {
    if let s @ 1.. = session() {
        record(s, Ev::Wake { task, by: 0 });
    }
}

/// Task `task` returned `Pending` and went idle, waiting for `reason()`
/// (the dump's words; asked only while tracing).
#[inline]
pub(crate) fn park(task: u64, reason: impl FnOnce() -> &'static str) {
    if let s @ 1.. = session() {
        let reason = reason();
        record(s, Ev::Park { task, reason });
    }
}

/// The M on this thread, holding P `to`, stole a batch from P `from`
/// and runs `task` of it first.
#[inline]
pub(crate) fn steal(from: usize, to: usize, task: u64) {
    if let s @ 1.. = session() {
        let c = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        record(
            s,
            Ev::Steal {
                from: c(from),
                to: c(to),
                task,
            },
        );
    }
}

/// The M on this thread goes to sleep without a P; its ring is handed to
/// the writer first (it may sleep for long).
#[inline]
pub(crate) fn m_park() {
    if let s @ 1.. = session() {
        record(s, Ev::MPark);
        flush(1);
    }
}

/// The M on this thread woke up.
#[inline]
pub(crate) fn m_unpark() {
    if let s @ 1.. = session() {
        record(s, Ev::MUnpark);
    }
}

/// P `p` is handed to another M (Go's `handoffp`).
#[inline]
pub(crate) fn handoff(p: usize) {
    if let s @ 1.. = session() {
        record(
            s,
            Ev::Handoff {
                p: u32::try_from(p).unwrap_or(u32::MAX),
            },
        );
    }
}

/// sysmon retook P `p`, from a syscall or a long poll.
#[inline]
pub(crate) fn retake(p: usize, syscall: bool) {
    if let s @ 1.. = session() {
        record(
            s,
            Ev::Retake {
                p: u32::try_from(p).unwrap_or(u32::MAX),
                syscall,
            },
        );
    }
}

/// A netpoll on this thread found `n` ready events (recorded when `n > 0`).
#[inline]
#[cfg_attr(loom, allow(dead_code))] // no netpoller under loom
pub(crate) fn netpoll(n: usize) {
    if let s @ 1.. = session() {
        if n > 0 {
            record(
                s,
                Ev::Netpoll {
                    n: u32::try_from(n).unwrap_or(u32::MAX),
                },
            );
        }
    }
}

/// A timer fired on this thread.
#[inline]
pub(crate) fn timer_fired() {
    if let s @ 1.. = session() {
        record(s, Ev::TimerFired);
    }
}
