//! One key's slot: Go's `entry`, stored inline in its table (the read
//! snapshot's or the dirty map's), whose `p` is an atomic pointer to the
//! value.
//!
//! `p` is in one of four states:
//!
//! - a `Box<V>` pointer: the key is present with that value;
//! - null: deleted (the entry stays in its table until the next promotion,
//!   and a store may fill it again without the lock);
//! - [`moved`]: the snapshot holding this entry has been replaced, and the
//!   entry's key and box were moved into the next snapshot;
//! - [`left`]: the snapshot has been replaced, and the entry, deleted at
//!   that moment, was left out of the next one.
//!
//! `moved` and `left` are *stale*: final, set only by a promotion (with the
//! lock held) on the snapshot it is replacing. An operation that meets a
//! stale entry returns [`Stale`] (handing back what it would have stored)
//! and its caller retries under the lock, where the snapshot it loads is
//! the current one, whose entries are never stale. So no store can land in
//! an entry after its box was moved out: a store either happens before the
//! move (its box is moved) or sees the entry stale.
//!
//! Transitions: value ↔ value and null ↔ value by any thread (CAS loops
//! that refuse stale states); value → moved and null → moved → left only
//! by [`Entry::move_out`]. A value box that is replaced or deleted is
//! [retired](Guard::retire), so a reference read through a guard stays
//! valid until the guard is dropped; a moved box is not retired (it lives
//! on in the next snapshot).
//!
//! Who owns the key: the entry, unless `p` is `moved` (then the bitwise copy
//! in the next snapshot owns it; this copy may still be read, through `&K`,
//! by threads that loaded the old snapshot, until the old snapshot is
//! freed, which epochs delay until they unpin, and the new owner cannot be
//! freed before that either: see [`Entry::move_out`]).
//!
//! Orderings: every CAS or swap that installs a box is `AcqRel` (or
//! `Release` where nothing is read back): its Release half publishes the
//! box's contents, written before by this thread, to the `Acquire` loads
//! that read them. The move's swap is `Acquire`: the mover hands the box to
//! the next snapshot, whose publication (`Release`) passes the contents on.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};

use super::reclaim::Guard;
use crate::loom::AtomicPtr;

/// The addresses behind [`moved`] and [`left`]: two elements of one static,
/// so they differ from each other and from every box.
static MARKS: [u8; 2] = [0, 0];

/// The stale state "key and box moved to the next snapshot".
#[inline]
fn moved<V>() -> *mut V {
    ptr::addr_of!(MARKS[0]).cast_mut().cast()
}

/// The stale state "deleted, left out of the next snapshot".
#[inline]
fn left<V>() -> *mut V {
    ptr::addr_of!(MARKS[1]).cast_mut().cast()
}

#[inline]
fn is_stale<V>(p: *mut V) -> bool {
    p == moved() || p == left()
}

/// The value behind `p`, if `p` is a box (not null, not stale).
///
/// # Safety
///
/// If `p` is a box pointer, the box is alive for `'a`.
#[inline]
unsafe fn value_of<'a, V>(p: *mut V) -> Option<&'a V> {
    if p.is_null() || is_stale(p) {
        None
    } else {
        // SAFETY: a box pointer, alive for 'a by the caller's contract;
        // boxes are never written after they are published.
        Some(unsafe { &*p })
    }
}

/// The entry's table has been replaced: retry with the current one, under
/// the lock.
#[derive(Debug)]
pub(super) struct Stale;

/// What [`Entry::try_load_or_store`] did.
pub(super) enum LoadOrStore<'a, V> {
    /// A value was present; here it is.
    Loaded(&'a V),
    /// The given value was stored; here it is.
    Stored(&'a V),
    /// The entry is stale; the value is handed back.
    Stale(V),
}

/// One key and its atomic value slot, inline in a table.
pub(super) struct Entry<K, V> {
    /// Owned unless `p` is [`moved`] (see the module docs); dropped by
    /// `Entry`'s `Drop`.
    key: ManuallyDrop<K>,
    /// Go's `p`; see the module docs for its states.
    p: AtomicPtr<V>,
    /// The entry owns a `V` (the box behind `p`): `Send`/`Sync` follow `V`.
    _owns: PhantomData<V>,
}

impl<K, V> Entry<K, V> {
    pub(super) fn new(key: K, value: Box<V>) -> Entry<K, V> {
        Entry {
            key: ManuallyDrop::new(key),
            p: AtomicPtr::new(Box::into_raw(value)),
            _owns: PhantomData,
        }
    }

    /// The key (still readable after a move: the bits are those of the
    /// moved copy, which outlives every reader of this entry).
    #[inline]
    pub(super) fn key(&self) -> &K {
        &self.key
    }
}

impl<K, V: Send + 'static> Entry<K, V> {
    /// The value, if any. Lives while both the entry and the guard do: a
    /// replaced value is retired (kept while `_g` is), a moved one lives in
    /// the next snapshot (freed only after it, which is retired after this
    /// entry's table), the current one is freed with the entry.
    #[inline]
    pub(super) fn load<'a>(&'a self, _g: &'a Guard<'_>) -> Result<Option<&'a V>, Stale> {
        // Acquire: pairs with the Release half of the CAS or swap that
        // installed the box (or that published the snapshot it was moved
        // into), so its contents are visible.
        let p = self.p.load(Acquire);
        if is_stale(p) {
            return Err(Stale);
        }
        // SAFETY: a box read from `p` is either still current (freed only
        // with the entry, borrowed for 'a), retired after we loaded it
        // (freed only after `_g`, borrowed for 'a, is dropped) or moved
        // (owned by a later snapshot, freed after this entry's table).
        Ok(unsafe { value_of(p) })
    }

    /// Retires `p` if it is a box, and returns its value for `'g`.
    ///
    /// # Safety
    ///
    /// `p` was just unlinked from this entry by a successful CAS or swap of
    /// this thread (so it is retired exactly once).
    #[inline]
    unsafe fn retire<'g>(p: *mut V, g: &'g Guard<'_>) -> Option<&'g V> {
        // SAFETY: the box stays alive until `g` is dropped, as we retire it
        // through `g`, and nobody else retires or frees it: it was unlinked
        // by our CAS.
        let v = unsafe { value_of(p) };
        if v.is_some() {
            // SAFETY: a box pointer, unlinked by the caller's CAS, once.
            unsafe { g.retire(p) };
        }
        v
    }

    /// Go's `trySwap`: stores `new` unless the entry is stale (then hands
    /// it back). Returns the previous value, retired, alive while `g` is.
    #[inline]
    pub(super) fn try_swap<'g>(
        &self,
        new: Box<V>,
        g: &'g Guard<'_>,
    ) -> Result<Option<&'g V>, Box<V>> {
        let new = Box::into_raw(new);
        // Relaxed: only compared; the CAS below re-reads with Acquire.
        let mut p = self.p.load(Relaxed);
        loop {
            if is_stale(p) {
                // SAFETY: `new` came from `Box::into_raw` above and was not
                // published (every CAS failed or none ran).
                return Err(unsafe { Box::from_raw(new) });
            }
            // AcqRel: Release publishes `*new`; Acquire makes the previous
            // box's contents visible, since we return a reference to it.
            match self.p.compare_exchange_weak(p, new, AcqRel, Relaxed) {
                // SAFETY: our CAS unlinked `p`.
                Ok(_) => return Ok(unsafe { Self::retire(p, g) }),
                Err(cur) => p = cur,
            }
        }
    }

    /// Stores `new` into an entry that cannot be stale: one of the current
    /// snapshot, or of the dirty map, with the lock held (only a promotion,
    /// which holds the lock, makes entries stale, and only those of the
    /// snapshot it replaces). Returns the previous value.
    pub(super) fn swap_locked<'g>(&self, new: Box<V>, g: &'g Guard<'_>) -> Option<&'g V> {
        // AcqRel: as in `try_swap`.
        let p = self.p.swap(Box::into_raw(new), AcqRel);
        assert!(!is_stale(p), "swap_locked on a stale entry");
        // SAFETY: our swap unlinked `p`.
        unsafe { Self::retire(p, g) }
    }

    /// Go's `tryLoadOrStore`: the present value, or stores `value` if the
    /// entry is deleted (not if it is stale).
    pub(super) fn try_load_or_store<'a>(
        &'a self,
        value: V,
        _g: &'a Guard<'_>,
    ) -> LoadOrStore<'a, V> {
        // Acquire: we may return a reference to the box (as in `load`).
        let p = self.p.load(Acquire);
        if is_stale(p) {
            return LoadOrStore::Stale(value);
        }
        // SAFETY: as in `load`: 'a borrows the entry and the guard.
        if let Some(v) = unsafe { value_of(p) } {
            return LoadOrStore::Loaded(v);
        }
        let new = Box::into_raw(super::recycle::boxed(value));
        loop {
            // AcqRel: Release publishes `*new`; Acquire (also on failure)
            // makes a box installed by someone else visible.
            match self
                .p
                .compare_exchange_weak(ptr::null_mut(), new, AcqRel, Acquire)
            {
                // SAFETY: `new` is now the entry's current box: alive while
                // the entry is, or retired (alive while `_g` is), or moved
                // (alive while the entry's table is).
                Ok(_) => return LoadOrStore::Stored(unsafe { &*new }),
                Err(cur) if cur.is_null() => {} // spurious failure
                Err(cur) if is_stale(cur) => {
                    // SAFETY: `new` was never published.
                    return LoadOrStore::Stale(*unsafe { Box::from_raw(new) });
                }
                Err(cur) => {
                    // SAFETY: `new` was never published.
                    drop(unsafe { Box::from_raw(new) });
                    // SAFETY: as in `load`.
                    return LoadOrStore::Loaded(unsafe { &*cur });
                }
            }
        }
    }

    /// Go's `delete`: value → null. Returns the deleted value, retired.
    pub(super) fn delete<'g>(&self, g: &'g Guard<'_>) -> Result<Option<&'g V>, Stale> {
        // Relaxed: only compared; the CAS re-reads with Acquire.
        let mut p = self.p.load(Relaxed);
        loop {
            if is_stale(p) {
                return Err(Stale);
            }
            if p.is_null() {
                return Ok(None);
            }
            // Acquire: we return a reference to the box's contents. Nothing
            // is published (null), so no Release.
            match self
                .p
                .compare_exchange_weak(p, ptr::null_mut(), Acquire, Relaxed)
            {
                // SAFETY: our CAS unlinked `p`.
                Ok(_) => return Ok(unsafe { Self::retire(p, g) }),
                Err(cur) => p = cur,
            }
        }
    }

    /// The promotion's step for one entry of the snapshot it replaces: marks
    /// the entry stale and, if it has a value, returns a new entry with the
    /// same key (a bitwise copy, which now owns it) and the same box (not
    /// retired: it moves). A deleted entry is marked [`left`] and keeps its
    /// key. Runs no user code and cannot panic.
    ///
    /// # Safety
    ///
    /// Called with the lock held, on an entry of the current snapshot, which
    /// the caller then replaces (publishing the returned entry in the new
    /// one) before unlocking, and retires; at most once per entry (an entry
    /// is stale afterwards). Then the old copy of the key is only read, by
    /// threads pinned before the old snapshot was retired, and the new copy
    /// is dropped only when a later snapshot is freed (retired after the old
    /// one) or by the map's `Drop` (no thread is pinned then).
    pub(super) unsafe fn move_out(&self) -> Option<Entry<K, V>> {
        // Acquire: we hand the box's contents on to the next snapshot's
        // readers (through its Release publication).
        let p = self.p.swap(moved(), Acquire);
        debug_assert!(!is_stale(p), "move_out on a stale entry");
        if p.is_null() {
            // Relaxed: stale states carry no data, and nobody else writes a
            // stale entry. (Between the two stores the entry reads `moved`,
            // stale too.)
            self.p.store(left(), Relaxed);
            return None;
        }
        Some(Entry {
            // SAFETY: `moved` (stored above) hands ownership of the key to
            // this copy: the old entry's `Drop` leaves it alone. The old
            // bits stay valid for readers (see the contract above).
            key: unsafe { ptr::read(&self.key) },
            p: AtomicPtr::new(p),
            _owns: PhantomData,
        })
    }
}

impl<K, V: PartialEq + Send + 'static> Entry<K, V> {
    /// Go's `tryCompareAndSwap`: stores `new` if the current value equals
    /// `old` (not if deleted); hands `new` back if the entry is stale.
    pub(super) fn try_compare_and_swap(&self, old: &V, new: V, g: &Guard<'_>) -> Result<bool, V> {
        // Acquire: we compare the box's contents.
        let mut p = self.p.load(Acquire);
        if is_stale(p) {
            return Err(new);
        }
        // SAFETY: `p` was just loaded from the entry, which `&self` keeps
        // alive (a current box lives as long), and we are pinned by `g` (a
        // box retired or moved since lives as long).
        match unsafe { value_of(p) } {
            Some(cur) if cur == old => {}
            _ => return Ok(false),
        }
        let new = Box::into_raw(super::recycle::boxed(new));
        loop {
            // AcqRel: Release publishes `*new`; Acquire (also on failure)
            // lets us compare the box that beat us.
            match self.p.compare_exchange_weak(p, new, AcqRel, Acquire) {
                Ok(_) => {
                    // SAFETY: our CAS unlinked `p`.
                    unsafe { Self::retire(p, g) };
                    return Ok(true);
                }
                Err(cur) => {
                    p = cur;
                    if is_stale(p) {
                        // SAFETY: `new` was never published.
                        return Err(*unsafe { Box::from_raw(new) });
                    }
                    // SAFETY: as above.
                    match unsafe { value_of(p) } {
                        Some(cur) if cur == old => {}
                        _ => {
                            // SAFETY: `new` was never published.
                            drop(unsafe { Box::from_raw(new) });
                            return Ok(false);
                        }
                    }
                }
            }
        }
    }

    /// Go's `CompareAndDelete` loop: value → null if it equals `old`.
    pub(super) fn compare_and_delete(&self, old: &V, g: &Guard<'_>) -> Result<bool, Stale> {
        // Acquire: we compare the box's contents.
        let mut p = self.p.load(Acquire);
        loop {
            if is_stale(p) {
                return Err(Stale);
            }
            // SAFETY: as in `try_compare_and_swap`.
            match unsafe { value_of(p) } {
                Some(cur) if cur == old => {}
                _ => return Ok(false),
            }
            // Acquire on failure: we compare the new box next round.
            match self
                .p
                .compare_exchange_weak(p, ptr::null_mut(), Relaxed, Acquire)
            {
                Ok(_) => {
                    // SAFETY: our CAS unlinked `p`.
                    unsafe { Self::retire(p, g) };
                    return Ok(true);
                }
                Err(cur) => p = cur,
            }
        }
    }
}

impl<K, V> Drop for Entry<K, V> {
    fn drop(&mut self) {
        // Relaxed: `&mut self`, no other thread can access `p`; the table
        // holding the entry is dropped only once no reader can reach it
        // (epochs, or `&mut` on the map), which synchronised with them.
        let p = self.p.load(Relaxed);
        if p == moved() {
            // The key and the box belong to the next snapshot's entry.
            return;
        }
        // SAFETY: not moved, so the entry owns its key; it is dropped once,
        // here.
        unsafe { ManuallyDrop::drop(&mut self.key) };
        if !p.is_null() && p != left() {
            // SAFETY: the entry owns its current box; nobody can reach the
            // entry any more, so nobody can read the box.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}
