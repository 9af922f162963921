//! A P's timers: a 4-ary min-heap of deadlines (`heap4.rs`, Go's shape)
//! under a mutex, with the earliest deadline mirrored in an atomic so that
//! `schedule()` can tell in one load whether any timer is due (Go's
//! `timer0When`).
//!
//! Why a heap per P rather than a global wheel: a timer is added by the task
//! running on the P (its mutex is uncontended then), the heap gives exact
//! deadlines (no 1 ms rounding, so lateness is the OS wake-up latency), and a
//! million entries cost 16 bytes each plus the entry itself. Stopped timers
//! are deleted lazily, as in Go: they stay in the heap until they reach the
//! top, or until the heap has doubled since it last held only live entries
//! (`Heap::sweep_at`), when it is swept and rebuilt. Go counts its stopped
//! timers (`zombies`) to decide when; that count is an atomic that every
//! stop, on any M, writes, and for a server that stops a timeout per request
//! on whichever M runs the connection, the cache line it moves cost more
//! than the sweeps it saves: a sweep only runs after as many arms as the
//! entries it scans.
//!
//! `next_when` sits on its own cache line, and an arm writes it only when
//! the earliest deadline changes: other Ms read it on every steal and park
//! decision, and a write on each arm took the line from them.
//!
//! A stopped entry that leaves the heap with no other owner (its future was
//! dropped: `Arc::get_mut` proves it) is kept, up to [`FREE_MAX`], for the
//! next timer armed on this P. A server that arms a timeout per request and
//! stops it a moment later (hyper's header-read timeout) then allocates no
//! entry per request.

use std::sync::Arc;
use std::task::Waker;

use super::entry::TimerEntry;
use super::heap4::{Heap4, Keyed};
use crate::loom::{lock, AtomicU64, Mutex, Ordering::*};

/// `next_when` when no timer is pending.
pub(crate) const NO_TIMER: u64 = u64::MAX;

struct Item {
    when: u64,
    seq: u64,
    entry: Arc<TimerEntry>,
}

/// Earliest deadline first; among equal deadlines, the one armed first.
/// One `u128` (`when` in the high half), so a comparison is two
/// instructions, not a tuple's branches.
impl Keyed for Item {
    type Key = u128;
    #[inline]
    fn key(&self) -> u128 {
        (u128::from(self.when) << 64) | u128::from(self.seq)
    }
}

struct Heap {
    items: Heap4<Item>,
    /// Set by `clear` at runtime shutdown: `arm` then hands out an entry
    /// that has fired already, so no waiter is left for a timer nobody will
    /// ever fire (a `Handle::block_on` on another thread, say).
    closed: bool,
    seq: u64,
    /// Stopped entries nobody else holds, ready to be armed again.
    free: Vec<Arc<TimerEntry>>,
    /// The length at which an arm sweeps stopped entries out first: twice
    /// what the last sweep left, and at least [`SWEEP_MIN`]. So the live
    /// entries are never less than half the heap for long, and each sweep
    /// is paid for by the arms since the last one.
    sweep_at: usize,
}

/// Most recycled entries a queue keeps.
const FREE_MAX: usize = 256;

/// The smallest heap that is swept.
const SWEEP_MIN: usize = 256;

/// `T` alone on its cache line (128 bytes: adjacent-line prefetch pairs
/// lines on x86, and some ARM cores have 128-byte lines).
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl Heap {
    /// Keeps `entry` for reuse if it is stopped and nobody else holds it;
    /// drops it otherwise. The waker it held goes to `later`, to be dropped
    /// once the lock is released (`TimerEntry::reset`).
    fn recycle(&mut self, mut entry: Arc<TimerEntry>, later: &mut Vec<Waker>) {
        if self.free.len() < FREE_MAX {
            if let Some(e) = Arc::get_mut(&mut entry) {
                later.extend(e.reset());
                self.free.push(entry);
                return;
            }
        }
        later.extend(entry.take_waker());
    }
}

pub(crate) struct TimerQueue {
    heap: Mutex<Heap>,
    /// Earliest deadline in the heap (cancelled ones included), or NO_TIMER.
    /// SeqCst: pairs with the SeqCst loads of an M deciding how long to park
    /// (Dekker-style with the `npidle` increment; see `sched::worker`).
    /// Written only under `heap`'s lock.
    next_when: Padded<AtomicU64>,
}

impl TimerQueue {
    pub(crate) fn new() -> TimerQueue {
        TimerQueue {
            heap: Mutex::new(Heap {
                items: Heap4::new(),
                closed: false,
                seq: 0,
                free: Vec::new(),
                sweep_at: SWEEP_MIN,
            }),
            next_when: Padded(AtomicU64::new(NO_TIMER)),
        }
    }

    /// The earliest deadline, or NO_TIMER.
    #[inline]
    pub(crate) fn next_when(&self) -> u64 {
        self.next_when.0.load(SeqCst)
    }

    /// Publishes the heap's earliest deadline, if it changed. Called with
    /// the lock held (`_h`), the only place `next_when` is written, so the
    /// load cannot miss a concurrent store; an unchanged value is not
    /// stored, and the Ms reading it keep their copy of the line.
    fn publish_earliest(&self, _h: &Heap, earliest: u64) {
        // Relaxed load: every store is made under the lock we hold.
        if self.next_when.0.load(Relaxed) != earliest {
            self.next_when.0.store(earliest, SeqCst);
        }
    }

    /// Arms a timer that fires at `when` and wakes `waker`: a recycled
    /// entry if there is one, else a new one. Returns the entry, for the
    /// future to poll and stop.
    pub(crate) fn arm(&self, when: u64, waker: &Waker) -> Arc<TimerEntry> {
        let mut later = Vec::new();
        let mut h = lock(&self.heap);
        if h.closed {
            // The runtime has shut down: nobody will fire it.
            let entry = Arc::new(TimerEntry::new());
            drop(entry.fire());
            return entry;
        }
        let entry = h.free.pop().unwrap_or_else(|| Arc::new(TimerEntry::new()));
        entry.register(waker);
        self.push(&mut h, entry.clone(), when, &mut later);
        drop(h);
        drop(later);
        entry
    }

    /// Queues `entry` to fire at `when`. Returns true if it is the new
    /// earliest deadline. Wakers of the entries a sweep recycles go to
    /// `later`.
    fn push(
        &self,
        h: &mut Heap,
        entry: Arc<TimerEntry>,
        when: u64,
        later: &mut Vec<Waker>,
    ) -> bool {
        if h.items.len() >= h.sweep_at {
            Self::sweep(h, later);
        }
        let seq = h.seq;
        h.seq += 1;
        h.items.push(Item { when, seq, entry });
        let earliest = h.items.peek().map_or(NO_TIMER, |i| i.when);
        self.publish_earliest(h, earliest);
        earliest == when
    }

    /// Drops the stopped entries from the heap, handing each to `recycle`,
    /// and sets the next sweep at twice what is left. The earliest deadline
    /// can only grow, so `next_when` may keep a stopped entry's: an early
    /// look at the heap, never a missed timer.
    fn sweep(h: &mut Heap, later: &mut Vec<Waker>) {
        // In place, as `retain` would, but handing each stopped entry to
        // `recycle`.
        let mut items = std::mem::take(&mut h.items).into_vec();
        let mut k = 0;
        while k < items.len() {
            if items[k].entry.is_cancelled() {
                let stopped = items.swap_remove(k);
                h.recycle(stopped.entry, later);
            } else {
                k += 1;
            }
        }
        h.items = Heap4::from_vec(items);
        h.sweep_at = (h.items.len() * 2).max(SWEEP_MIN);
    }

    /// Fires every timer due at `now`, returning how many fired. Wakers run
    /// after the lock is released.
    pub(crate) fn run(&self, now: u64) -> usize {
        self.run_at_most(now, usize::MAX)
    }

    /// Fires at most `max` of the timers due at `now`, earliest first, and
    /// returns how many fired; the rest stay in the heap, due, and
    /// `next_when` still says so. Stopped entries met on the way are
    /// dropped without counting. An M firing into its P's timer-ready
    /// queue passes the room left there (`Worker::fire_into`): a burst of
    /// timers due in the same millisecond (thousands, under a load like
    /// the harness's `timers`) would otherwise spill past that queue into
    /// the local queue and from there to the tail of the global queue,
    /// behind every task waiting there, and those tasks' wake-ups come
    /// tens of milliseconds late. Left in the heap, they fire at this P's
    /// next `schedule`, or from a thief's last pass, or on sysmon's
    /// overdue-timer `wakep`, in deadline order.
    pub(crate) fn run_at_most(&self, now: u64, max: usize) -> usize {
        if max == 0 || self.next_when() > now {
            return 0;
        }
        let mut wake: Vec<Waker> = Vec::new();
        let mut later: Vec<Waker> = Vec::new();
        {
            let mut h = lock(&self.heap);
            while let Some(top) = h.items.peek() {
                if top.when > now || wake.len() == max {
                    break;
                }
                let item = h.items.pop().expect("peeked");
                if item.entry.is_cancelled() {
                    h.recycle(item.entry, &mut later);
                    continue;
                }
                if let Some(w) = item.entry.fire() {
                    wake.push(w);
                }
            }
            let earliest = h.items.peek().map_or(NO_TIMER, |i| i.when);
            self.publish_earliest(&h, earliest);
        }
        drop(later);
        let n = wake.len();
        for w in wake {
            crate::exectrace::timer_fired();
            wake_caught(w);
        }
        n
    }

    /// Moves every live timer to `dst` (a P that `set_gomaxprocs` removed
    /// hands its timers to one that stays), dropping stopped entries.
    /// Returns the earliest deadline moved, or `NO_TIMER`. The two locks
    /// are never held together; a timer in transit is in neither heap for
    /// that moment, and fires from `dst` once it is there (a `run` on
    /// either heap meanwhile does not see it: at most that much late).
    pub(crate) fn move_into(&self, dst: &TimerQueue) -> u64 {
        let mut later = Vec::new();
        let mut wake: Vec<Waker> = Vec::new();
        let items = {
            let mut h = lock(&self.heap);
            let items = std::mem::take(&mut h.items).into_vec();
            self.publish_earliest(&h, NO_TIMER);
            items
        };
        if items.is_empty() {
            return NO_TIMER;
        }
        let mut earliest = NO_TIMER;
        let mut h = lock(&dst.heap);
        for item in items {
            if item.entry.is_cancelled() {
                h.recycle(item.entry, &mut later);
                continue;
            }
            if h.closed {
                // The runtime shut down meanwhile: as `clear` does.
                wake.extend(item.entry.fire());
                continue;
            }
            earliest = earliest.min(item.when);
            dst.push(&mut h, item.entry, item.when, &mut later);
        }
        drop(h);
        // With no lock held: stopped entries' wakers dropped, a closed
        // queue's entries' woken.
        drop(later);
        for w in wake {
            wake_caught(w);
        }
        earliest
    }

    /// Number of recycled entries kept.
    #[cfg(all(test, not(loom)))]
    fn heap_free_len(&self) -> usize {
        lock(&self.heap).free.len()
    }

    /// Number of queued entries (stopped ones included), for `scheddetail`.
    pub(crate) fn len(&self) -> usize {
        lock(&self.heap).items.len()
    }

    /// At runtime shutdown: fires every pending entry and closes the queue
    /// (`arm` then hands out fired entries). Waking takes each waker out of
    /// its entry, which also breaks the cycle of a waker that owns the
    /// future owning the entry (as `time::after`'s does). A task woken now
    /// is cancelled instead of run; a `block_on` future on another thread
    /// (through a `Handle`) sees its sleep end rather than wait forever.
    pub(crate) fn clear(&self) {
        let mut h = lock(&self.heap);
        h.closed = true;
        let items = std::mem::take(&mut h.items);
        let free = std::mem::take(&mut h.free);
        self.publish_earliest(&h, NO_TIMER);
        drop(h);
        for item in items.iter() {
            match item.entry.fire() {
                Some(w) => wake_caught(w),
                None => drop(item.entry.take_waker()),
            }
        }
        drop(items);
        drop(free);
    }
}

/// Wakes `w`, catching a panic from its `wake`: a timer's waker may be
/// anyone's (a foreign future polled by hand inside a task), and its panic
/// must neither unwind into the worker that fires timers (which treats a
/// panic as a scheduler bug and aborts) nor skip the timers after it in the
/// batch. The panic is reported on stderr and swallowed, as a thread
/// hook's is (docs/semantics.md).
fn wake_caught(w: Waker) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || w.wake()));
    if r.is_err() {
        tracing::error!("a timer's waker panicked in wake");
        eprintln!("gort: a timer's waker panicked in wake; the panic is ignored");
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::TimerQueue;
    use futures::task::noop_waker_ref;
    use std::sync::Arc;

    /// `run_at_most` fires the earliest due timers up to its limit, skips
    /// stopped entries without counting them, and leaves the rest due and
    /// advertised in `next_when` for the next call.
    #[test]
    fn run_at_most_fires_the_earliest_and_leaves_the_rest_due() {
        let q = TimerQueue::new();
        let entries: Vec<_> = [30, 10, 20, 40, 50]
            .into_iter()
            .map(|when| (when, q.arm(when, noop_waker_ref())))
            .collect();
        let stopped = q.arm(5, noop_waker_ref());
        assert!(stopped.cancel());
        let fired = |whens: &[u64]| {
            entries
                .iter()
                .all(|(w, e)| e.is_fired() == whens.contains(w))
        };
        assert_eq!(q.run_at_most(45, 0), 0);
        assert_eq!(q.next_when(), 5, "nothing was popped at limit 0");
        assert_eq!(q.run_at_most(45, 2), 2);
        assert!(fired(&[10, 20]), "the two earliest live timers fire first");
        assert_eq!(q.next_when(), 30, "the rest stay due and advertised");
        assert_eq!(q.run_at_most(45, 5), 2);
        assert!(fired(&[10, 20, 30, 40]));
        assert_eq!(q.next_when(), 50, "not due yet at 45");
        assert_eq!(q.run(60), 1);
        assert!(fired(&[10, 20, 30, 40, 50]));
    }

    /// A stopped entry whose future is gone comes back from `arm`, pending
    /// again and firing; one a future still holds is never reused.
    #[test]
    fn stopped_entries_are_reused_only_when_nobody_holds_them() {
        let q = TimerQueue::new();
        let a = q.arm(10, noop_waker_ref());
        let held = q.arm(20, noop_waker_ref());
        assert!(a.cancel());
        assert!(held.cancel());
        let a_ptr = Arc::as_ptr(&a);
        drop(a);
        // Both reach the top, stopped: `a` is recycled, `held` is not.
        assert_eq!(q.run(30), 0);
        let b = q.arm(40, noop_waker_ref());
        assert_eq!(Arc::as_ptr(&b), a_ptr, "the stopped entry was not reused");
        assert!(
            !b.is_fired() && !b.is_cancelled(),
            "a reused entry is pending"
        );
        let c = q.arm(50, noop_waker_ref());
        assert_ne!(
            Arc::as_ptr(&c),
            Arc::as_ptr(&held),
            "an entry still held was reused"
        );
        assert!(
            held.is_cancelled(),
            "the held entry changed under its owner"
        );
        assert_eq!(q.run(60), 2);
        assert!(b.is_fired() && c.is_fired());
    }

    /// Armed and stopped again and again beside `live` pending timers (a
    /// server's per-request timeout), the heap never holds more than
    /// twice the live entries, or `SWEEP_MIN`, plus one; every live timer
    /// still fires once.
    #[test]
    fn stopped_entries_never_outnumber_live_ones_for_long() {
        let lives: &[u64] = if cfg!(miri) {
            &[0, 300]
        } else {
            &[0, 10, 300, 2_000]
        };
        for &live_n in lives {
            let q = TimerQueue::new();
            let live: Vec<_> = (0..live_n)
                .map(|i| q.arm(1_000_000 + i, noop_waker_ref()))
                .collect();
            let bound = (2 * live_n as usize).max(super::SWEEP_MIN) + 1;
            let rounds = if cfg!(miri) { 1_000 } else { 20_000 };
            for i in 0..rounds {
                let e = q.arm(2_000_000 + i, noop_waker_ref());
                assert!(q.len() <= bound, "{} queued beside {live_n} live", q.len());
                assert!(e.cancel());
            }
            assert_eq!(q.run(u64::MAX - 1), live_n as usize);
            assert!(live.iter().all(|e| e.is_fired()));
            assert_eq!(q.len(), 0);
        }
    }

    /// `next_when` follows the earliest deadline through arms, firing and
    /// `clear`, whether or not the arm changed it.
    #[test]
    fn next_when_is_the_earliest_deadline() {
        let q = TimerQueue::new();
        assert_eq!(q.next_when(), super::NO_TIMER);
        let _b = q.arm(50, noop_waker_ref());
        assert_eq!(q.next_when(), 50);
        let _c = q.arm(70, noop_waker_ref());
        assert_eq!(q.next_when(), 50, "a later deadline moved it");
        let _a = q.arm(20, noop_waker_ref());
        assert_eq!(q.next_when(), 20);
        assert_eq!(q.run(60), 2);
        assert_eq!(q.next_when(), 70);
        q.clear();
        assert_eq!(q.next_when(), super::NO_TIMER);
    }

    /// The sweep that drops stopped entries (once the heap reaches
    /// `sweep_at`, at least 256) recycles them, and the live ones still
    /// fire, once each.
    #[test]
    fn a_rebuild_recycles_stopped_entries_and_keeps_live_ones() {
        let q = TimerQueue::new();
        let live: Vec<_> = (0..100)
            .map(|i| q.arm(1_000 + i, noop_waker_ref()))
            .collect();
        for i in 0..300 {
            let e = q.arm(2_000 + i, noop_waker_ref());
            assert!(e.cancel());
        }
        // The arm that found 256 queued swept the stopped ones out.
        let last = q.arm(5_000, noop_waker_ref());
        assert!(q.len() < 401, "no rebuild: {} queued", q.len());
        assert!(q.heap_free_len() > 0, "the rebuild recycled nothing");
        assert_eq!(q.run(10_000), 101);
        assert!(live.iter().all(|e| e.is_fired()) && last.is_fired());
        // Recycled entries are handed out again, pending.
        let again = q.arm(20_000, noop_waker_ref());
        assert!(!again.is_fired() && !again.is_cancelled());
    }
}
