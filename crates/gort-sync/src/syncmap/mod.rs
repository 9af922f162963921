//! Go's `sync.Map`: a concurrent map whose loads of stable keys take no
//! lock.
//!
//! # Design (Go 1.19's `sync/map.go`, in Rust terms)
//!
//! Concepts:
//!
//! - An **entry** ([`entry::Entry`]) is one key and an atomic pointer to its
//!   value (Go's `p`): a boxed value, null (deleted) or *expunged* (deleted
//!   and left out of the dirty map). Entries are shared (`Arc`) between
//!   the two maps below, so a value stored into an entry is seen through
//!   both.
//! - The **read snapshot** (Go's `read`): an immutable `HashSet` of entries
//!   behind one atomic pointer, loaded without a lock. Its low bit is Go's
//!   `amended`: set when the dirty map holds a key the snapshot lacks. The
//!   pointer and the bit are read in one atomic load, as Go reads its
//!   `readOnly` struct, so a reader never pairs a new set with a stale bit.
//! - The **dirty map** (Go's `dirty`), behind the mutex: `None`, or every
//!   non-expunged entry of the snapshot plus the keys added since. With it,
//!   `misses`: how many lookups since the last promotion had to take the
//!   lock because the snapshot lacked the key.
//!
//! Invariants (checked with `debug_assert!` where cheap):
//!
//! 1. The amended bit is set only while the dirty map is `Some`.
//! 2. An entry is expunged only if it is in the snapshot and not in the
//!    dirty map; an entry in the dirty map is never expunged.
//! 3. The snapshot is replaced (and the old one retired) only with the lock
//!    held; entries' values change without the lock, by CAS.
//!
//! The protocol:
//!
//! 1. **Load**: pin (see [`reclaim`]), load the snapshot; if the key is
//!    there, read its entry's value: no lock, no write to shared memory.
//!    Else, if amended, lock, look again in the snapshot, then in the dirty
//!    map, and count a **miss**; once misses reach the dirty map's length,
//!    **promote** it: it becomes the new snapshot (not amended, moved, not
//!    copied) and the dirty map becomes `None`.
//! 2. **Store** to a key in the snapshot: CAS the new value into its entry,
//!    unless the entry is expunged. Else lock: an expunged entry is put back
//!    into the dirty map and un-expunged, then swapped; a key only in the
//!    dirty map is swapped there; a new key goes into the dirty map, which
//!    is first built from the snapshot if it is `None` (copying entries,
//!    expunging deleted ones instead), and the amended bit is set.
//! 3. **Delete**: CAS the entry's value to null (a key only in the dirty map
//!    is also removed from it). The entry stays in the snapshot until the
//!    next dirty map leaves it out (expunged) and is promoted.
//! 4. **Range**: if amended, promote first (a range costs O(n) anyway);
//!    then iterate the snapshot without the lock, so the callback may use
//!    the map.
//!
//! Replaced values and snapshots are freed by epoch reclamation
//! ([`reclaim`]), Go's garbage collector's part: a reference read under a
//! guard stays valid until the guard is dropped.
//!
//! # Why this design and not Go 1.24's hash-trie
//!
//! Go 1.24 rebuilt `sync.Map` on a concurrent hash-trie (`internal/sync`'s
//! `HashTrieMap`) so that stores of new keys scale across cores. Here the
//! workloads (`gort-bench`'s `syncmap_read90`, `syncmap_mixed50`,
//! `syncmap_range`, like Go's own benchmarks) load and store keys that
//! exist, which the read/dirty design serves with one hash lookup in an
//! immutable `std` `HashSet` and one atomic load or CAS: no trie walk of
//! several dependent pointer loads, and no lock or cache-line write on a
//! load. Measured on two cores (`docs/semantics.md`, "sync.Map", has the
//! lines): at or below Go 1.19's `sync.Map` on `read90` and `range`, level
//! with it on `mixed50`; behind `dashmap` (values inline in locked
//! shards) by about 1.5× on `read90`: a load here chases two pointers, the
//! entry and the boxed value. The hash-trie's win,
//! many threads inserting *new* keys, is the case this design serializes
//! on its mutex; a workload dominated by that is better served by a
//! sharded map.
//!
//! Rejected: a `RwLock<HashMap>` (every load writes the lock's counter, a
//! shared cache line); an `Arc` snapshot swapped with `arc-swap` (one more
//! reference count per load, and loom cannot model it).

// `Slot`s are hashed and compared by their key alone, never by the atomic
// value pointer inside their entry, so the interior mutability that this
// lint sees in the sets' element type never changes a hash.
#![allow(clippy::mutable_key_type)]

mod entry;
mod reclaim;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::mem;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use crate::loom::{lock, AtomicPtr, Mutex};
use entry::{Entry, LoadOrStore, Slot};
use reclaim::{Guard, Reclaimer};

type Set<K, V, S> = HashSet<Slot<K, V>, S>;

/// Go's `readOnly.m`: the snapshot's set. (Its `amended` is the pointer's
/// low bit, [`AMENDED`].)
struct ReadOnly<K, V, S> {
    m: Set<K, V, S>,
}

/// The read pointer's low bit: Go's `readOnly.amended`. `ReadOnly` is at
/// least pointer-aligned, so the bit is free.
const AMENDED: usize = 1;

/// A loaded read pointer: the set and the amended bit, read together.
struct Snapshot<'g, K, V, S> {
    set: &'g Set<K, V, S>,
    amended: bool,
}

/// What the mutex protects.
struct Dirty<K, V, S> {
    /// Go's `dirty`: `None`, or every non-expunged entry of the snapshot and
    /// the keys added since.
    m: Option<Set<K, V, S>>,
    /// Go's `misses`: locked lookups since the last promotion.
    misses: usize,
}

/// A concurrent map, Go's `sync.Map`: loads of keys that are not being
/// written take no lock and scale across threads.
///
/// Like Go's, it is built for two uses: keys written once and read many
/// times (caches that only grow), and threads working on disjoint sets of
/// keys. For other uses a [`Mutex`](std::sync::Mutex)`<HashMap>` or a
/// sharded map may be faster.
///
/// # Differences from Go
///
/// - [`load`](Map::load) returns a clone of the value (`V: Clone`): a
///   reference could be invalidated by a concurrent store. Store cheap
///   handles (`Arc<T>`, integers) as Go stores pointers.
/// - Typed: `Map<K, V>`, not `any` to `any`; an optional hasher `S`.
/// - `K` and `V` are `Send + Sync + 'static`: a replaced value is freed by
///   epoch reclamation, possibly on another thread, possibly after the map
///   is gone (Go's garbage collector does this there).
/// - Extra: [`len`](Map::len) and [`is_empty`](Map::is_empty) (O(n), as a
///   [`range`](Map::range) that counts).
/// - `K`'s `Hash`/`Eq` and `V`'s `Clone`/`PartialEq` may run with the
///   map's lock held: they must not use the same map (it would deadlock).
///   The [`range`](Map::range) callback runs without it and may.
///
/// # Examples
///
/// ```
/// use gort_sync::Map;
///
/// let m = Map::new();
/// m.store("a", 1);
/// assert_eq!(m.load(&"a"), Some(1));
/// assert_eq!(m.load_or_store("a", 2), (1, true));
/// assert_eq!(m.swap("a", 3), Some(1));
/// assert!(m.compare_and_swap(&"a", &3, 4));
/// m.delete(&"a");
/// assert_eq!(m.load(&"a"), None);
/// ```
pub struct Map<K, V, S = RandomState> {
    /// The snapshot, tagged with [`AMENDED`]; never null. Loaded by anyone
    /// with Acquire; stored (Release) only with `dirty` locked; a replaced
    /// snapshot is retired, never freed directly.
    read: AtomicPtr<ReadOnly<K, V, S>>,
    /// The dirty map and the miss count. Never held while user code that
    /// may use the map runs (the `range` callback).
    dirty: Mutex<Dirty<K, V, S>>,
    /// Builds every set's hasher.
    hasher: S,
    reclaim: Reclaimer,
    /// The map owns the snapshot behind `read`.
    _owns: PhantomData<Box<ReadOnly<K, V, S>>>,
}

impl<K, V> Map<K, V> {
    /// An empty map.
    ///
    /// ```
    /// let m: gort_sync::Map<u64, String> = gort_sync::Map::new();
    /// assert!(m.is_empty());
    /// ```
    pub fn new() -> Map<K, V> {
        Map::with_hasher(RandomState::new())
    }
}

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Map::new()
    }
}

impl<K, V, S: Clone> Map<K, V, S> {
    /// An empty map whose sets hash with `hasher`.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// let m = gort_sync::Map::<u32, u32, _>::with_hasher(RandomState::new());
    /// m.store(1, 2);
    /// assert_eq!(m.load(&1), Some(2));
    /// ```
    pub fn with_hasher(hasher: S) -> Map<K, V, S> {
        let read = Box::new(ReadOnly {
            m: HashSet::with_hasher(hasher.clone()),
        });
        Map {
            read: AtomicPtr::new(Box::into_raw(read)),
            dirty: Mutex::new(Dirty { m: None, misses: 0 }),
            hasher,
            reclaim: Reclaimer::default(),
            _owns: PhantomData,
        }
    }
}

impl<K, V, S> Map<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    /// The value stored for `key`, cloned. Takes no lock when `key` is in
    /// the read snapshot.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// assert_eq!(m.load(&1), None::<u8>);
    /// m.store(1, 7u8);
    /// assert_eq!(m.load(&1), Some(7));
    /// ```
    #[inline]
    pub fn load(&self, key: &K) -> Option<V> {
        let g = self.reclaim.pin();
        let snap = self.snapshot(&g);
        if let Some(s) = snap.set.get(key) {
            return s.0.load(&g).cloned();
        }
        if !snap.amended {
            return None;
        }
        let e = self.find_locked(key, &g, false)?;
        let v = e.load(&g).cloned();
        v
    }

    /// Sets the value for `key`.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// m.store("k", 1);
    /// m.store("k", 2);
    /// assert_eq!(m.load(&"k"), Some(2));
    /// ```
    #[inline]
    pub fn store(&self, key: K, value: V) {
        let g = self.reclaim.pin();
        self.swap_in(key, Box::new(value), &g);
    }

    /// Sets the value for `key` and returns the previous one, if any.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// assert_eq!(m.swap(1, 'a'), None);
    /// assert_eq!(m.swap(1, 'b'), Some('a'));
    /// ```
    pub fn swap(&self, key: K, value: V) -> Option<V> {
        let g = self.reclaim.pin();
        self.swap_in(key, Box::new(value), &g).cloned()
    }

    /// The present value for `key` and `true`; or, if there is none, stores
    /// `value` and returns it and `false`.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// assert_eq!(m.load_or_store(1, 10), (10, false));
    /// assert_eq!(m.load_or_store(1, 20), (10, true));
    /// ```
    pub fn load_or_store(&self, key: K, value: V) -> (V, bool) {
        let g = self.reclaim.pin();
        let snap = self.snapshot(&g);
        let mut value = value;
        if let Some(s) = snap.set.get(&key) {
            match s.0.try_load_or_store(value, &g) {
                LoadOrStore::Loaded(v) => return (v.clone(), true),
                LoadOrStore::Stored(v) => return (v.clone(), false),
                LoadOrStore::Expunged(v) => value = v,
            }
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(&g);
        let e = if let Some(s) = snap.set.get(&key) {
            if s.0.unexpunge_locked() {
                Self::dirty_mut(&mut d).insert(s.clone());
            }
            Arc::clone(&s.0)
        } else if let Some(s) = d.m.as_ref().and_then(|m| m.get(&key)) {
            let e = Arc::clone(&s.0);
            self.miss_locked(&mut d, &g);
            e
        } else {
            if !snap.amended {
                self.amend_locked(&mut d, snap.set);
            }
            // Cloned under the lock: after unlocking, a racing delete could
            // already have removed the value we stored.
            let ret = value.clone();
            Self::dirty_mut(&mut d).insert(Slot(Arc::new(Entry::new(key, Box::new(value)))));
            return (ret, false);
        };
        // Under the lock: a locked entry in the dirty map cannot be expunged
        // meanwhile, so `try_load_or_store` cannot answer `Expunged`.
        let r = match e.try_load_or_store(value, &g) {
            LoadOrStore::Loaded(v) => (v.clone(), true),
            LoadOrStore::Stored(v) => (v.clone(), false),
            LoadOrStore::Expunged(_) => unreachable!("an entry in the dirty map is never expunged"),
        };
        drop(d);
        r
    }

    /// Deletes `key`, returning its value if it had one.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// m.store(1, "one");
    /// assert_eq!(m.load_and_delete(&1), Some("one"));
    /// assert_eq!(m.load_and_delete(&1), None);
    /// ```
    pub fn load_and_delete(&self, key: &K) -> Option<V> {
        let g = self.reclaim.pin();
        self.delete_in(key, &g).cloned()
    }

    /// Deletes `key`.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// m.store(1, ());
    /// m.delete(&1);
    /// assert!(m.is_empty());
    /// ```
    pub fn delete(&self, key: &K) {
        let g = self.reclaim.pin();
        self.delete_in(key, &g);
    }

    /// Calls `f` on each key and value, in no particular order, until it
    /// returns `false`.
    ///
    /// As in Go: no key is visited twice, but the visit is not a consistent
    /// snapshot: a key stored or deleted during the range may or may not be
    /// seen, and a value seen is one the key had at some point during the
    /// range. `f` may use the map (load, store, delete, range): no lock is
    /// held while it runs. Values replaced while the range runs stay
    /// allocated until it ends.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// for i in 0..10 {
    ///     m.store(i, i * i);
    /// }
    /// let mut sum = 0;
    /// m.range(|_, v| {
    ///     sum += v;
    ///     true
    /// });
    /// assert_eq!(sum, 285);
    /// ```
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        let g = self.reclaim.pin();
        let mut snap = self.snapshot(&g);
        if snap.amended {
            // Go: a range is O(n) anyway, so promote the dirty map now and
            // iterate a snapshot with every key.
            let mut d = lock(&self.dirty);
            snap = self.snapshot(&g);
            if snap.amended {
                snap = self.promote_locked(&mut d, &g);
            }
        }
        for s in snap.set {
            if let Some(v) = s.0.load(&g) {
                if !f(&s.0.key, v) {
                    break;
                }
            }
        }
    }

    /// The number of keys with a value: a [`range`](Map::range) that counts
    /// (O(n); Go has no such method). Under concurrent stores and deletes,
    /// a count the map had at some point during the call or between two
    /// such counts.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// m.store(1, 1);
    /// m.store(2, 2);
    /// assert_eq!(m.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        let mut n = 0;
        self.range(|_, _| {
            n += 1;
            true
        });
        n
    }

    /// Whether no key has a value (O(n) in the worst case, as [`len`](Map::len)).
    ///
    /// ```
    /// let m = gort_sync::Map::<u8, u8>::new();
    /// assert!(m.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        let mut empty = true;
        self.range(|_, _| {
            empty = false;
            false
        });
        empty
    }

    /// Deletes every key (Go 1.23's `Clear`).
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// m.store(1, 1);
    /// m.clear();
    /// assert_eq!(m.load(&1), None);
    /// ```
    pub fn clear(&self) {
        let g = self.reclaim.pin();
        let snap = self.snapshot(&g);
        if snap.set.is_empty() && !snap.amended {
            return;
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(&g);
        if !snap.set.is_empty() || snap.amended {
            self.publish_locked(&mut d, HashSet::with_hasher(self.hasher.clone()), &g);
        }
        // Go keeps an empty dirty map; so do we (the next new key then needs
        // no copy of the now empty snapshot).
        let old =
            d.m.as_mut()
                .map(|m| mem::replace(m, HashSet::with_hasher(self.hasher.clone())));
        d.misses = 0;
        drop(d);
        // Dropped without the lock: dropping a value runs user code. Every
        // entry in it is either also in the retired snapshot (whose drop
        // waits for readers) or reached by readers only through an `Arc`.
        drop(old);
    }

    /// The snapshot and the amended bit, loaded together.
    #[inline]
    fn snapshot<'g>(&'g self, _g: &'g Guard<'_>) -> Snapshot<'g, K, V, S> {
        // Acquire: pairs with the Release store that published the pointer
        // (or, for a re-tagging store, with that store, which carries the
        // publisher's writes through the mutex), so the set is visible.
        let tagged = self.read.load(Acquire);
        let amended = tagged as usize & AMENDED != 0;
        let p = tagged
            .cast::<u8>()
            .wrapping_sub(amended as usize)
            .cast::<ReadOnly<K, V, S>>();
        // SAFETY: `read` always holds a live snapshot (tag removed above);
        // one replaced after our load is retired, not freed, so it outlives
        // the guard `_g` (which borrows the map, so it also outlives neither
        // the map nor its `Drop`).
        let set = unsafe { &(*p).m };
        Snapshot { set, amended }
    }

    /// Sets the amended bit. Only with the lock held (the `_d` borrow) and
    /// the dirty map `Some` (invariant 1).
    fn set_amended_locked(&self, d: &mut Dirty<K, V, S>) {
        debug_assert!(d.m.is_some(), "amended without a dirty map");
        // Relaxed load: only lock holders store `read`, and we hold it.
        let p = self.read.load(Relaxed);
        debug_assert!(p as usize & AMENDED == 0, "already amended");
        // Release: see `snapshot` (a reader that sees this value must see
        // the set, published by whoever stored the pointer first).
        self.read
            .store(p.cast::<u8>().wrapping_add(AMENDED).cast(), Release);
    }

    /// Replaces the snapshot with `m` (not amended) and retires the old one.
    fn publish_locked(&self, d: &mut Dirty<K, V, S>, m: Set<K, V, S>, g: &Guard<'_>) {
        let _ = d;
        let new = Box::into_raw(Box::new(ReadOnly { m }));
        // Release: publishes the new set to `snapshot`'s Acquire load. The
        // old pointer was stored by a lock holder, visible through the lock.
        let old = self.read.swap(new, Release);
        let amended = old as usize & AMENDED != 0;
        let old = old
            .cast::<u8>()
            .wrapping_sub(amended as usize)
            .cast::<ReadOnly<K, V, S>>();
        // SAFETY: `old` was the map's snapshot and is now unlinked (the
        // swap): threads that pin from now on load `new`. Only this swap
        // unlinked it, so it is retired once.
        unsafe { g.retire(old) };
    }

    /// Go's promotion: the dirty map becomes the snapshot.
    fn promote_locked<'g>(
        &'g self,
        d: &mut Dirty<K, V, S>,
        g: &'g Guard<'_>,
    ) -> Snapshot<'g, K, V, S> {
        let m = d.m.take().expect("amended implies a dirty map");
        d.misses = 0;
        self.publish_locked(d, m, g);
        self.snapshot(g)
    }

    /// Go's `missLocked`: counts a locked lookup; promotes once the misses
    /// have cost as much as copying the dirty map would.
    fn miss_locked(&self, d: &mut Dirty<K, V, S>, g: &Guard<'_>) {
        d.misses += 1;
        if d.misses >= d.m.as_ref().map_or(0, HashSet::len) {
            self.promote_locked(d, g);
        }
    }

    /// Before a new key goes into the dirty map of an unamended snapshot:
    /// Go's `dirtyLocked` (build the dirty map from the snapshot if there is
    /// none, expunging deleted entries instead of copying them), then sets
    /// the amended bit. (After a `clear` the dirty map exists, empty.)
    fn amend_locked(&self, d: &mut Dirty<K, V, S>, read: &Set<K, V, S>) {
        if d.m.is_none() {
            let mut m = HashSet::with_capacity_and_hasher(read.len(), self.hasher.clone());
            for s in read {
                if !s.0.try_expunge_locked() {
                    m.insert(s.clone());
                }
            }
            d.m = Some(m);
        }
        self.set_amended_locked(d);
    }

    /// The dirty map, which the caller knows is `Some`.
    fn dirty_mut(d: &mut Dirty<K, V, S>) -> &mut Set<K, V, S> {
        d.m.as_mut()
            .expect("the dirty map exists while the snapshot is amended")
    }

    /// Go's locked lookup of `Load`, `LoadAndDelete` (`remove`) and
    /// `CompareAndDelete`: the entry for `key` from the snapshot or the
    /// dirty map (then counting a miss). The `Arc` keeps it alive after the
    /// lock is released.
    fn find_locked(&self, key: &K, g: &Guard<'_>, remove: bool) -> Option<Arc<Entry<K, V>>> {
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(g);
        if let Some(s) = snap.set.get(key) {
            return Some(Arc::clone(&s.0));
        }
        if !snap.amended {
            return None;
        }
        let dirty = Self::dirty_mut(&mut d);
        let e = if remove {
            dirty.take(key).map(|s| s.0)
        } else {
            dirty.get(key).map(|s| Arc::clone(&s.0))
        };
        self.miss_locked(&mut d, g);
        e
    }

    /// Go's `Swap`: the previous value, retired (alive while `g` is).
    fn swap_in<'g>(&'g self, key: K, new: Box<V>, g: &'g Guard<'_>) -> Option<&'g V> {
        let snap = self.snapshot(g);
        let mut new = new;
        if let Some(s) = snap.set.get(&key) {
            match s.0.try_swap(new, g) {
                Ok(prev) => return prev,
                Err(back) => new = back,
            }
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(g);
        if let Some(s) = snap.set.get(&key) {
            if s.0.unexpunge_locked() {
                Self::dirty_mut(&mut d).insert(s.clone());
            }
            s.0.swap_locked(new, g)
        } else if let Some(s) = d.m.as_ref().and_then(|m| m.get(&key)) {
            s.0.swap_locked(new, g)
        } else {
            if !snap.amended {
                self.amend_locked(&mut d, snap.set);
            }
            Self::dirty_mut(&mut d).insert(Slot(Arc::new(Entry::new(key, new))));
            None
        }
    }

    /// Go's `LoadAndDelete`: the deleted value, retired (alive while `g` is).
    fn delete_in<'g>(&'g self, key: &K, g: &'g Guard<'_>) -> Option<&'g V> {
        let snap = self.snapshot(g);
        if let Some(s) = snap.set.get(key) {
            return s.0.delete(g);
        }
        if !snap.amended {
            return None;
        }
        self.find_locked(key, g, true)?.delete(g)
    }
}

impl<K, V, S> Map<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + PartialEq + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    /// Stores `new` for `key` if its present value equals `old`; whether it
    /// did. A missing key never matches.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// assert!(!m.compare_and_swap(&1, &0, 1));
    /// m.store(1, 0);
    /// assert!(m.compare_and_swap(&1, &0, 1));
    /// assert!(!m.compare_and_swap(&1, &0, 2));
    /// assert_eq!(m.load(&1), Some(1));
    /// ```
    pub fn compare_and_swap(&self, key: &K, old: &V, new: V) -> bool {
        let g = self.reclaim.pin();
        let snap = self.snapshot(&g);
        if let Some(s) = snap.set.get(key) {
            return s.0.try_compare_and_swap(old, new, &g);
        }
        if !snap.amended {
            return false;
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(&g);
        if let Some(s) = snap.set.get(key) {
            s.0.try_compare_and_swap(old, new, &g)
        } else if let Some(s) = d.m.as_ref().and_then(|m| m.get(key)) {
            let swapped = s.0.try_compare_and_swap(old, new, &g);
            self.miss_locked(&mut d, &g);
            swapped
        } else {
            false
        }
    }

    /// Deletes `key` if its present value equals `old`; whether it did.
    ///
    /// ```
    /// let m = gort_sync::Map::new();
    /// m.store(1, 'x');
    /// assert!(!m.compare_and_delete(&1, &'y'));
    /// assert!(m.compare_and_delete(&1, &'x'));
    /// assert_eq!(m.load(&1), None);
    /// ```
    pub fn compare_and_delete(&self, key: &K, old: &V) -> bool {
        let g = self.reclaim.pin();
        let snap = self.snapshot(&g);
        if let Some(s) = snap.set.get(key) {
            return s.0.compare_and_delete(old, &g);
        }
        if !snap.amended {
            return false;
        }
        match self.find_locked(key, &g, false) {
            Some(e) => e.compare_and_delete(old, &g),
            None => false,
        }
    }
}

impl<K, V, S> fmt::Debug for Map<K, V, S>
where
    K: Hash + Eq + Send + Sync + 'static + fmt::Debug,
    V: Clone + Send + Sync + 'static + fmt::Debug,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        self.range(|k, v| {
            m.entry(k, v);
            true
        });
        m.finish()
    }
}

impl<K, V, S> Drop for Map<K, V, S> {
    fn drop(&mut self) {
        // Relaxed: `&mut self`; no other thread can access the map.
        let tagged = self.read.load(Relaxed);
        let amended = tagged as usize & AMENDED != 0;
        let p = tagged
            .cast::<u8>()
            .wrapping_sub(amended as usize)
            .cast::<ReadOnly<K, V, S>>();
        // SAFETY: the current snapshot is owned by the map (never retired);
        // no guard can be alive (guards borrow the map).
        drop(unsafe { Box::from_raw(p) });
    }
}
