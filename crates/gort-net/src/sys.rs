//! The few errno values gort-net must recognise, without a libc
//! dependency: `std::io::ErrorKind` has no stable kind for them.
//!
//! Values from each OS's `<errno.h>`; the Linux ones also hold for
//! Android, the BSD ones for macOS, iOS and the BSDs.

use std::io;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod errno {
    pub(super) const ENOMEM: i32 = 12;
    pub(super) const ENFILE: i32 = 23;
    pub(super) const EMFILE: i32 = 24;
    pub(super) const ENOBUFS: i32 = 105;
    pub(super) const EINPROGRESS: i32 = 115;
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod errno {
    pub(super) const ENOMEM: i32 = 12;
    pub(super) const ENFILE: i32 = 23;
    pub(super) const EMFILE: i32 = 24;
    pub(super) const ENOBUFS: i32 = 55;
    pub(super) const EINPROGRESS: i32 = 36;
}

/// Out of descriptors or kernel memory: accepting again at once would fail
/// the same way (Go's http server treats these as temporary and backs off).
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::OutOfMemory
        || matches!(
            e.raw_os_error(),
            Some(errno::EMFILE | errno::ENFILE | errno::ENOBUFS | errno::ENOMEM)
        )
}

/// A connection that died between the SYN and `accept`, or a signal:
/// retry at once (Go's `accept` does the same for `ECONNABORTED`).
pub(crate) fn is_accept_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
    )
}

/// A non-blocking `connect` that has started and will finish later.
pub(crate) fn is_in_progress(e: &io::Error) -> bool {
    e.raw_os_error() == Some(errno::EINPROGRESS) || e.kind() == io::ErrorKind::WouldBlock
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_descriptor_exhaustion() {
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(
            errno::EMFILE
        )));
        assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(
            errno::ENFILE
        )));
        assert!(!is_resource_exhaustion(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(is_accept_retry(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }
}
