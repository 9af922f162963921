//! A 4-ary min-heap: the shape of Go's per-P timer heap (`siftupTimer`,
//! `siftdownTimer` in `runtime/time.go`).
//!
//! # Why not `std`'s `BinaryHeap`
//!
//! A P's heap holds up to hundreds of thousands of timers, and popping the
//! earliest one walks from the root to a leaf: `log2(n)` levels in a binary
//! heap, each a cache miss once the heap outgrows the cache. With four
//! children a node the walk is half as deep (`log4(n)`), and the four
//! children of a node sit next to each other in memory, so the extra
//! comparisons a level costs hit lines already fetched. In the harness's
//! `timers` (100 000 timers on two Ps) `BinaryHeap::pop` was the largest
//! single cost of the Ps' Ms after the scheduler loop (`docs/perf-log.md`).
//!
//! # Layout
//!
//! The heap is a `Vec` in level order: the children of slot `i` are slots
//! `4i + 1 ..= 4i + 4`, its parent `(i - 1) / 4`. Every element orders no
//! later than its children by [`Keyed::key`]; keys are unique where the
//! caller needs a stable order (the timer queue's `(when, seq)`).
//!
//! Everything is safe code: an element moves by `swap`, which for the
//! timer queue's 24-byte items costs less than the cache misses around it.

/// What a [`Heap4`] orders by: the smallest key comes out first.
pub(crate) trait Keyed {
    /// The ordering key.
    type Key: Ord + Copy;
    /// This element's key.
    fn key(&self) -> Self::Key;
}

/// Children per node.
const D: usize = 4;

/// A 4-ary min-heap over `T` (module docs).
pub(crate) struct Heap4<T> {
    v: Vec<T>,
}

impl<T> Default for Heap4<T> {
    fn default() -> Self {
        Heap4 { v: Vec::new() }
    }
}

impl<T: Keyed> Heap4<T> {
    /// An empty heap.
    pub(crate) fn new() -> Self {
        Heap4::default()
    }

    /// Builds a heap from `v` in place, in O(n) (Floyd's bottom-up
    /// construction, as `BinaryHeap::from`).
    pub(crate) fn from_vec(v: Vec<T>) -> Self {
        let mut h = Heap4 { v };
        if h.v.len() > 1 {
            let last_parent = (h.v.len() - 2) / D;
            for i in (0..=last_parent).rev() {
                h.sift_down(i);
            }
        }
        h
    }

    /// The elements, in no particular order.
    pub(crate) fn into_vec(self) -> Vec<T> {
        self.v
    }

    /// The elements, in no particular order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.v.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.v.len()
    }

    /// The element with the smallest key.
    pub(crate) fn peek(&self) -> Option<&T> {
        self.v.first()
    }

    pub(crate) fn push(&mut self, x: T) {
        self.v.push(x);
        self.sift_up(self.v.len() - 1);
    }

    /// Removes and returns the element with the smallest key.
    ///
    /// The last element takes the root's place and sinks: first all the
    /// way down along the smallest children without comparing it (it came
    /// from the bottom, so it nearly always belongs near there), then up
    /// to where it fits, the "bottom-up" pop `BinaryHeap::pop` also makes.
    /// That saves a comparison a level against sinking it with a check at
    /// every step.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.v[0], last);
        let end = self.sink_to_bottom(0);
        self.sift_up(end);
        Some(top)
    }

    fn sift_up(&mut self, mut i: usize) {
        let key = self.v[i].key();
        while i > 0 {
            let parent = (i - 1) / D;
            if key >= self.v[parent].key() {
                break;
            }
            self.v.swap(i, parent);
            i = parent;
        }
    }

    /// The slot among `first..end` (children of one node) with the
    /// smallest key.
    #[inline]
    fn min_child(&self, first: usize, end: usize) -> usize {
        let mut min = first;
        let mut min_key = self.v[first].key();
        for c in first + 1..end {
            let k = self.v[c].key();
            if k < min_key {
                min = c;
                min_key = k;
            }
        }
        min
    }

    /// Moves the element at `i` down along the smallest children to a
    /// leaf, without comparing it; returns the slot it ends in.
    fn sink_to_bottom(&mut self, mut i: usize) -> usize {
        let n = self.v.len();
        loop {
            let first = D * i + 1;
            if first >= n {
                return i;
            }
            let min = self.min_child(first, (first + D).min(n));
            self.v.swap(i, min);
            i = min;
        }
    }

    /// Moves the element at `i` down until no child is smaller.
    fn sift_down(&mut self, mut i: usize) {
        let n = self.v.len();
        let key = self.v[i].key();
        loop {
            let first = D * i + 1;
            if first >= n {
                break;
            }
            let min = self.min_child(first, (first + D).min(n));
            if self.v[min].key() >= key {
                break;
            }
            self.v.swap(i, min);
            i = min;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{Heap4, Keyed};
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    impl Keyed for (u64, u64) {
        type Key = (u64, u64);
        fn key(&self) -> (u64, u64) {
            *self
        }
    }

    /// Random pushes, pops and rebuilds (a fixed xorshift seed) against
    /// `std`'s `BinaryHeap` as the model: every pop returns the model's
    /// smallest element, and `peek` and `len` always agree with it.
    #[test]
    fn agrees_with_binary_heap_on_random_operations() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut h: Heap4<(u64, u64)> = Heap4::new();
        let mut model: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
        let mut seq = 0;
        // Miri takes ~10 ms a step: fewer steps there, with rebuilds as
        // often relative to the run.
        let (steps, rebuild) = if cfg!(miri) {
            (1_500, 75)
        } else {
            (200_000, 1_000)
        };
        for step in 0..steps {
            match rand() % 10 {
                0..=5 => {
                    // Few distinct deadlines, so ties are common and `seq`
                    // decides, as in the timer queue.
                    let item = (rand() % 64, seq);
                    seq += 1;
                    h.push(item);
                    model.push(Reverse(item));
                }
                6..=8 => assert_eq!(h.pop(), model.pop().map(|Reverse(i)| i), "step {step}"),
                _ if step % rebuild == 9 => {
                    h = Heap4::from_vec(h.into_vec());
                }
                _ => {}
            }
            assert_eq!(h.len(), model.len());
            assert_eq!(h.peek(), model.peek().map(|Reverse(i)| i));
        }
        while let Some(Reverse(i)) = model.pop() {
            assert_eq!(h.pop(), Some(i));
        }
        assert_eq!(h.pop(), None);
    }

    /// `from_vec` of any order pops in key order.
    #[test]
    fn from_vec_pops_in_order() {
        for n in 0..40u64 {
            let v: Vec<(u64, u64)> = (0..n).map(|i| ((i * 7919) % 13, i)).collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            let mut h = Heap4::from_vec(v);
            let out: Vec<_> = std::iter::from_fn(|| h.pop()).collect();
            assert_eq!(out, sorted);
        }
    }
}
