//! # gort: Go's runtime, rebuilt for Rust's async world
//!
//! Write ordinary futures; gort runs them on Go's GMP scheduler: tasks (G)
//! on worker threads (M) that hold processors (P), each with a local run
//! queue, a `runnext` slot and its timers; work stealing, spinning Ms and
//! idle-M parking as in Go's `proc.go`.
//!
//! ```
//! #[gort::main(procs = 2)]
//! async fn main() {
//!     let handles: Vec<_> = (0..1000u64).map(|i| gort::spawn(async move { i * 2 })).collect();
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     assert_eq!(sum, 999_000);
//!     gort::time::sleep(std::time::Duration::from_millis(1)).await;
//! }
//! ```
//!
//! The user-visible contract (names and shapes) is fixed; see the crate's
//! `docs/semantics.md` for where gort's behaviour differs from Go's and why.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]

pub use gort_core::{
    spawn, spawn_blocking, syscall, yield_now, BuildError, Builder, EnterGuard, Handle, Id,
    JoinError, JoinHandle, Runtime,
};
pub use gort_macros::{main, select, test};

/// Go's `runtime` package: introspection of the current runtime.
pub mod runtime {
    pub use gort_core::runtime::*;
    pub use gort_core::{Metrics, WaitReason};
}

/// Go's `time` package: sleeping, deadlines, tickers and timers.
pub mod time {
    pub use gort_core::time::*;
    pub use gort_sync::time::after;
}

/// Go's `context` package: cancellation trees, deadlines and values.
pub mod context {
    pub use gort_sync::context::*;
}

/// Go's channels and `sync` package.
pub mod sync {
    pub use gort_sync::chan::{
        chan, Receiver, Recv, RecvOwned, Send, SendError, Sender, TryRecvError, TrySendError,
    };
    pub use gort_sync::{
        Acquire, AcquireError, Cond, Lock, Mutex, MutexGuard, Once, ReadLock, RwMutex,
        RwMutexReadGuard, RwMutexWriteGuard, Semaphore, TryLockError, WriteLock,
    };
    pub use gort_sync::{ErrGroup, Map, Wait, WaitGroup};
}

#[doc(hidden)]
pub mod __private {
    //! Used by the code the macros generate; not public API.
    pub use gort_core::Builder;
    pub use gort_sync::select;
}
