//! Turning C pointers into Rust slices: NULL, length and overlap checks.
//!
//! The only `unsafe` of the crate besides the model storage in `api.rs`.
//! Each function trusts the C contract written in `include/smn.h` — a
//! non-NULL pointer names at least `len` readable (or writable) bytes that
//! stay valid for the call — and checks everything else.
use crate::status::smn_status::{self, *};

/// A byte range of the address space, for overlap checks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    start: usize,
    len: usize,
}

impl Span {
    /// The `len` bytes at `ptr`.
    pub(crate) fn new<T>(ptr: *const T, len: usize) -> Span {
        Span {
            start: ptr as usize,
            len,
        }
    }

    /// The bytes of one `T` at `ptr`.
    pub(crate) fn of<T>(ptr: *const T) -> Span {
        Span::new(ptr, core::mem::size_of::<T>())
    }

    fn overlaps(self, other: Span) -> bool {
        let end = |s: Span| s.start.saturating_add(s.len);
        self.len > 0 && other.len > 0 && self.start < end(other) && other.start < end(self)
    }
}

/// `Err(SMN_ERR_BAD_LENGTH)` when a span is longer than a slice may be,
/// else `Err(SMN_ERR_OVERLAPPING_BUFFERS)` when a buffer the call writes
/// overlaps any other buffer of the call.
pub(crate) fn check_disjoint(writes: &[Span], reads: &[Span]) -> Result<(), smn_status> {
    if writes.iter().chain(reads).any(|s| s.len > isize::MAX as usize) {
        return Err(SMN_ERR_BAD_LENGTH);
    }
    for (i, w) in writes.iter().enumerate() {
        let others = writes.iter().skip(i + 1).chain(reads);
        if others.into_iter().any(|o| w.overlaps(*o)) {
            return Err(SMN_ERR_OVERLAPPING_BUFFERS);
        }
    }
    Ok(())
}

/// Checks `ptr` for NULL and `len` for the slice size limit.
fn check<T>(ptr: *const T, len: usize) -> Result<(), smn_status> {
    if ptr.is_null() {
        Err(SMN_ERR_NULL_POINTER)
    } else if len > isize::MAX as usize {
        Err(SMN_ERR_BAD_LENGTH)
    } else {
        Ok(())
    }
}

/// The `len` bytes at `ptr`, borrowed for the call.
///
/// # Safety
/// A non-NULL `ptr` names `len` readable bytes that nothing writes during `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], smn_status> {
    check(ptr, len)?;
    // SAFETY: non-NULL, `len` readable bytes (the caller's contract), u8 needs no alignment.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// The `len` bytes at `ptr`, borrowed mutably for the call.
///
/// # Safety
/// A non-NULL `ptr` names `len` writable bytes that nothing else reads or
/// writes during `'a` (the caller checks overlaps with [`check_disjoint`]).
pub(crate) unsafe fn bytes_mut<'a>(ptr: *mut u8, len: usize) -> Result<&'a mut [u8], smn_status> {
    check(ptr, len)?;
    // SAFETY: as above, and exclusive by the caller's overlap check.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr, len) })
}

/// The `T` at `ptr`, or `SMN_ERR_NULL_POINTER`.
///
/// # Safety
/// A non-NULL `ptr` points to a valid, aligned `T` that nothing writes during `'a`.
pub(crate) unsafe fn value<'a, T>(ptr: *const T) -> Result<&'a T, smn_status> {
    // SAFETY: the caller's contract; NULL is refused by `as_ref`.
    unsafe { ptr.as_ref() }.ok_or(SMN_ERR_NULL_POINTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_are_found_and_empty_spans_never_overlap() {
        let a = Span { start: 100, len: 10 };
        let b = Span { start: 109, len: 5 };
        let c = Span { start: 110, len: 5 };
        let empty = Span { start: 105, len: 0 };
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c) && !c.overlaps(a));
        assert!(!a.overlaps(empty));
        assert_eq!(check_disjoint(&[a], &[c, empty]), Ok(()));
        assert_eq!(check_disjoint(&[a, b], &[]), Err(SMN_ERR_OVERLAPPING_BUFFERS));
        assert_eq!(check_disjoint(&[c], &[b]), Err(SMN_ERR_OVERLAPPING_BUFFERS));
        // Two reads may overlap.
        assert_eq!(check_disjoint(&[], &[a, b]), Ok(()));
        let top = Span {
            start: usize::MAX - 2,
            len: 10,
        };
        assert!(top.overlaps(Span {
            start: usize::MAX - 1,
            len: 1
        }));
    }
}
