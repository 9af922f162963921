//! Why a context is done.

use std::error;
use std::fmt;
use std::sync::Arc;

/// Why a context is done: what [`Context::err`](super::Context::err)
/// reports once it is (Go's `context.Canceled` and
/// `context.DeadlineExceeded`).
///
/// # Examples
///
/// ```
/// use gort_sync::context::{self, Error};
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// assert_eq!(ctx.err(), None);
/// cancel.cancel();
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// assert_eq!(Error::Canceled.to_string(), "context canceled");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// A cancel function was called (on this context or an ancestor).
    Canceled,
    /// The deadline passed (this context's or an ancestor's).
    DeadlineExceeded,
}

impl Error {
    /// Whether this is [`DeadlineExceeded`](Error::DeadlineExceeded) (Go's
    /// `Timeout()` method of that error).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::DeadlineExceeded)
    }

    pub(super) fn code(self) -> usize {
        match self {
            Error::Canceled => 1,
            Error::DeadlineExceeded => 2,
        }
    }

    pub(super) fn from_code(code: usize) -> Option<Error> {
        match code {
            0 => None,
            1 => Some(Error::Canceled),
            _ => Some(Error::DeadlineExceeded),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl error::Error for Error {}

/// A cancellation cause, as [`cause`](super::cause) returns it.
pub type Cause = Arc<dyn error::Error + Send + Sync + 'static>;
