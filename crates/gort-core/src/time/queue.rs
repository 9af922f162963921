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
            }),
            next_when: AtomicU64::new(NO_TIMER),
            cancelled: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The counter an entry bumps when it is stopped while queued here.
    pub(crate) fn cancel_counter(&self) -> Arc<AtomicUsize> {
        self.cancelled.clone()
    }

    /// The earliest deadline, or NO_TIMER.
    #[inline]
    pub(crate) fn next_when(&self) -> u64 {
        self.next_when.load(SeqCst)
    }

    /// Queues `entry` to fire at `when`. Returns true if it is the new
    /// earliest deadline.
    pub(crate) fn add(&self, entry: Arc<TimerEntry>, when: u64) -> bool {
        let mut h = lock(&self.heap);
        let len = h.items.len();
        if len > 256 && self.cancelled.load(Relaxed) * 2 > len {
            h.items.retain(|Reverse(i)| !i.entry.is_cancelled());
            // Entries cancelled while we retain may or may not have been
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
