//! The owned list: every live task of a runtime, so that shutdown can drop
//! every future and the goroutine dump can list every task (Go's `allgs`).
//!
//! An intrusive doubly linked list through the headers' `owned_prev` /
//! `owned_next`, split into shards by task id so that spawns and completions
//! on different Ps rarely meet on one mutex. Each entry holds one reference.
//!
//! Closing (at shutdown) takes every shard's lock, marks it closed and moves
//! all entries out at once; afterwards `insert` refuses and `release` finds
//! nothing, so a task removed by shutdown is never unlinked twice.

use std::ptr::NonNull;

use super::{Header, Task};
use crate::loom::{lock, Mutex};

struct Shard {
    head: Option<NonNull<Header>>,
    /// Tasks in this shard. Counted here, under the shard's lock, rather
    /// than in one atomic for the list: that atomic was a cache line every
    /// spawn and every completion wrote, from whichever M ran them.
    len: usize,
    closed: bool,
}

// SAFETY: the raw pointers are task references owned by the list; they are
// only followed under the shard's mutex, and tasks are Send.
unsafe impl Send for Shard {}

/// A shard's mutex on a line of its own (128 bytes: a pair of lines, for
/// the adjacent-line prefetcher): unpadded, two shards shared a line, and
/// a spawn on one M and a completion on another contended for it even in
/// different shards.
#[repr(align(128))]
struct PaddedShard(Mutex<Shard>);

pub(crate) struct OwnedTasks {
    shards: Box<[PaddedShard]>,
    mask: usize,
}

impl OwnedTasks {
    pub(crate) fn new(procs: usize) -> OwnedTasks {
        // One shard under loom: task ids come from a process-wide counter,
        // so the shard a task lands in would differ between the runs loom
        // replays a schedule with.
        let n = if cfg!(loom) {
            1
        } else {
            (procs * 8).next_power_of_two().clamp(16, 128)
        };
        let shards = (0..n)
            .map(|_| {
                PaddedShard(Mutex::new(Shard {
                    head: None,
                    len: 0,
                    closed: false,
                }))
            })
            .collect();
        OwnedTasks {
            shards,
            mask: n - 1,
        }
    }

    fn shard(&self, h: &Header) -> &Mutex<Shard> {
        &self.shards[(h.id.0 as usize) & self.mask].0
    }

    /// Adds a task; gives it back if the list is closed (the runtime is
    /// shutting down).
    pub(crate) fn insert(&self, task: Task) -> Result<(), Task> {
        let mut shard = lock(self.shard(task.header()));
        if shard.closed {
            return Err(task);
        }
        let ptr = task.into_raw();
        // SAFETY: we hold the shard's lock, which guards the links of every
        // task in it; `ptr` is a live task whose reference the list now owns.
        unsafe {
            let h = ptr.as_ref();
            h.owned_prev.with_mut(|p| *p = None);
            h.owned_next.with_mut(|n| *n = shard.head);
            if let Some(old) = shard.head {
                old.as_ref().owned_prev.with_mut(|p| *p = Some(ptr));
            }
        }
        shard.head = Some(ptr);
        shard.len += 1;
        Ok(())
    }

    /// Unlinks a completed task, returning the list's reference, or `None`
    /// if shutdown already took it.
    pub(crate) fn release(&self, task: &Task) -> Option<Task> {
        let mut shard = lock(self.shard(task.header()));
        if shard.closed {
            return None;
        }
        let ptr = task.header_ptr();
        // SAFETY: shard lock held; the task is in this shard because it was
        // inserted (spawn inserts before the task can run) and only
        // completion or shutdown remove it, each once.
        unsafe {
            let h = ptr.as_ref();
            let prev = h.owned_prev.with(|p| *p);
            let next = h.owned_next.with(|n| *n);
            match prev {
                Some(p) => p.as_ref().owned_next.with_mut(|n| *n = next),
                None => shard.head = next,
            }
            if let Some(n) = next {
                n.as_ref().owned_prev.with_mut(|p| *p = prev);
            }
            shard.len -= 1;
            Some(Task::from_raw(ptr))
        }
    }

    /// Closes the list and returns every task in it.
    pub(crate) fn close_and_drain(&self) -> Vec<Task> {
        let mut out = Vec::new();
        for PaddedShard(s) in self.shards.iter() {
            let mut shard = lock(s);
            shard.closed = true;
            let mut cur = shard.head.take();
            shard.len = 0;
            while let Some(ptr) = cur {
                // SAFETY: shard lock held; each entry is a list reference.
                cur = unsafe { ptr.as_ref().owned_next.with(|n| *n) };
                // SAFETY: the list's reference moves to the returned Task.
                out.push(unsafe { Task::from_raw(ptr) });
            }
        }
        out
    }

    /// Number of live tasks: the shards' counts, each read under its lock
    /// (a statistic: tasks spawned or finished meanwhile may or may not
    /// count).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|PaddedShard(s)| lock(s).len).sum()
    }

    /// Calls `f` on every live task's header, shard by shard, under the
    /// shard's lock. `f` must not spawn or complete tasks.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Header)) {
        for PaddedShard(s) in self.shards.iter() {
            let shard = lock(s);
            let mut cur = shard.head;
            while let Some(ptr) = cur {
                // SAFETY: shard lock held; the list's reference keeps it alive.
                let h = unsafe { ptr.as_ref() };
                f(h);
                // SAFETY: shard lock held: the links are ours to read.
                cur = h.owned_next.with(|n| unsafe { *n });
            }
        }
    }
}

impl OwnedTasks {
    /// Whether every live task is idle and held only by gort: neither
    /// running nor notified, and no reference beyond the list's, the
    /// `JoinHandle`'s and its parked wakers' (`sched/deadlock.rs`, 4).
    pub(crate) fn all_asleep_in_gort(&self) -> bool {
        let mut asleep = true;
        self.for_each(|h| {
            let s = h.state.load();
            if s.is_running() || s.is_notified() || s.is_complete() {
                asleep = false;
                return;
            }
            let gorts = 1 + u64::from(s.is_join_interested()) + s.parked_count();
            if s.ref_count() != gorts {
                asleep = false;
            }
        });
        asleep
    }
}

#[cfg(all(test, not(loom)))]
impl OwnedTasks {
    /// Whether every shard is closed (tests).
    pub(crate) fn insert_closed_check(&self) -> bool {
        self.shards.iter().all(|PaddedShard(s)| lock(s).closed)
    }
}
