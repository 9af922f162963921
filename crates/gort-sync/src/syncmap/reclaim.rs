//! When a replaced value or read snapshot may be freed: epoch-based
//! reclamation.
//!
//! Go's `sync.Map` lets the garbage collector free a value that a `Store`
//! replaced while a `Load` may still be reading it. Here the same job is
//! done by epochs (Fraser's EBR, as implemented by `crossbeam-epoch`): every
//! operation runs inside a [`Guard`] (the thread is *pinned*); a pointer
//! unlinked from the map is [retired](Guard::retire), and its box is
//! dropped only after every thread that was pinned at that moment has
//! unpinned. So a reference read through a guard stays valid for the
//! guard's lifetime, whatever other threads store meanwhile.
//!
//! **Batches.** A retired box is not handed to crossbeam-epoch one by one
//! (a `defer` each is a closure stored in crossbeam's bag, and a 2 KiB bag
//! is allocated and copied per 64 of them): it goes into this thread's
//! *limbo*, and every `BATCH` (14) boxes the limbo is deferred as one
//! closure. Deferring later than the
//! unlink is sound: crossbeam runs the closure after every thread pinned at
//! the time of the `defer` has unpinned; a thread that was pinned at the
//! unlink and is not pinned at the `defer` has dropped its guard, and with
//! it every reference it read (references do not outlive guards); a thread
//! that pins after the unlink cannot reach the box. A limbo holds at most
//! `BATCH - 1` boxes between operations (like crossbeam's own per-thread
//! bag); it is deferred when its thread exits. A batch, once run, drops
//! its values and hands their memory, and its own block, to
//! [`recycle`](super::recycle), whose pool serves the next stores (and the
//! next batches), so that steady state allocates nothing. A retired box is
//! two words in its batch: its pointer and a static [`Shape`] of its type
//! (layout, how to drop it).
//!
//! Batches are not larger because crossbeam-epoch frees whole bags (64
//! closures, so 896 boxes) and up to 8 bags per collection: the larger a
//! batch, the larger the lumps the pool must absorb (a batch of 31 made
//! lumps of ~16,000 boxes, which overflowed it).
//!
//! Under `--cfg loom` the epochs are left out: [`Reclaimer`] keeps every
//! retired box until the map is dropped (the *graveyard*), which is
//! trivially safe. Loom cannot model crossbeam-epoch's atomics (they are
//! not loom's), so the models check the map's protocol and its own unsafe
//! code (value and snapshot pointers, the amended tag, that every box is
//! retired or freed exactly once), and the graveyard's drop frees
//! everything, so a double retire or a leak still shows.
//!
//! Miri runs the real path above (epochs, limbo, batches, recycling):
//! under Tree Borrows, since crossbeam-epoch's own intrusive list
//! (`Local::element_of`) fails Stacked Borrows, and without the leak check,
//! since its global collector outlives the process and links its garbage
//! through tagged integers; the tests that run there count their values'
//! drops instead (`.ci/run`'s Miri step, `src/miri_tests.rs`).

use std::alloc::Layout;
#[cfg(not(loom))]
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

/// Retired boxes per deferred batch: crossbeam-epoch's bag (64 closures)
/// then holds 896 boxes. A batch (14 × 16 + 8 bytes) fits a recycled
/// block.
#[cfg(not(loom))]
const BATCH: usize = 14;

/// What freeing a retired box needs to know about its type.
struct Shape {
    layout: Layout,
    /// `drop_in_place::<T>`, or `None` if `T` needs no drop.
    drop_value: Option<unsafe fn(*mut u8)>,
}

/// One retired box, type-erased: where it is and its type's [`Shape`] (a
/// static, so that a batch holds two words per box).
struct Retired {
    ptr: NonNull<u8>,
    shape: &'static Shape,
}

impl Retired {
    /// # Safety
    ///
    /// `p` comes from `Box::<T>::into_raw` and is owned by the result.
    #[inline]
    unsafe fn new<T>(p: *mut T) -> Retired {
        /// # Safety
        ///
        /// `p` points to a live `T` owned by the caller, dropped once.
        unsafe fn drop_value<T>(p: *mut u8) {
            // SAFETY: per this function's contract.
            unsafe { ptr::drop_in_place(p.cast::<T>()) }
        }
        Retired {
            // SAFETY: a box pointer is never null.
            ptr: unsafe { NonNull::new_unchecked(p.cast()) },
            shape: const {
                &Shape {
                    layout: Layout::new::<T>(),
                    drop_value: if std::mem::needs_drop::<T>() {
                        Some(drop_value::<T> as unsafe fn(*mut u8))
                    } else {
                        None
                    },
                }
            },
        }
    }
}

// SAFETY: a `Retired` is only created by `Guard::retire`, whose bound
// `T: Send` makes dropping the box on another thread sound.
unsafe impl Send for Retired {}

/// Frees retired boxes: drops their values, then hands their memory to
/// this thread's pool (or frees it).
///
/// # Safety
///
/// Every box is owned by `rs` (retired once), no reference to it is alive,
/// and `rs`'s entries are not used again (`Retired` has no `Drop`).
unsafe fn free_retired(rs: &[Retired]) {
    // First every value (user code, which may use maps, so may retire and
    // allocate), with no pool borrowed. A panicking `Drop` leaks the rest.
    for r in rs {
        if let Some(drop_value) = r.shape.drop_value {
            // SAFETY: the box is live and owned (contract); its value is
            // dropped once, here; the memory is not read as a `T` again.
            unsafe { drop_value(r.ptr.as_ptr()) };
        }
    }
    // SAFETY: each block came from `Box::<T>::into_raw` (so from the global
    // allocator with `Layout::new::<T>()`, or dangling if zero-sized), its
    // value was dropped above, and each is given up once.
    unsafe { super::recycle::give(rs.iter().map(|r| (r.ptr, r.shape.layout))) };
}

/// The map's part in reclamation: nothing, or (under loom) the
/// graveyard.
#[derive(Debug, Default)]
pub(super) struct Reclaimer {
    /// Under loom: every retired box, freed when the map is dropped.
    #[cfg(loom)]
    graveyard: std::sync::Mutex<Vec<Retired>>,
}

impl std::fmt::Debug for Retired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retired").finish_non_exhaustive()
    }
}

#[cfg(loom)]
impl Drop for Reclaimer {
    fn drop(&mut self) {
        let graveyard = self.graveyard.get_mut().unwrap_or_else(|e| e.into_inner());
        // SAFETY: `&mut self`: the map is being dropped, no guard is alive
        // (guards borrow the map), and each box was retired once.
        unsafe { free_retired(graveyard) };
        graveyard.clear();
    }
}

impl Reclaimer {
    /// Pins the calling thread: boxes retired from now on are not freed
    /// before the guard is dropped.
    #[inline]
    pub(super) fn pin(&self) -> Guard<'_> {
        Guard {
            #[cfg(not(loom))]
            inner: crossbeam_epoch::pin(),
            #[cfg(not(loom))]
            _map: PhantomData,
            #[cfg(loom)]
            reclaimer: self,
        }
    }
}

/// A pinned thread. References read from the map through a guard live as
/// long as it (and no longer than the map: the `'m` borrow).
pub(super) struct Guard<'m> {
    #[cfg(not(loom))]
    inner: crossbeam_epoch::Guard,
    #[cfg(not(loom))]
    _map: PhantomData<&'m Reclaimer>,
    #[cfg(loom)]
    reclaimer: &'m Reclaimer,
}

impl Guard<'_> {
    /// Hands `p`'s box over: it is dropped once no thread pinned now (this
    /// one included) is still pinned.
    ///
    /// # Safety
    ///
    /// `p` comes from `Box::into_raw`, has been unlinked from the map (no
    /// thread that pins after this call can reach it), and is retired once.
    #[inline]
    pub(super) unsafe fn retire<T: Send + 'static>(&self, p: *mut T) {
        // SAFETY: the caller hands the box over (this function's contract).
        let r = unsafe { Retired::new(p) };
        #[cfg(not(loom))]
        limbo::push(r, &self.inner);
        #[cfg(loom)]
        self.reclaimer
            .graveyard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(r);
    }
}

impl std::fmt::Debug for Guard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

/// The per-thread limbo: retired boxes not yet handed to crossbeam-epoch.
#[cfg(not(loom))]
mod limbo {
    use std::cell::RefCell;
    use std::mem::MaybeUninit;

    use std::alloc::Layout;
    use std::ptr::NonNull;

    use super::super::recycle;
    use super::{free_retired, Retired, BATCH};

    /// Up to [`BATCH`] retired boxes, deferred together. Boxed (by
    /// [`recycle::boxed`], so the box is reused too): the deferred closure
    /// holds one pointer.
    struct Batch {
        len: usize,
        /// `items[..len]` are initialized, each owning its box.
        items: [MaybeUninit<Retired>; BATCH],
    }

    /// A thread's limbo: the batch being filled. Deferred when the thread
    /// exits.
    struct Limbo(RefCell<Option<Box<Batch>>>);

    impl Drop for Limbo {
        fn drop(&mut self) {
            if let Some(b) = self.0.get_mut().take() {
                // crossbeam-epoch pins an exiting thread too (with a
                // temporary registration if its own is gone).
                defer(b, &crossbeam_epoch::pin());
            }
        }
    }

    thread_local! {
        static LIMBO: Limbo = const { Limbo(RefCell::new(None)) };
    }

    /// Adds `r` to this thread's limbo; defers the batch if that fills it.
    #[inline]
    pub(super) fn push(r: Retired, g: &crossbeam_epoch::Guard) {
        let mut r = Some(r);
        let full = LIMBO.try_with(|l| {
            // `try_borrow_mut`: no user code runs while it is borrowed, but
            // a global allocator could, in theory, use a map.
            let mut l = l.0.try_borrow_mut().ok()?;
            let b = l.get_or_insert_with(|| {
                recycle::boxed(Batch {
                    len: 0,
                    items: [const { MaybeUninit::uninit() }; BATCH],
                })
            });
            b.items[b.len].write(r.take()?);
            b.len += 1;
            if b.len == BATCH {
                l.take()
            } else {
                None
            }
        });
        if let Ok(Some(b)) = full {
            defer(b, g);
        }
        if let Some(r) = r {
            // The limbo is gone (the thread is exiting) or in use: defer
            // this one alone.
            let mut items = [const { MaybeUninit::uninit() }; BATCH];
            items[0].write(r);
            defer(recycle::boxed(Batch { len: 1, items }), g);
        }
    }

    /// Hands a batch to crossbeam-epoch: it is freed once every thread
    /// pinned now has unpinned.
    fn defer(b: Box<Batch>, g: &crossbeam_epoch::Guard) {
        let run = move || {
            let b = Box::into_raw(b);
            // SAFETY: `b` is a live box (just unwrapped); `Batch` is plain
            // data, copied out so that its block can be recycled with the
            // boxes it lists.
            let Batch { len, items } = unsafe { b.read() };
            // SAFETY: `Batch` needs no drop; its block came from
            // `recycle::boxed` (the global allocator, with its layout) and is
            // not used again (its contents were copied out above).
            unsafe {
                recycle::give(std::iter::once((
                    NonNull::new_unchecked(b.cast::<u8>()),
                    Layout::new::<Batch>(),
                )))
            };
            // SAFETY: `items[..len]` are initialized (`Batch`'s invariant).
            let items =
                unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<Retired>(), len) };
            // SAFETY: run by crossbeam-epoch when no reference to the boxes
            // is alive (see below); the batch owned them, each retired
            // once, and is not used again.
            unsafe { free_retired(items) };
        };
        // SAFETY: every box in the batch was unlinked from its map before
        // now (`Guard::retire`'s contract), so, by the module docs'
        // argument, no reference to one is alive once every thread pinned
        // now has unpinned, which is when `defer_unchecked` runs the
        // closure. `Retired` is `Send` and `'static`: the closure may run on
        // any thread, after the map is gone.
        unsafe { g.defer_unchecked(run) };
    }
}
