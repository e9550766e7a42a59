//! Borrowing disjoint tensors out of one arena without copies or `unsafe`.
use crate::Error;
use core::ops::Range;

/// Splits `arena` into a mutable output range and shared views of the input
/// ranges, which must not overlap the output (validation guarantees it).
pub(crate) fn split_io<'s, const N: usize>(
    arena: &'s mut [i8],
    output: Range<usize>,
    inputs: [Range<usize>; N],
) -> Result<([&'s [i8]; N], &'s mut [i8]), Error> {
    let (left, rest) = arena.split_at_mut_checked(output.start).ok_or(Error::Internal)?;
    let (out, right) = rest
        .split_at_mut_checked(output.end.saturating_sub(output.start))
        .ok_or(Error::Internal)?;
    let (left, right): (&'s [i8], &'s [i8]) = (left, right);
    let mut views: [&'s [i8]; N] = [&[]; N];
    for (view, range) in views.iter_mut().zip(inputs) {
        *view = if range.end <= output.start {
            left.get(range)
        } else if range.start >= output.end {
            right.get(range.start - output.end..range.end - output.end)
        } else {
            None
        }
        .ok_or(Error::Internal)?;
    }
    Ok((views, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_disjoint_ranges_and_rejects_overlap() {
        let mut arena: [i8; 10] = core::array::from_fn(|i| i as i8);
        let ([a, b], out) = split_io(&mut arena, 4..6, [0..2, 7..10]).unwrap();
        assert_eq!(a, &[0, 1]);
        assert_eq!(b, &[7, 8, 9]);
        assert_eq!(out, &mut [4, 5]);
        assert_eq!(split_io(&mut arena, 4..6, [5..7]).unwrap_err(), Error::Internal);
        assert_eq!(split_io(&mut arena, 8..12, [0..1]).unwrap_err(), Error::Internal);
    }
}
