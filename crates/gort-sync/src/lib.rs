//! gort-sync: Go's concurrency toolkit for gort — channels, `select!`'s
//! engine, WaitGroup, Context, ErrGroup, sync.Map, and the `sync` primitives
//! as async primitives:
//! [`Mutex`], [`RwMutex`], [`Once`], [`Cond`] and x/sync's weighted
//! [`Semaphore`] (their waiters share one queue type, `waitq`).
//!
//! The channels work on any executor; on gort, a receiver woken by a sender
//! running on a P goes to that P's `runnext`, so a ping-pong between two
//! tasks runs back to back on one P.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub(crate) mod loom;

mod backoff;

pub mod chan;
mod cond;
pub mod context;
mod errgroup;
mod mutex;
mod once;
mod pool;
mod rand;
mod rwmutex;
#[doc(hidden)]
pub mod select;
mod semaphore;
mod syncmap;
pub mod time;
mod waitgroup;
mod waitq;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, loom))]
mod loom_tests_memory;
#[cfg(all(test, loom))]
mod loom_tests_pool;
#[cfg(all(test, loom))]
mod loom_tests_rw_once_cond;
#[cfg(all(test, loom))]
mod loom_tests_sync;
#[cfg(all(test, not(loom)))]
mod miri_tests;

pub use chan::{chan, Receiver, SendError, Sender, TryRecvError, TrySendError};
pub use cond::Cond;
pub use errgroup::ErrGroup;
pub use mutex::{Lock, Mutex, MutexGuard, TryLockError};
pub use once::Once;
pub use pool::{Pool, PoolGuard};
pub use rwmutex::{ReadLock, RwMutex, RwMutexReadGuard, RwMutexWriteGuard, WriteLock};
pub use semaphore::{Acquire, AcquireError, Semaphore};
pub use syncmap::Map;
pub use waitgroup::{Wait, WaitGroup};
