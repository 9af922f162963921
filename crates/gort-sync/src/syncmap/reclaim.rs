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
//! Under `--cfg loom` and under Miri the epochs are left out: [`Reclaimer`]
//! keeps every retired box until the map is dropped (the *graveyard*),
//! which is trivially safe. Loom cannot model crossbeam-epoch's atomics
//! (they are not loom's), and Miri's Stacked Borrows rejects
//! crossbeam-epoch's own intrusive list (`Local::element_of`), which is
//! outside this crate; so the models and Miri check the map's protocol and
//! its own unsafe code (value and snapshot pointers, the amended tag, that
//! every box is retired or freed exactly once), and the graveyard's drop
//! frees everything, so a double retire or a leak still shows.

#[cfg(not(any(loom, miri)))]
use std::marker::PhantomData;

/// One retired box, type-erased: its pointer and how to drop it.
struct Retired {
    ptr: *mut (),
    drop: unsafe fn(*mut ()),
}

impl Retired {
    /// # Safety
    ///
    /// `p` comes from `Box::<T>::into_raw` and is owned by the result.
    unsafe fn new<T>(p: *mut T) -> Retired {
        /// # Safety
        ///
        /// `p` is a `Box<T>` pointer owned by the caller, used once.
        unsafe fn drop_box<T>(p: *mut ()) {
            // SAFETY: per this function's contract.
            drop(unsafe { Box::from_raw(p.cast::<T>()) });
        }
        Retired {
            ptr: p.cast(),
            drop: drop_box::<T>,
        }
    }

    fn free(self) {
        // SAFETY: `ptr` and `drop` were paired by `new`, whose caller handed
        // over the box; `free` consumes `self`, so it runs once.
        unsafe { (self.drop)(self.ptr) }
    }
}

/// The map's part in reclamation: nothing, or (under loom) the graveyard.
#[derive(Debug, Default)]
pub(super) struct Reclaimer {
    /// Under loom and Miri: every retired box, freed when the map is dropped.
    #[cfg(any(loom, miri))]
    graveyard: std::sync::Mutex<Vec<Retired>>,
}

#[cfg(any(loom, miri))]
impl std::fmt::Debug for Retired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retired").finish_non_exhaustive()
    }
}

// SAFETY: a `Retired` is only created by `Guard::retire`, whose bound
// `T: Send` makes dropping the box on another thread sound.
#[cfg(any(loom, miri))]
unsafe impl Send for Retired {}

#[cfg(any(loom, miri))]
impl Drop for Reclaimer {
    fn drop(&mut self) {
        let graveyard = self.graveyard.get_mut().unwrap_or_else(|e| e.into_inner());
        for r in graveyard.drain(..) {
            r.free();
        }
    }
}

impl Reclaimer {
    /// Pins the calling thread: boxes retired from now on are not freed
    /// before the guard is dropped.
    #[inline]
    pub(super) fn pin(&self) -> Guard<'_> {
        Guard {
            #[cfg(not(any(loom, miri)))]
            inner: crossbeam_epoch::pin(),
            #[cfg(not(any(loom, miri)))]
            _map: PhantomData,
            #[cfg(any(loom, miri))]
            reclaimer: self,
        }
    }
}

/// A pinned thread. References read from the map through a guard live as
/// long as it (and no longer than the map: the `'m` borrow).
pub(super) struct Guard<'m> {
    #[cfg(not(any(loom, miri)))]
    inner: crossbeam_epoch::Guard,
    #[cfg(not(any(loom, miri)))]
    _map: PhantomData<&'m Reclaimer>,
    #[cfg(any(loom, miri))]
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
    pub(super) unsafe fn retire<T: Send + 'static>(&self, p: *mut T) {
        // SAFETY: the caller hands the box over (this function's contract).
        let r = unsafe { Retired::new(p) };
        #[cfg(not(any(loom, miri)))]
        // SAFETY: `defer_unchecked` runs the closure after every thread
        // pinned now has unpinned; by the contract, threads that pin later
        // cannot reach `p`, so no reference to it is alive when it runs.
        // `T: Send + 'static`: the closure may run on any thread, at any
        // time after this map is gone.
        unsafe {
            self.inner.defer_unchecked(move || r.free());
        }
        #[cfg(any(loom, miri))]
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
