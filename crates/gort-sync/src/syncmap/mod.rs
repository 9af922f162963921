//! Go's `sync.Map`: a concurrent map whose loads of stable keys take no
//! lock.
//!
//! # Design (Go 1.19's `sync/map.go`, with entries stored in the tables)
//!
//! Concepts:
//!
//! - An **entry** ([`entry::Entry`]) is one key and an atomic pointer to its
//!   value (Go's `p`): a boxed value, null (deleted) or *stale* (its table
//!   has been replaced; see below). Entries are stored inline in their
//!   table's slots, not behind a pointer: a load probes the table and reads
//!   the value pointer from the slot it lands on.
//! - The **read snapshot** (Go's `read`): a hash table of entries
//!   (`hashbrown::HashTable`) behind one atomic pointer, loaded without a
//!   lock; immutable once published, but for the entries' value pointers.
//!   Its low bit is Go's `amended`: set when the dirty map holds a key the
//!   snapshot lacks. The pointer and the bit are read in one atomic load,
//!   as Go reads its `readOnly` struct, so a reader never pairs a new table
//!   with a stale bit.
//! - The **dirty map** (Go's `dirty`), behind the mutex: only the keys
//!   stored since the last promotion that the snapshot lacks (Go's also
//!   holds the snapshot's live entries, shared by pointer; here they cannot
//!   be shared, being inline). With it, `misses`: how many lookups since
//!   the last promotion had to take the lock.
//!
//! Invariants:
//!
//! 1. The amended bit is set whenever the dirty map is not empty.
//! 2. A key is in at most one of the snapshot and the dirty map.
//! 3. The snapshot is replaced (and the old one retired) only with the lock
//!    held; entries' values change without the lock, by CAS, except that
//!    only a promotion makes an entry stale, and only in the snapshot it
//!    replaces: under the lock, the current snapshot has no stale entry.
//!
//! The protocol:
//!
//! 1. **Load**: pin (see [`reclaim`]), hash the key once, load the
//!    snapshot; if the key is there and its entry is not stale, read the
//!    value: no lock, no write to shared memory. Else (missing and
//!    amended, or stale), lock, look again in the snapshot, then in the
//!    dirty map, and count a **miss**; once misses reach the size of both,
//!    **promote** (below).
//! 2. **Store** to a key in the snapshot: CAS the new value into its entry
//!    (also into a deleted one: null is a state like any value), unless the
//!    entry is stale. Else lock: a key in the (current) snapshot or in the
//!    dirty map is swapped there; a new key goes into the dirty map, and
//!    the amended bit is set.
//! 3. **Delete**: CAS the entry's value to null; a key only in the dirty
//!    map is removed from it. A deleted entry stays in the snapshot until
//!    the next promotion leaves it out.
//! 4. **Promote** (with the lock): hash every key of the snapshot first
//!    (the only user code), then build the next table: each snapshot entry
//!    with a value is *moved*: its value pointer is swapped to `moved` and
//!    the key (a bitwise copy, which takes over its ownership) and the box
//!    go into a new entry; a deleted one is marked `left` and left out;
//!    then the dirty map's entries with a value move in (with the hash they
//!    were stored with). Publish the new table (not amended), retire the
//!    old. A lock-free operation racing this either lands before the swap
//!    (its value is what moves) or meets a stale entry and retries under
//!    the lock, in the new table: no store is lost, no delete undone.
//! 5. **Range**: if amended, promote first (a range costs O(n) anyway);
//!    then iterate the snapshot without the lock, so the callback may use
//!    the map. An entry found stale (a promotion ran meanwhile) is looked up
//!    in the current snapshot.
//!
//! Replaced values, moved-from snapshots and their keys' old copies are
//! freed by epoch reclamation ([`reclaim`]), Go's garbage collector's part:
//! a reference read under a guard stays valid until the guard is dropped.
//! Retired boxes are handed to the epochs in batches, and a freed value's
//! block is not returned to the allocator but kept for the next store of a
//! value with the same layout ([`recycle`]): the allocator's part of Go's
//! garbage collector.
//!
//! # Why this design
//!
//! Go 1.24 rebuilt `sync.Map` on a concurrent hash-trie (`internal/sync`'s
//! `HashTrieMap`) so that stores of new keys scale across cores. Here the
//! workloads (`gort-bench`'s `syncmap_read90`, `syncmap_mixed50`,
//! `syncmap_range`, like Go's own benchmarks) load and store keys that
//! exist, which the read/dirty design serves with one probe of an
//! immutable table and one atomic load or CAS: no trie walk of several
//! dependent pointer loads, and no lock or cache-line write on a load. The
//! hash-trie's win, many threads inserting *new* keys, is the case this
//! design serializes on its mutex; a workload dominated by that is better
//! served by a sharded map.
//!
//! Entries inline rather than shared (`Arc<Entry>` in both maps, as Go
//! shares `*entry`): the first version did that, and `read90` trailed
//! `dashmap`'s. Its profile showed memory, not instructions: a load
//! touched the table's slot, the `Arc` (an allocation of its own) and the
//! value box, and the table with its shared entries outgrew the per-core
//! cache, so loads missed where `dashmap`'s did not, at a similar
//! instruction count. Inline entries take one of those steps away and
//! shrink the working set. The price is the promotion above (a copy of the
//! snapshot, where Go's is a pointer swap; Go copies when it builds the
//! dirty map instead, so both are O(n) once per promotion) and the stale
//! state. What is left is the value box: `V` is generic, so it is behind a
//! pointer, as in Go.
//!
//! Stores of existing keys (`mixed50`: half the operations) allocate a box
//! and retire one. With `Box::new` and a `defer` per retired box to
//! crossbeam-epoch, most of a store's instructions were glibc's `malloc`
//! and `free`: epochs free in lumps, on whichever thread collects, which
//! overflows glibc's per-thread cache into its fast bins, and crossbeam's
//! 2 KiB bag allocations then consolidate those. Now a retired box goes
//! into a per-thread batch of 14 (one `defer` per batch) and, once freed,
//! into a per-thread free list backed by a global depot ([`recycle`]); the
//! next store takes its box from there, so stores stop calling `malloc`
//! once the map is filled. Loads gain too: they pay for collecting, which
//! now frees into the pool. What did not pay: batching without recycling
//! (the frees still went through glibc); per-thread free lists without the
//! depot (a box is often freed by another thread than the one that stores
//! next); larger batches (crossbeam frees whole bags of 64 closures, so
//! batches of 31 made lumps of ~16,000 boxes, which overflowed the lists).
//! What is left per operation is mostly SipHash (`RandomState`, as
//! `dashmap`'s) and crossbeam's pin and unpin (a `lock cmpxchg` among
//! them). The profiles and runs behind this paragraph and the one above,
//! with their commands: `docs/perf-log.md`, "figures moved out of
//! gort-sync's comments", sync.Map.
//!
//! Rejected: a `RwLock<HashMap>` (every load writes the lock's counter, a
//! shared cache line); an `Arc` snapshot swapped with `arc-swap` (one more
//! reference count per load, and loom cannot model it).

mod entry;
mod reclaim;
mod recycle;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod tests;

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::marker::PhantomData;
use std::mem;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use hashbrown::HashTable;

use crate::loom::{lock, AtomicPtr, Mutex};
use entry::{Entry, LoadOrStore};
use reclaim::{Guard, Reclaimer};

/// Go's `readOnly.m`: the snapshot's table, entries inline. (Its `amended`
/// is the pointer's low bit, [`AMENDED`].) Immutable once published, but
/// for the entries' value pointers.
struct ReadOnly<K, V> {
    m: HashTable<Entry<K, V>>,
}

/// The read pointer's low bit: Go's `readOnly.amended`. `ReadOnly` is at
/// least pointer-aligned, so the bit is free.
const AMENDED: usize = 1;

/// A loaded read pointer: the table and the amended bit, read together.
struct Snapshot<'g, K, V> {
    t: &'g HashTable<Entry<K, V>>,
    amended: bool,
}

/// A dirty map's entry, with its key's hash: a promotion moves it into the
/// next snapshot without hashing (see [`Map::promote_locked`]).
struct DirtyEntry<K, V> {
    hash: u64,
    e: Entry<K, V>,
}

/// What the mutex protects.
struct Dirty<K, V> {
    /// Go's `dirty`, less the snapshot's keys: the keys stored since the
    /// last promotion that the snapshot lacks. Only ever touched with the
    /// lock held.
    m: HashTable<DirtyEntry<K, V>>,
    /// Go's `misses`: locked lookups since the last promotion.
    misses: usize,
}

/// The entry for `key` (hash `h`) in `t`.
#[inline]
fn find<'t, K: Eq, V>(t: &'t HashTable<Entry<K, V>>, h: u64, key: &K) -> Option<&'t Entry<K, V>> {
    t.find(h, |e| e.key() == key)
}

/// The dirty map's entry for `key` (hash `h`).
fn find_dirty<'t, K: Eq, V>(
    t: &'t HashTable<DirtyEntry<K, V>>,
    h: u64,
    key: &K,
) -> Option<&'t Entry<K, V>> {
    t.find(h, |d| d.hash == h && d.e.key() == key).map(|d| &d.e)
}

/// An entry is never stale in the current snapshot while the lock is held.
#[cold]
fn stale_under_lock() -> ! {
    unreachable!("the current snapshot's entries are not stale under the lock")
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
    read: AtomicPtr<ReadOnly<K, V>>,
    /// The dirty map and the miss count. Never held while user code that
    /// may use the map runs (the `range` callback).
    dirty: Mutex<Dirty<K, V>>,
    /// Hashes every key, once per operation.
    hasher: S,
    reclaim: Reclaimer,
    /// The map owns the snapshot behind `read`.
    _owns: PhantomData<Box<ReadOnly<K, V>>>,
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
            m: HashTable::new(),
        });
        Map {
            read: AtomicPtr::new(Box::into_raw(read)),
            dirty: Mutex::new(Dirty {
                m: HashTable::new(),
                misses: 0,
            }),
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
        let h = self.hash(key);
        let snap = self.snapshot(&g);
        if let Some(e) = find(snap.t, h, key) {
            if let Ok(v) = e.load(&g) {
                return v.cloned();
            }
        } else if !snap.amended {
            return None;
        }
        self.load_locked(key, h, &g)
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
        self.swap_in(key, recycle::boxed(value), &g);
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
        self.swap_in(key, recycle::boxed(value), &g).cloned()
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
        let h = self.hash(&key);
        let snap = self.snapshot(&g);
        let mut value = value;
        if let Some(e) = find(snap.t, h, &key) {
            match e.try_load_or_store(value, &g) {
                LoadOrStore::Loaded(v) => return (v.clone(), true),
                LoadOrStore::Stored(v) => return (v.clone(), false),
                LoadOrStore::Stale(v) => value = v,
            }
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(&g);
        // Values are cloned under the lock: once it is released, a dirty
        // entry's box may be freed by a `clear`.
        let locked = |e: &Entry<K, V>, value| match e.try_load_or_store(value, &g) {
            LoadOrStore::Loaded(v) => (v.clone(), true),
            LoadOrStore::Stored(v) => (v.clone(), false),
            LoadOrStore::Stale(_) => stale_under_lock(),
        };
        if let Some(e) = find(snap.t, h, &key) {
            return locked(e, value);
        }
        if let Some(e) = find_dirty(&d.m, h, &key) {
            let r = locked(e, value);
            self.miss_locked(&mut d, &g);
            return r;
        }
        let ret = value.clone();
        self.insert_locked(
            &mut d,
            snap.amended,
            h,
            Entry::new(key, recycle::boxed(value)),
        );
        (ret, false)
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
        for e in snap.t.iter() {
            let v = match e.load(&g) {
                Ok(v) => v,
                // A promotion (run by `f`, or by another thread) moved the
                // key on: read it where it is now.
                Err(_) => self.load_current(e.key(), &g),
            };
            if let Some(v) = v {
                if !f(e.key(), v) {
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
        if snap.t.is_empty() && !snap.amended {
            return;
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(&g);
        if !snap.t.is_empty() || snap.amended {
            // As Go's `Clear`: the old snapshot's entries are not marked
            // stale, so a store racing the clear may land in one and be
            // dropped with it (it is ordered before the clear).
            self.publish_locked(&mut d, HashTable::new(), &g);
        }
        let old = mem::replace(&mut d.m, HashTable::new());
        d.misses = 0;
        drop(d);
        // Dropped without the lock: dropping keys and values runs user code.
        // Dirty entries are reached only under the lock, so nobody else
        // can read them now.
        drop(old);
    }

    /// `key`'s hash. `BuildHasher::hash_one` does the same, but was compiled
    /// as an out-of-line call, which every load then paid for (module doc,
    /// "Why this design": the figures are in `docs/perf-log.md`).
    #[allow(clippy::manual_hash_one)] // on purpose, as said above
    #[inline]
    fn hash(&self, key: &K) -> u64 {
        let mut s = self.hasher.build_hasher();
        key.hash(&mut s);
        s.finish()
    }

    /// The snapshot and the amended bit, loaded together.
    #[inline]
    fn snapshot<'g>(&'g self, _g: &'g Guard<'_>) -> Snapshot<'g, K, V> {
        // Acquire: pairs with the Release store that published the pointer
        // (or, for a re-tagging store, with that store, which carries the
        // publisher's writes through the mutex), so the table is visible.
        let tagged = self.read.load(Acquire);
        let amended = tagged as usize & AMENDED != 0;
        let p = tagged
            .cast::<u8>()
            .wrapping_sub(amended as usize)
            .cast::<ReadOnly<K, V>>();
        // SAFETY: `read` always holds a live snapshot (tag removed above);
        // one replaced after our load is retired, not freed, so it outlives
        // the guard `_g` (which borrows the map, so it also outlives neither
        // the map nor its `Drop`).
        let t = unsafe { &(*p).m };
        Snapshot { t, amended }
    }

    /// Sets the amended bit. Only with the lock held (the `_d` borrow).
    fn set_amended_locked(&self, _d: &mut Dirty<K, V>) {
        // Relaxed load: only lock holders store `read`, and we hold it.
        let p = self.read.load(Relaxed);
        debug_assert!(p as usize & AMENDED == 0, "already amended");
        // Release: see `snapshot` (a reader that sees this value must see
        // the table, published by whoever stored the pointer first).
        self.read
            .store(p.cast::<u8>().wrapping_add(AMENDED).cast(), Release);
    }

    /// Replaces the snapshot with `m` (not amended) and retires the old one.
    fn publish_locked(&self, d: &mut Dirty<K, V>, m: HashTable<Entry<K, V>>, g: &Guard<'_>) {
        let _ = d;
        let new = Box::into_raw(Box::new(ReadOnly { m }));
        // Release: publishes the new table (and the boxes moved into it) to
        // `snapshot`'s Acquire load. The old pointer was stored by a lock
        // holder, visible through the lock.
        let old = self.read.swap(new, Release);
        let amended = old as usize & AMENDED != 0;
        let old = old
            .cast::<u8>()
            .wrapping_sub(amended as usize)
            .cast::<ReadOnly<K, V>>();
        // SAFETY: `old` was the map's snapshot and is now unlinked (the
        // swap): threads that pin from now on load `new`. Only this swap
        // unlinked it, so it is retired once.
        unsafe { g.retire(old) };
    }

    /// Go's promotion: a new snapshot with the current one's keys that have
    /// a value and the dirty map's; the old snapshot's entries are marked
    /// stale, so that lock-free operations on them retry here.
    fn promote_locked<'g>(&'g self, d: &mut Dirty<K, V>, g: &'g Guard<'_>) -> Snapshot<'g, K, V> {
        let old = self.snapshot(g).t;
        // First all the user code (hashing), before any entry is touched: a
        // panic here leaves the map as it was. From the marking on nothing
        // may unwind, or moved keys and boxes would be dropped twice.
        let hashes: Vec<u64> = old.iter().map(|e| self.hash(e.key())).collect();
        let mut m = HashTable::with_capacity(old.len() + d.m.len());
        // `with_capacity` guarantees room for every insert below, so the
        // rehash closures are never called (no user code, no panic).
        let rehash = |e: &Entry<K, V>| self.hash(e.key());
        for (e, &h) in old.iter().zip(&hashes) {
            // SAFETY: lock held (`d`); `old` is the current snapshot, which
            // `publish_locked` below replaces and retires before we unlock;
            // we visit each of its entries once.
            if let Some(moved) = unsafe { e.move_out() } {
                m.insert_unique(h, moved, rehash);
            }
        }
        // Deleted dirty entries are dropped later: dropping a key runs user
        // code.
        let mut dead = Vec::new();
        for de in d.m.drain() {
            // Dirty entries are only reached under the lock, which we hold,
            // so none changes meanwhile; a deleted one holds no box.
            if matches!(de.e.load(g), Ok(Some(_))) {
                m.insert_unique(de.hash, de.e, rehash);
            } else {
                dead.push(de.e);
            }
        }
        d.misses = 0;
        self.publish_locked(d, m, g);
        if !dead.is_empty() {
            // SAFETY: the vector is ours (a fresh box), retired once; its
            // entries were only reachable under the lock, and are no more.
            unsafe { g.retire(Box::into_raw(Box::new(dead))) };
        }
        self.snapshot(g)
    }

    /// Go's `missLocked`: counts a locked lookup; promotes once the misses
    /// have cost as much as building the next snapshot will.
    fn miss_locked(&self, d: &mut Dirty<K, V>, g: &Guard<'_>) {
        d.misses += 1;
        if d.misses >= self.snapshot(g).t.len() + d.m.len() {
            self.promote_locked(d, g);
        }
    }

    /// Adds a key that neither the snapshot nor the dirty map has to the
    /// dirty map, and sets the amended bit if it is not set.
    fn insert_locked(&self, d: &mut Dirty<K, V>, amended: bool, h: u64, e: Entry<K, V>) {
        d.m.insert_unique(h, DirtyEntry { hash: h, e }, |de| de.hash);
        if !amended {
            self.set_amended_locked(d);
        }
    }

    /// `load`'s locked half (Go's): the snapshot again, then the dirty map,
    /// counting a miss. Cloned under the lock (see `load_or_store`).
    fn load_locked(&self, key: &K, h: u64, g: &Guard<'_>) -> Option<V> {
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(g);
        if let Some(e) = find(snap.t, h, key) {
            return e.load(g).unwrap_or_else(|_| stale_under_lock()).cloned();
        }
        if !snap.amended {
            return None;
        }
        let v = find_dirty(&d.m, h, key).and_then(|e| e.load(g).ok().flatten().cloned());
        self.miss_locked(&mut d, g);
        v
    }

    /// The value of a key that `range` found stale, from the current
    /// snapshot (not the dirty map: a key there was deleted and stored
    /// again during the range, so skipping it is allowed). The reference
    /// lives while `g` does: the box is the current one of an entry of a
    /// snapshot, so it is retired, moved or retired with it, never freed
    /// directly.
    fn load_current<'g>(&'g self, key: &K, g: &'g Guard<'_>) -> Option<&'g V> {
        let h = self.hash(key);
        let _d = lock(&self.dirty);
        let e = find(self.snapshot(g).t, h, key)?;
        e.load(g).unwrap_or_else(|_| stale_under_lock())
    }

    /// Go's `Swap`: the previous value, retired (alive while `g` is).
    fn swap_in<'g>(&'g self, key: K, new: Box<V>, g: &'g Guard<'_>) -> Option<&'g V> {
        let h = self.hash(&key);
        let snap = self.snapshot(g);
        let mut new = new;
        if let Some(e) = find(snap.t, h, &key) {
            match e.try_swap(new, g) {
                Ok(prev) => return prev,
                Err(back) => new = back,
            }
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(g);
        if let Some(e) = find(snap.t, h, &key) {
            e.swap_locked(new, g)
        } else if let Some(e) = find_dirty(&d.m, h, &key) {
            e.swap_locked(new, g)
        } else {
            self.insert_locked(&mut d, snap.amended, h, Entry::new(key, new));
            None
        }
    }

    /// Go's `LoadAndDelete`: the deleted value, retired (alive while `g` is).
    fn delete_in<'g>(&'g self, key: &K, g: &'g Guard<'_>) -> Option<&'g V> {
        let h = self.hash(key);
        let snap = self.snapshot(g);
        if let Some(e) = find(snap.t, h, key) {
            if let Ok(v) = e.delete(g) {
                return v;
            }
        } else if !snap.amended {
            return None;
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(g);
        if let Some(e) = find(snap.t, h, key) {
            return e.delete(g).unwrap_or_else(|_| stale_under_lock());
        }
        if !snap.amended {
            return None;
        }
        let removed = match d.m.find_entry(h, |de| de.hash == h && de.e.key() == key) {
            Ok(o) => Some(o.remove().0.e),
            Err(_) => None,
        };
        self.miss_locked(&mut d, g);
        drop(d);
        // The box is retired (alive while `g` is); the key is dropped here,
        // without the lock.
        removed?.delete(g).ok().flatten()
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
        let h = self.hash(key);
        let snap = self.snapshot(&g);
        let mut new = new;
        if let Some(e) = find(snap.t, h, key) {
            match e.try_compare_and_swap(old, new, &g) {
                Ok(swapped) => return swapped,
                Err(back) => new = back,
            }
        } else if !snap.amended {
            return false;
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(&g);
        if let Some(e) = find(snap.t, h, key) {
            e.try_compare_and_swap(old, new, &g)
                .unwrap_or_else(|_| stale_under_lock())
        } else if let Some(e) = find_dirty(&d.m, h, key) {
            let swapped = e
                .try_compare_and_swap(old, new, &g)
                .unwrap_or_else(|_| stale_under_lock());
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
        let h = self.hash(key);
        let snap = self.snapshot(&g);
        if let Some(e) = find(snap.t, h, key) {
            if let Ok(deleted) = e.compare_and_delete(old, &g) {
                return deleted;
            }
        } else if !snap.amended {
            return false;
        }
        let mut d = lock(&self.dirty);
        let snap = self.snapshot(&g);
        if let Some(e) = find(snap.t, h, key) {
            e.compare_and_delete(old, &g)
                .unwrap_or_else(|_| stale_under_lock())
        } else if let Some(e) = find_dirty(&d.m, h, key) {
            // As Go: the entry stays in the dirty map, deleted; the next
            // promotion drops it.
            let deleted = e
                .compare_and_delete(old, &g)
                .unwrap_or_else(|_| stale_under_lock());
            self.miss_locked(&mut d, &g);
            deleted
        } else {
            false
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
            .cast::<ReadOnly<K, V>>();
        // SAFETY: the current snapshot is owned by the map (never retired);
        // no guard can be alive (guards borrow the map).
        drop(unsafe { Box::from_raw(p) });
    }
}
