//! Per-output-channel parameters read in place from little-endian blob bytes.
use super::requant::Rounding;

/// Reads a little-endian `i32` from a 4-byte chunk (0 for a short chunk,
/// which validation excludes).
#[inline(always)]
pub fn le_i32(chunk: &[u8]) -> i32 {
    match *chunk {
        [a, b, c, d] => i32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Bias, Q31 multiplier and shift of each output channel.
#[derive(Clone, Copy, Debug)]
pub struct ChannelParams<'a> {
    /// `i32` LE per channel.
    pub bias: &'a [u8],
    /// `i32` LE per channel.
    pub multipliers: &'a [u8],
    /// `i8` per channel.
    pub shifts: &'a [u8],
}

/// One output channel's parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channel {
    /// Accumulator start value.
    pub bias: i32,
    /// Q31 multiplier.
    pub multiplier: i32,
    /// Power-of-two shift (positive = left).
    pub shift: i32,
    /// The multiplier's and shift's constants for the fast path
    /// ([`crate::kernels::requant::mbqm_fast_with`]).
    pub rounding: Rounding,
}

impl Channel {
    /// A channel with its rounding constants computed.
    #[inline(always)]
    pub fn new(bias: i32, multiplier: i32, shift: i32) -> Self {
        Channel {
            bias,
            multiplier,
            shift,
            rounding: Rounding::for_channel(multiplier, shift),
        }
    }
}

impl<'a> ChannelParams<'a> {
    /// Channels in order; as many as the shortest of the three arrays.
    #[inline(always)]
    pub fn iter(&self) -> impl Iterator<Item = Channel> + 'a {
        // Array chunks: no divide-by-zero panic path where LLVM does not inline.
        self.bias
            .as_chunks::<4>()
            .0
            .iter()
            .zip(self.multipliers.as_chunks::<4>().0)
            .zip(self.shifts)
            .map(|((&b, &m), &s)| Channel::new(i32::from_le_bytes(b), i32::from_le_bytes(m), i32::from(s as i8)))
    }
}

impl ChannelParams<'_> {
    /// Channel `j` (`None` past the end of any of the three arrays).
    #[inline(always)]
    pub fn get(&self, j: usize) -> Option<Channel> {
        let word = |bytes: &[u8]| bytes.get(4 * j..4 * j + 4).map(le_i32);
        Some(Channel::new(
            word(self.bias)?,
            word(self.multipliers)?,
            i32::from(*self.shifts.get(j)? as i8),
        ))
    }
}

/// Multiplier and shift of channel `j` without bias (`None` past the end).
#[inline(always)]
pub fn requant_at(multipliers: &[u8], shifts: &[u8], j: usize) -> Option<(i32, i32)> {
    let m = multipliers.get(4 * j..4 * j + 4).map(le_i32)?;
    Some((m, i32::from(*shifts.get(j)? as i8)))
}

/// Output channels whose parameters a kernel decodes once per op, into a
/// stack array; wider layers decode the others on each use.
pub const CACHED_CHANNELS: usize = 64;

/// Per-channel values (a [`Channel`], requantisation pairs…) decoded from
/// blob bytes into a stack array a block of at most [`CACHED_CHANNELS`]
/// channels at a time. A kernel asks for the block it is about to
/// requantise; with at most [`CACHED_CHANNELS`] channels the first request
/// decodes all of them and every later one is a lookup.
pub struct Blocks<T, F> {
    items: [T; CACHED_CHANNELS],
    first: usize,
    len: usize,
    decode: F,
}

impl<T: Copy + Default, F: Fn(usize) -> Option<T>> Blocks<T, F> {
    /// Nothing decoded yet; `decode(j)` gives channel `j`.
    #[inline(always)]
    pub fn new(decode: F) -> Self {
        Blocks {
            items: [T::default(); CACHED_CHANNELS],
            first: 0,
            len: 0,
            decode,
        }
    }

    /// Channels `first..first + count` (`count ≤ CACHED_CHANNELS`), decoded
    /// now unless the last decoded block holds them; `None` when one does
    /// not decode or `count` is too large.
    #[inline(always)]
    pub fn get(&mut self, first: usize, count: usize, total: usize) -> Option<&[T]> {
        let held = first >= self.first && first + count <= self.first + self.len;
        if !held {
            // Decode as far ahead as the array allows.
            let len = total.saturating_sub(first).min(CACHED_CHANNELS);
            for (j, slot) in (first..).zip(self.items.iter_mut().take(len)) {
                *slot = (self.decode)(j)?;
            }
            (self.first, self.len) = (first, len);
        }
        let at = first - self.first;
        self.items.get(at..at + count)
    }
}
