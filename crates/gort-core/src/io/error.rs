//! The errors inside the `io::Error`s of gort's I/O: a leaf, shared by the
//! readiness protocol below the scheduler and the registration above it.

use std::fmt;

/// The error inside the `io::Error` of an operation on a source whose
/// runtime has shut down (or that was never registered with one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeShutdown;

impl fmt::Display for RuntimeShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the gort runtime has shut down")
    }
}

impl std::error::Error for RuntimeShutdown {}

/// The error inside the `io::Error` of an operation on a source that was
/// closed while (or before) the operation waited (Go's `net.ErrClosed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("use of closed network connection")
    }
}

impl std::error::Error for Closed {}

/// The error of registering a source outside any gort runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRuntime;

impl fmt::Display for NoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("I/O needs a gort runtime: none is current on this thread")
    }
}

impl std::error::Error for NoRuntime {}
