//! One key's slot: Go's `entry`, whose `p` is an atomic pointer to the
//! value.
//!
//! `p` is in one of three states (Go's, word for word):
//!
//! - a `Box<V>` pointer: the key is present with that value; the entry is
//!   in the read snapshot and, if there is a dirty map, in it too;
//! - null: deleted, and the entry is wherever it was (read, dirty or both);
//! - [`expunged`]: deleted *and* left out of the dirty map. Such an entry is
//!   only in the read snapshot; before a value may be stored into it again,
//!   it must be put back into the dirty map and un-expunged, with the lock
//!   held ([`Entry::unexpunge_locked`]), or a later promotion of the dirty
//!   map would lose the value.
//!
//! Transitions: value ↔ value and null ↔ value by any thread (CAS loops
//! that refuse `expunged`); null → expunged only with the lock held, while
//! building a dirty map; expunged → null only with the lock held. A value
//! box that is replaced or deleted is [retired](Guard::retire), so a
//! reference read through a guard stays valid until the guard is dropped.
//!
//! Orderings: every CAS or swap that installs a box is `AcqRel` (or
//! `Release` where nothing is read back): its Release half publishes the
//! box's contents, written before by this thread, to the `Acquire` loads
//! that read them. Transitions between null and expunged carry no data and
//! happen under the lock: `Relaxed`.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use super::reclaim::Guard;
use crate::loom::AtomicPtr;

/// The address behind [`expunged`]: a static, so no box ever has it.
static EXPUNGED_MARK: u8 = 0;

/// Go's `expunged`: a pointer that is neither null nor any box's.
#[inline]
fn expunged<V>() -> *mut V {
    ptr::addr_of!(EXPUNGED_MARK).cast_mut().cast()
}

/// The value behind `p`, if `p` is a box.
///
/// # Safety
///
/// If `p` is a box pointer, the box is alive for `'a`.
#[inline]
unsafe fn value_of<'a, V>(p: *mut V) -> Option<&'a V> {
    if p.is_null() || p == expunged() {
        None
    } else {
        // SAFETY: a box pointer, alive for 'a by the caller's contract;
        // boxes are never written after they are published.
        Some(unsafe { &*p })
    }
}

/// What [`Entry::try_load_or_store`] did.
pub(super) enum LoadOrStore<'a, V> {
    /// A value was present; here it is.
    Loaded(&'a V),
    /// The given value was stored; here it is.
    Stored(&'a V),
    /// The entry is expunged; the value is handed back.
    Expunged(V),
}

/// One key and its atomic value slot, shared (`Arc`) by the read snapshot
/// and the dirty map.
pub(super) struct Entry<K, V> {
    pub(super) key: K,
    /// Go's `p`; see the module docs for its states.
    p: AtomicPtr<V>,
    /// The entry owns a `V` (the box behind `p`): `Send`/`Sync` follow `V`.
    _owns: PhantomData<V>,
}

impl<K, V: Send + 'static> Entry<K, V> {
    pub(super) fn new(key: K, value: Box<V>) -> Entry<K, V> {
        Entry {
            key,
            p: AtomicPtr::new(Box::into_raw(value)),
            _owns: PhantomData,
        }
    }

    /// The value, if any. Lives while both the entry and the guard do: a
    /// replaced value is retired (kept while `_g` is), the current one is
    /// freed with the entry.
    #[inline]
    pub(super) fn load<'a>(&'a self, _g: &'a Guard<'_>) -> Option<&'a V> {
        // Acquire: pairs with the Release half of the CAS or swap that
        // installed the box, so its contents are visible.
        let p = self.p.load(Acquire);
        // SAFETY: a box read from `p` is either still current (freed only
        // with the entry, borrowed for 'a) or retired after we loaded it
        // (freed only after `_g`, borrowed for 'a, is dropped).
        unsafe { value_of(p) }
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

    /// Go's `trySwap`: stores `new` unless the entry is expunged (then hands
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
            if p == expunged() {
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

    /// Go's `swapLocked`: stores `new` into an entry that the caller, under
    /// the lock, knows is not expunged. Returns the previous value.
    pub(super) fn swap_locked<'g>(&self, new: Box<V>, g: &'g Guard<'_>) -> Option<&'g V> {
        // AcqRel: as in `try_swap`.
        let p = self.p.swap(Box::into_raw(new), AcqRel);
        debug_assert!(p != expunged(), "swap_locked on an expunged entry");
        // SAFETY: our swap unlinked `p`.
        unsafe { Self::retire(p, g) }
    }

    /// Go's `unexpungeLocked`: expunged → null; true if it was expunged, in
    /// which case the caller must put the entry into the dirty map before
    /// unlocking.
    pub(super) fn unexpunge_locked(&self) -> bool {
        // Relaxed: no data moves; the lock orders this with the expunge.
        self.p
            .compare_exchange(expunged(), ptr::null_mut(), Relaxed, Relaxed)
            .is_ok()
    }

    /// Go's `tryExpungeLocked`: null → expunged, while the dirty map is
    /// built from the read snapshot; true if the entry is (now) expunged
    /// and so must be left out of the dirty map.
    pub(super) fn try_expunge_locked(&self) -> bool {
        // Relaxed: null and expunged carry no data; a racing store that
        // wins the CAS below just makes us see a box.
        let mut p = self.p.load(Relaxed);
        while p.is_null() {
            match self
                .p
                .compare_exchange(ptr::null_mut(), expunged(), Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(cur) => p = cur,
            }
        }
        p == expunged()
    }

    /// Go's `tryLoadOrStore`: the present value, or stores `value` if the
    /// entry is deleted but not expunged.
    pub(super) fn try_load_or_store<'a>(
        &'a self,
        value: V,
        _g: &'a Guard<'_>,
    ) -> LoadOrStore<'a, V> {
        // Acquire: we may return a reference to the box (as in `load`).
        let p = self.p.load(Acquire);
        if p == expunged() {
            return LoadOrStore::Expunged(value);
        }
        // SAFETY: as in `load`: 'a borrows the entry and the guard.
        if let Some(v) = unsafe { value_of(p) } {
            return LoadOrStore::Loaded(v);
        }
        let new = Box::into_raw(Box::new(value));
        loop {
            // AcqRel: Release publishes `*new`; Acquire (also on failure)
            // makes a box installed by someone else visible.
            match self
                .p
                .compare_exchange_weak(ptr::null_mut(), new, AcqRel, Acquire)
            {
                // SAFETY: `new` is now the entry's current box: alive while
                // the entry is, or retired (alive while `g` is).
                Ok(_) => return LoadOrStore::Stored(unsafe { &*new }),
                Err(cur) if cur.is_null() => {} // spurious failure
                Err(cur) if cur == expunged() => {
                    // SAFETY: `new` was never published.
                    return LoadOrStore::Expunged(*unsafe { Box::from_raw(new) });
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
    pub(super) fn delete<'g>(&self, g: &'g Guard<'_>) -> Option<&'g V> {
        // Relaxed: only compared; the CAS re-reads with Acquire.
        let mut p = self.p.load(Relaxed);
        loop {
            if p.is_null() || p == expunged() {
                return None;
            }
            // Acquire: we return a reference to the box's contents. Nothing
            // is published (null), so no Release.
            match self
                .p
                .compare_exchange_weak(p, ptr::null_mut(), Acquire, Relaxed)
            {
                // SAFETY: our CAS unlinked `p`.
                Ok(_) => return unsafe { Self::retire(p, g) },
                Err(cur) => p = cur,
            }
        }
    }
}

impl<K, V: PartialEq + Send + 'static> Entry<K, V> {
    /// Go's `tryCompareAndSwap`: stores `new` if the current value equals
    /// `old` (not if deleted or expunged).
    pub(super) fn try_compare_and_swap(&self, old: &V, new: V, g: &Guard<'_>) -> bool {
        // Acquire: we compare the box's contents.
        let mut p = self.p.load(Acquire);
        // SAFETY: `p` was just loaded from the entry, which `&self` keeps
        // alive (a current box lives as long), and we are pinned by `g` (a
        // box retired since lives as long).
        match unsafe { value_of(p) } {
            Some(cur) if cur == old => {}
            _ => return false,
        }
        let new = Box::into_raw(Box::new(new));
        loop {
            // AcqRel: Release publishes `*new`; Acquire (also on failure)
            // lets us compare the box that beat us.
            match self.p.compare_exchange_weak(p, new, AcqRel, Acquire) {
                Ok(_) => {
                    // SAFETY: our CAS unlinked `p`.
                    unsafe { Self::retire(p, g) };
                    return true;
                }
                Err(cur) => {
                    p = cur;
                    // SAFETY: as above.
                    match unsafe { value_of(p) } {
                        Some(cur) if cur == old => {}
                        _ => {
                            // SAFETY: `new` was never published.
                            drop(unsafe { Box::from_raw(new) });
                            return false;
                        }
                    }
                }
            }
        }
    }

    /// Go's `CompareAndDelete` loop: value → null if it equals `old`.
    pub(super) fn compare_and_delete(&self, old: &V, g: &Guard<'_>) -> bool {
        // Acquire: we compare the box's contents.
        let mut p = self.p.load(Acquire);
        loop {
            // SAFETY: as in `try_compare_and_swap`.
            match unsafe { value_of(p) } {
                Some(cur) if cur == old => {}
                _ => return false,
            }
            // Acquire on failure: we compare the new box next round.
            match self
                .p
                .compare_exchange_weak(p, ptr::null_mut(), Relaxed, Acquire)
            {
                Ok(_) => {
                    // SAFETY: our CAS unlinked `p`.
                    unsafe { Self::retire(p, g) };
                    return true;
                }
                Err(cur) => p = cur,
            }
        }
    }
}

impl<K, V> Drop for Entry<K, V> {
    fn drop(&mut self) {
        // Relaxed: `&mut self`, no other thread can access `p`; the last
        // `Arc` drop already synchronised with every other user.
        let p = self.p.load(Relaxed);
        if !p.is_null() && p != expunged() {
            // SAFETY: the entry owns its current box; nobody can reach the
            // entry any more, so nobody can read the box.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// An entry in a hash set, hashed and compared by its key, so that the set
/// can be searched with `&K` ([`Borrow`]) and each key is stored once,
/// inside its entry.
pub(super) struct Slot<K, V>(pub(super) Arc<Entry<K, V>>);

impl<K, V> Clone for Slot<K, V> {
    fn clone(&self) -> Self {
        Slot(Arc::clone(&self.0))
    }
}

impl<K: Hash, V> Hash for Slot<K, V> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.key.hash(state);
    }
}

impl<K: PartialEq, V> PartialEq for Slot<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}

impl<K: Eq, V> Eq for Slot<K, V> {}

impl<K, V> Borrow<K> for Slot<K, V> {
    fn borrow(&self) -> &K {
        &self.0.key
    }
}
