//! One thread's event buffer: a fixed-capacity single-producer,
//! single-consumer ring (Lamport's queue, as in Vyukov's SPSC notes).
//!
//! The producer is the thread that owns the ring (an M, or any thread that
//! records an event): it writes a slot, then publishes it by advancing
//! `tail`. The consumer is whoever holds the trace's writer lock
//! (`mod.rs`, `SESSION`): the owner itself when it flushes between polls,
//! or `stop()` draining every ring. The lock makes consumers one at a
//! time, so `head` has one writer at any moment, and the producer never
//! takes a lock.
//!
//! Invariants:
//!
//! 1. `head <= tail <= head + CAP` (indices grow without bound; a slot is
//!    `index % CAP`).
//! 2. Slots `[head, tail)` hold initialized records the consumer has not
//!    read; the others are free (their contents moved out or never
//!    written).
//! 3. Only the producer writes `tail` and the free slots; only the
//!    consumer (under the lock) writes `head` and moves records out.
//!
//! A full ring drops the record and counts it (`dropped`): the producer
//! never waits for a consumer, so recording stays bounded in time and in
//! memory.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};

/// Records one ring holds: at 48 bytes a record, under 200 KiB per thread
/// that records while tracing is on.
pub(crate) const CAP: usize = 4096;

/// What happened, without its time.
#[derive(Debug)]
pub(crate) enum Ev {
    /// A task poll that began at the record's `ts` and lasted `dur` ns, on
    /// P `p`.
    Poll { task: u64, p: u32, dur: u64 },
    /// `task` was spawned by `parent` (0: not from a task).
    Spawn { task: u64, parent: u64 },
    /// `task` was made runnable by a wake from `by` (0: not from a task).
    Wake { task: u64, by: u64 },
    /// The thief's P `to` took a batch from P `from`; `task` is the one it
    /// runs first.
    Steal { from: u32, to: u32, task: u64 },
    /// `task` returned `Pending` and went idle, waiting for `reason`.
    Park { task: u64, reason: &'static str },
    /// This M went to sleep with no P.
    MPark,
    /// This M woke from `MPark`.
    MUnpark,
    /// P `p` was handed to another M (Go's `handoffp`).
    Handoff { p: u32 },
    /// sysmon retook P `p` from a syscall (`syscall`) or a long poll.
    Retake { p: u32, syscall: bool },
    /// A netpoll found `n` ready events.
    #[cfg_attr(loom, allow(dead_code))] // no netpoller under loom
    Netpoll { n: u32 },
    /// A timer fired.
    TimerFired,
    /// `task`'s name, recorded once per thread before its first poll slice.
    Name { task: u64, name: Box<str> },
}

/// One event: its time (ns since the process epoch, `mod.rs`), the trace
/// session it belongs to, and what happened.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) ts: u64,
    pub(crate) session: u64,
    pub(crate) ev: Ev,
}

/// Whose ring: an M's (its track is the M's id) or another thread's.
#[derive(Debug, Clone)]
pub(crate) enum Track {
    M(u32),
    Thread { serial: u32, name: String },
}

pub(crate) struct Ring {
    slots: Box<[UnsafeCell<MaybeUninit<Record>>]>,
    /// The next slot to read; written by the consumer only.
    head: AtomicUsize,
    /// The next slot to write; written by the producer only.
    tail: AtomicUsize,
    /// Records dropped because the ring was full, not yet reported.
    dropped: AtomicU64,
    /// The session of the traced poll running on the owner thread whose
    /// record is not pushed yet, or 0: what `stop` waits on (`mod.rs`,
    /// "Stop"). Written by the owner only.
    pub(crate) in_poll: AtomicU64,
    pub(crate) track: Track,
}

// SAFETY: the slots are shared between the producer (free slots) and the
// consumer (published slots), never the same slot at once: invariants 2
// and 3, with `tail`'s Release/Acquire handing a written slot to the
// consumer and `head`'s handing a read slot back. `Record` is `Send`.
unsafe impl Sync for Ring {}
// SAFETY: as above; moving the ring moves owned records.
unsafe impl Send for Ring {}

impl Ring {
    pub(crate) fn new(track: Track) -> Ring {
        Ring {
            slots: (0..CAP)
                .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
                .collect(),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            in_poll: AtomicU64::new(0),
            track,
        }
    }

    /// Appends a record, or drops and counts it when the ring is full.
    ///
    /// # Safety
    ///
    /// Called only by the ring's owner thread (the single producer).
    pub(crate) unsafe fn push(&self, rec: Record) {
        let t = self.tail.load(Relaxed);
        // Acquire: pairs with the consumer's Release store of `head`, so
        // its reads of the slots it freed happen before our overwrite.
        let h = self.head.load(Acquire);
        if t - h == CAP {
            // Only on a full ring; a read-modify-write because the
            // consumer swaps the count out concurrently.
            self.dropped.fetch_add(1, Relaxed);
            return;
        }
        // SAFETY: slot `t` is free (invariant 2: `t - h < CAP`) and only
        // this thread writes free slots (invariant 3, the caller's
        // contract).
        unsafe { (*self.slots[t % CAP].get()).write(rec) };
        // Release: pairs with the consumer's Acquire load of `tail`,
        // publishing the slot written above.
        self.tail.store(t + 1, Release);
    }

    /// How many records wait to be read (the producer's view: exact for
    /// the owner, which alone adds them).
    pub(crate) fn len(&self) -> usize {
        self.tail.load(Relaxed) - self.head.load(Relaxed)
    }

    /// Moves every published record out, in order, to `f`, and returns
    /// the count of records dropped since the last drain.
    ///
    /// # Safety
    ///
    /// Called only by the consumer: with the trace's writer lock held,
    /// which makes consumers one at a time.
    pub(crate) unsafe fn drain(&self, mut f: impl FnMut(Record)) -> u64 {
        // Relaxed: only consumers write `head`, one at a time, and the
        // writer lock orders one consumer's store before the next's load.
        let h = self.head.load(Relaxed);
        // Acquire: pairs with the producer's Release store of `tail`.
        let t = self.tail.load(Acquire);
        for i in h..t {
            // SAFETY: slots `[h, t)` are published and unread (invariant
            // 2); moving the record out leaves the slot free, which the
            // `head` store below hands back.
            let rec = unsafe { (*self.slots[i % CAP].get()).assume_init_read() };
            f(rec);
        }
        // Release: pairs with the producer's Acquire load of `head`.
        self.head.store(t, Release);
        self.dropped.swap(0, Relaxed)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let (h, t) = (*self.head.get_mut(), *self.tail.get_mut());
        for i in h..t {
            // SAFETY: `&mut self`: no producer or consumer remains, and
            // slots `[h, t)` are initialized and unread (invariant 2).
            unsafe { self.slots[i % CAP].get_mut().assume_init_drop() };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn rec(i: u64) -> Record {
        Record {
            ts: i,
            session: 1,
            ev: Ev::Name {
                task: i,
                name: format!("t{i}").into(),
            },
        }
    }

    #[test]
    fn full_ring_drops_and_counts_then_recycles() {
        let r = Ring::new(Track::M(0));
        for i in 0..(CAP as u64 + 10) {
            // SAFETY: this thread is the only producer.
            unsafe { r.push(rec(i)) };
        }
        assert_eq!(r.len(), CAP);
        let mut seen = Vec::new();
        // SAFETY: the only consumer.
        let dropped = unsafe { r.drain(|rec| seen.push(rec.ts)) };
        assert_eq!(dropped, 10);
        assert_eq!(seen, (0..CAP as u64).collect::<Vec<_>>());
        // The slots are free again, and the records left unread are
        // dropped with the ring (Miri/ASan would catch a leak or a double
        // drop of the names).
        for i in 0..5 {
            // SAFETY: as above.
            unsafe { r.push(rec(i)) };
        }
        assert_eq!(r.len(), 5);
    }
}
