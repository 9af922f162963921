//! Tag types for picking a case kind by autoref specialisation: the macro
//! writes `(&expr).__gort_case_kind().into_case(expr)`; channel operations
//! resolve to `ChanKind`, anything else that is a future to `FutKind`.
//!
//! Method lookup tries `&expr`'s own type before one more autoref: a
//! channel operation (`Recv`, `Send`, `Receiver`) implements `ChanKind`
//! itself and is found first; any other `IntoFuture` is found through
//! `FutKind`'s impl for `&F`. The tag then turns the expression into a
//! [`RecvCase`]/[`SendCase`], which take part in the select's shared claim,
//! or into a [`FutureCase`].

use std::future::IntoFuture;

use super::{FutureCase, RawCase, RecvCase, SendCase};
use crate::chan::{Chan, Receiver, Recv, Send};

/// Marks a channel operation.
#[derive(Debug)]
pub struct ChanTag;
/// Marks any other future.
#[derive(Debug)]
pub struct FutTag;

/// Found first for channel operations.
pub trait ChanKind {
    /// The tag.
    fn __gort_case_kind(&self) -> ChanTag {
        ChanTag
    }
}
impl<T> ChanKind for Recv<'_, T> {}
impl<T> ChanKind for Send<'_, T> {}
impl<T> ChanKind for Receiver<T> {}

/// Found for everything else, one autoref later.
pub trait FutKind {
    /// The tag.
    fn __gort_case_kind(&self) -> FutTag {
        FutTag
    }
}
impl<F: IntoFuture> FutKind for &F {}

/// Turns a channel operation into its case.
pub trait IntoChanCase {
    /// The case.
    type Case: RawCase;
    /// Converts.
    fn into_chan_case(self) -> Self::Case;
}
impl<'a, T> IntoChanCase for Recv<'a, T> {
    type Case = RecvCase<T, &'a Chan<T>>;
    fn into_chan_case(self) -> Self::Case {
        RecvCase::new(self.chan_ref())
    }
}
impl<'a, T> IntoChanCase for Send<'a, T> {
    type Case = SendCase<'a, T>;
    fn into_chan_case(self) -> SendCase<'a, T> {
        let (chan, v) = self.into_parts();
        SendCase::new(chan, v)
    }
}
impl<T> IntoChanCase for Receiver<T> {
    type Case = RecvCase<T, Receiver<T>>;
    fn into_chan_case(self) -> Self::Case {
        RecvCase::new(self)
    }
}

impl ChanTag {
    /// The channel case for `op`.
    pub fn into_case<C: IntoChanCase>(self, op: C) -> C::Case {
        op.into_chan_case()
    }
}

impl FutTag {
    /// The future case for `f`.
    pub fn into_case<F: IntoFuture>(self, f: F) -> FutureCase<F::IntoFuture> {
        FutureCase::new(f.into_future())
    }
}
