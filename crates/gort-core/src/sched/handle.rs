//! The `Handle` value: a reference to a runtime's `Shared`, and whether a
//! user holds it (the deadlock detector's "a thread outside could still use
//! it"). The type lives here, below the layers that keep one (the thread
//! contexts, the offload threads, `block_on`); its user-facing methods are
//! in `rt.rs`.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Shared;

/// A cheap, cloneable reference to a runtime: spawn on it from any thread.
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
    /// Counted in `Shared::user_handles` (the deadlock detector's "a
    /// thread outside could still use it"); false for the runtime's own and
    /// for those the runtime keeps in its threads' contexts.
    user: bool,
}

impl Handle {
    /// A handle the runtime keeps for itself (not counted).
    pub(crate) fn internal(shared: Arc<Shared>) -> Handle {
        Handle {
            shared,
            user: false,
        }
    }

    /// For a context guard: the same runtime, not counted.
    pub(crate) fn to_internal(&self) -> Handle {
        Handle::internal(self.shared.clone())
    }
}

impl Clone for Handle {
    /// Every clone is a user's handle (counted until dropped).
    fn clone(&self) -> Handle {
        self.shared.user_handles.fetch_add(1, Ordering::Relaxed);
        Handle {
            shared: self.shared.clone(),
            user: true,
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.user {
            self.shared.user_handles.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("procs", &self.shared.procs())
            .finish()
    }
}
