//! A vector with a free list: O(1) insert and remove by key, and no memory
//! kept once it is empty.
//!
//! A cancellable context keeps its hooks in one (its children, the tasks
//! waiting in `done()`, its `after_func` callbacks). Keys are reused, so each user
//! removes its key at most once and never after the whole slab was taken
//! (the cancel path takes it; see `cancel.rs`).

use std::mem;

#[derive(Debug)]
pub(super) struct Slab<T> {
    entries: Vec<Option<T>>,
    free: Vec<usize>,
    live: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Slab<T> {
        Slab::new()
    }
}

/// Above this many slots an emptied slab gives its memory back.
const KEEP: usize = 16;

impl<T> Slab<T> {
    pub(super) const fn new() -> Slab<T> {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    pub(super) fn insert(&mut self, value: T) -> usize {
        self.live += 1;
        match self.free.pop() {
            Some(key) => {
                debug_assert!(self.entries[key].is_none());
                self.entries[key] = Some(value);
                key
            }
            None => {
                self.entries.push(Some(value));
                self.entries.len() - 1
            }
        }
    }

    pub(super) fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.entries.get_mut(key).and_then(Option::as_mut)
    }

    pub(super) fn remove(&mut self, key: usize) -> Option<T> {
        let value = self.entries.get_mut(key)?.take()?;
        self.live -= 1;
        if self.live == 0 {
            // A long-lived parent that had a million short-lived children
            // holds nothing afterwards.
            self.entries.clear();
            self.free.clear();
            if self.entries.capacity() > KEEP {
                self.entries.shrink_to(KEEP);
                self.free.shrink_to(KEEP);
            }
        } else {
            self.free.push(key);
        }
        Some(value)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.live
    }

    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().flatten()
    }

    /// Empties the slab, returning the values.
    pub(super) fn take_all(&mut self) -> impl Iterator<Item = T> + use<T> {
        self.free = Vec::new();
        self.live = 0;
        mem::take(&mut self.entries).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn keys_are_reused_and_memory_is_returned() {
        let mut s = Slab::new();
        let keys: Vec<usize> = (0..1000).map(|i| s.insert(i)).collect();
        assert_eq!(s.len(), 1000);
        assert_eq!(s.remove(keys[10]), Some(10));
        assert_eq!(s.remove(keys[10]), None);
        assert_eq!(s.insert(7), keys[10]);
        for k in keys {
            s.remove(k);
        }
        assert_eq!(s.len(), 0);
        assert!(s.entries.capacity() <= super::KEEP);
        assert_eq!(s.take_all().count(), 0);
    }
}
