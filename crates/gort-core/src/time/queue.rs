//! A P's timers: a binary min-heap of deadlines under a mutex, with the
//! earliest deadline mirrored in an atomic so that `schedule()` can tell in
//! one load whether any timer is due (Go's `timer0When`).
//!
//! Why a heap per P rather than a global wheel: a timer is added by the task
//! running on the P (its mutex is uncontended then), the heap gives exact
//! deadlines (no 1 ms rounding, so lateness is the OS wake-up latency), and a
//! million entries cost 16 bytes each plus the entry itself. Stopped timers
//! are deleted lazily, as in Go: they stay in the heap, counted, until they
//! reach the top or until they are half the heap, when it is rebuilt.
//!
//! A stopped entry that leaves the heap with no other owner (its future was
//! dropped: `Arc::get_mut` proves it) is kept, up to [`FREE_MAX`], for the
//! next timer armed on this P. A server that arms a timeout per request and
//! stops it a moment later (hyper's header-read timeout) then allocates no
//! entry per request.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::task::Waker;

use super::entry::TimerEntry;
use crate::loom::{lock, AtomicU64, AtomicUsize, Mutex, Ordering::*};

/// `next_when` when no timer is pending.
pub(crate) const NO_TIMER: u64 = u64::MAX;

struct Item {
    when: u64,
    seq: u64,
    entry: Arc<TimerEntry>,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        (self.when, self.seq) == (o.when, o.seq)
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.when, self.seq).cmp(&(o.when, o.seq))
    }
}

struct Heap {
    items: BinaryHeap<Reverse<Item>>,
    seq: u64,
    /// Stopped entries nobody else holds, ready to be armed again.
    free: Vec<Arc<TimerEntry>>,
}

/// Most recycled entries a queue keeps.
const FREE_MAX: usize = 256;

impl Heap {
    /// Keeps `entry` for reuse if it is stopped and nobody else holds it;
    /// drops it otherwise.
    fn recycle(&mut self, mut entry: Arc<TimerEntry>) {
        if self.free.len() < FREE_MAX {
            if let Some(e) = Arc::get_mut(&mut entry) {
                e.reset();
                self.free.push(entry);
            }
        }
    }
}

pub(crate) struct TimerQueue {
    heap: Mutex<Heap>,
    /// Earliest deadline in the heap (cancelled ones included), or NO_TIMER.
    /// SeqCst: pairs with the SeqCst loads of an M deciding how long to park
    /// (Dekker-style with the `npidle` increment; see `sched::worker`).
    next_when: AtomicU64,
    /// Entries in the heap that were stopped; shared with the entries.
    cancelled: Arc<AtomicUsize>,
}

impl TimerQueue {
    pub(crate) fn new() -> TimerQueue {
        TimerQueue {
            heap: Mutex::new(Heap {
                items: BinaryHeap::new(),
                seq: 0,
                free: Vec::new(),
            }),
            next_when: AtomicU64::new(NO_TIMER),
            cancelled: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The earliest deadline, or NO_TIMER.
    #[inline]
    pub(crate) fn next_when(&self) -> u64 {
        self.next_when.load(SeqCst)
    }

    /// Arms a timer that fires at `when` and wakes `waker`: a recycled
    /// entry if there is one, else a new one. Returns the entry, for the
    /// future to poll and stop.
    pub(crate) fn arm(&self, when: u64, waker: &Waker) -> Arc<TimerEntry> {
        let mut h = lock(&self.heap);
        let entry = h
            .free
            .pop()
            .unwrap_or_else(|| Arc::new(TimerEntry::new(self.cancelled.clone())));
        entry.register(waker);
        self.push(&mut h, entry.clone(), when);
        entry
    }

    /// Queues `entry` to fire at `when`. Returns true if it is the new
    /// earliest deadline.
    fn push(&self, h: &mut Heap, entry: Arc<TimerEntry>, when: u64) -> bool {
        let len = h.items.len();
        if len > 256 && self.cancelled.load(Relaxed) * 2 > len {
            // In place, as `retain` would, but handing each stopped entry
            // to `recycle`.
            let mut items = std::mem::take(&mut h.items).into_vec();
            let mut k = 0;
            while k < items.len() {
                if items[k].0.entry.is_cancelled() {
                    let Reverse(stopped) = items.swap_remove(k);
                    h.recycle(stopped.entry);
                } else {
                    k += 1;
                }
            }
            h.items = BinaryHeap::from(items);
            // Entries cancelled while we sweep may or may not have been
            // removed; recount exactly under the lock.
            let still = h
                .items
                .iter()
                .filter(|Reverse(i)| i.entry.is_cancelled())
                .count();
            self.cancelled.store(still, Relaxed);
        }
        let seq = h.seq;
        h.seq += 1;
        h.items.push(Reverse(Item { when, seq, entry }));
        let earliest = h.items.peek().map_or(NO_TIMER, |Reverse(i)| i.when);
        self.next_when.store(earliest, SeqCst);
        earliest == when
    }

    /// Fires every timer due at `now`, returning how many fired. Wakers run
    /// after the lock is released.
    pub(crate) fn run(&self, now: u64) -> usize {
        if self.next_when() > now {
            return 0;
        }
        let mut wake: Vec<Waker> = Vec::new();
        {
            let mut h = lock(&self.heap);
            while let Some(Reverse(top)) = h.items.peek() {
                if top.when > now {
                    break;
                }
                let Reverse(item) = h.items.pop().expect("peeked");
                if item.entry.is_cancelled() {
                    self.cancelled.fetch_sub(1, Relaxed);
                    h.recycle(item.entry);
                    continue;
                }
                if let Some(w) = item.entry.fire() {
                    wake.push(w);
                }
            }
            let earliest = h.items.peek().map_or(NO_TIMER, |Reverse(i)| i.when);
            self.next_when.store(earliest, SeqCst);
        }
        let n = wake.len();
        for w in wake {
            w.wake();
        }
        n
    }

    /// Number of recycled entries kept.
    #[cfg(test)]
    fn heap_free_len(&self) -> usize {
        lock(&self.heap).free.len()
    }

    /// Number of queued entries (stopped ones included).
    #[allow(dead_code)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.heap).items.len()
    }

    /// Drops every entry (at runtime shutdown), releasing their wakers
    /// first: a waker may own the future that owns the entry (as
    /// `time::after`'s does), a cycle that only taking the waker breaks.
    pub(crate) fn clear(&self) {
        let items = std::mem::take(&mut lock(&self.heap).items);
        self.next_when.store(NO_TIMER, SeqCst);
        for Reverse(item) in &items {
            drop(item.entry.take_waker());
        }
        drop(items);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::TimerQueue;
    use futures::task::noop_waker_ref;
    use std::sync::Arc;

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

    /// The rebuild that drops stopped entries (more than half of a heap of
    /// over 256) recycles them, and the live ones still fire, once each.
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
        // Each arm past 256 queued with over half of them stopped rebuilt
        // the heap.
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
