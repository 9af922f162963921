//! `allp`: every P the runtime has made, at fixed addresses (Go's `allp`).
//!
//! Ms, sysmon and the timers hold `&P` and P indices for as long as they
//! like, so a P never moves once made. The Ps the runtime was built with
//! are one boxed slice, reached by a bounds check (the hot path: an M's
//! own P on every poll). `set_gomaxprocs` may later ask for more: they go
//! in segments, the k-th holding `first.len() << k` Ps, each made once
//! (under the resize lock) and never freed before the runtime is, so the
//! capacity doubles at each segment and 26 segments reach any count an
//! address space can hold. Go reallocates its `allp` slice of pointers
//! instead, under stop-the-world; gort has no world to stop, so its
//! array may only grow in place.
//!
//! Which of the Ps run tasks (the first `gomaxprocs`) is not this file's
//! business: see `procresize.rs`.

use std::sync::OnceLock;

use super::p::P;
use crate::loom::{AtomicUsize, Ordering::*};

/// Segments after the first slice: enough to double 26 times.
const SEGMENTS: usize = 26;

pub(crate) struct AllP {
    first: Box<[P]>,
    more: [OnceLock<Box<[P]>>; SEGMENTS],
    /// Ps made so far. Release when a segment is made, Acquire when read,
    /// so a reader that counts a P sees its segment set.
    made: AtomicUsize,
}

impl AllP {
    /// `n` Ps, ids `0..n` (at least one).
    pub(crate) fn new(n: usize) -> AllP {
        let n = n.max(1);
        AllP {
            first: (0..n).map(P::new).collect(),
            more: std::array::from_fn(|_| OnceLock::new()),
            made: AtomicUsize::new(n),
        }
    }

    /// Ps made so far (the active ones and any `set_gomaxprocs` retired).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.made.load(Acquire)
    }

    /// P `i`, which must have been made.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &P {
        match self.first.get(i) {
            Some(p) => p,
            None => self.get_slow(i),
        }
    }

    #[cold]
    fn get_slow(&self, i: usize) -> &P {
        let (k, at) = self.segment_of(i);
        match self.more[k].get() {
            Some(seg) => &seg[at],
            None => panic!("P{i} was never made"),
        }
    }

    /// The segment holding P `i` (past the first slice), and its place there.
    fn segment_of(&self, i: usize) -> (usize, usize) {
        let c = self.first.len();
        let mut j = i - c;
        let mut size = c;
        for k in 0..SEGMENTS {
            if j < size {
                return (k, j);
            }
            j -= size;
            size *= 2;
        }
        panic!("P{i} is past the largest allp");
    }

    /// Makes Ps until at least `n` exist. Called under the resize lock
    /// (one caller at a time).
    pub(crate) fn ensure(&self, n: usize) {
        let c = self.first.len();
        let mut made = self.len();
        let mut size = c << self.segments_made();
        while made < n {
            let k = self.segments_made();
            let base = made;
            let seg: Box<[P]> = (base..base + size).map(P::new).collect();
            if self.more[k].set(seg).is_err() {
                unreachable!("allp segments are made under the resize lock");
            }
            made += size;
            size *= 2;
            // Release: pairs with `len`'s Acquire; the segment is set first.
            self.made.store(made, Release);
        }
    }

    fn segments_made(&self) -> usize {
        self.more.iter().take_while(|s| s.get().is_some()).count()
    }

    /// Every P made, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &P> + '_ {
        let made = self.len();
        // Without segments (the usual case) the chain's second half is
        // empty at once: no segment is looked at.
        let segments = if made > self.first.len() { SEGMENTS } else { 0 };
        self.first
            .iter()
            .chain(
                self.more
                    .iter()
                    .take(segments)
                    .map_while(|s| s.get())
                    .flat_map(|s| s.iter()),
            )
            .take(made)
    }

    /// The first `n` Ps (the active ones, when `n` is `gomaxprocs`).
    pub(crate) fn active(&self, n: usize) -> impl Iterator<Item = &P> + '_ {
        self.iter().take(n)
    }
}

impl std::ops::Index<usize> for AllP {
    type Output = P;
    #[inline]
    fn index(&self, i: usize) -> &P {
        self.get(i)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::AllP;

    #[test]
    fn ps_keep_their_ids_and_addresses_as_allp_grows() {
        let all = AllP::new(3);
        let p1 = &all[1] as *const _;
        all.ensure(3);
        assert_eq!(all.len(), 3);
        all.ensure(4);
        // The first segment is as big as the first slice: 6 made.
        assert_eq!(all.len(), 6);
        all.ensure(20);
        // 3 + 3 + 6 + 12.
        assert_eq!(all.len(), 24);
        for (i, p) in all.iter().enumerate() {
            assert_eq!(p.id, i);
            assert_eq!(all[i].id, i);
        }
        assert_eq!(all.iter().count(), 24);
        assert_eq!(
            all.active(5).map(|p| p.id).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(&all[1] as *const _, p1, "a P never moves");
    }
}
