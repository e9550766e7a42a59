//! Load-time validation: after it succeeds, `run` cannot read or write out
//! of bounds, overflow an accumulator, or read a tensor before it is written.
use crate::crc32::crc32;
use crate::error::Section;
use crate::format::{
    Bytes, Clamp, Header, Op, Preamble, Quant, Requant, TensorDesc, Window, FORMAT_VERSION, INPUT_CHANNELS,
    INPUT_LUT_LEN, MAGIC, MAX_OPS, MAX_TENSORS, MIN_FORMAT_VERSION, PREAMBLE_LEN,
};
use crate::kernels::requant::MAX_TERM;
use crate::ops::{op_macs, OpIter};
use crate::outputs::{ATTRIBUTE_COUNT, LANDMARK_COUNT};
use crate::Error;

/// Marks a tensor no op has written yet.
const UNWRITTEN: u16 = u16::MAX;

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    match *bytes.get(at..at + 4)? {
        [a, b, c, d] => Some(u32::from_le_bytes([a, b, c, d])),
        _ => None,
    }
}

/// Checks the preamble and CRC; returns the payload.
fn check_preamble(blob: &[u8]) -> Result<(Preamble, &[u8]), Error> {
    let (pre, payload) = blob
        .split_at_checked(PREAMBLE_LEN)
        .ok_or(Error::TooShort { len: blob.len() })?;
    if pre.get(0..4) != Some(&MAGIC[..]) {
        return Err(Error::BadMagic);
    }
    let version = match *pre {
        [_, _, _, _, lo, hi, ..] => u16::from_le_bytes([lo, hi]),
        _ => return Err(Error::TooShort { len: blob.len() }),
    };
    if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(Error::UnsupportedVersion { found: version });
    }
    if pre.get(6..8) != Some(&[0, 0][..]) {
        return Err(Error::ReservedBytes);
    }
    let payload_len = u32_at(pre, 8).ok_or(Error::TooShort { len: blob.len() })?;
    let stored = u32_at(pre, 12).ok_or(Error::TooShort { len: blob.len() })?;
    if payload_len as usize != payload.len() {
        return Err(Error::PayloadLength {
            declared: payload_len,
            actual: payload.len(),
        });
    }
    let computed = crc32(payload);
    if computed != stored {
        return Err(Error::CrcMismatch { stored, computed });
    }
    Ok((
        Preamble {
            version,
            payload_len,
            crc32: stored,
        },
        payload,
    ))
}

/// Checks one tensor on its own: dimensions, scale, size, place in the arena.
fn check_tensor(id: u16, t: &TensorDesc, arena_bytes: u32) -> Result<(), Error> {
    // `usize` is at most 64 bits wide on every Rust target.
    let address_limit = u64::try_from(usize::MAX).unwrap_or(u64::MAX);
    check_tensor_in(id, t, arena_bytes, address_limit)
}

/// [`check_tensor`] for a target whose byte offsets end at `address_limit`
/// (`usize::MAX` there): a parameter so that the 32-bit case is tested on
/// 64-bit hosts too.
fn check_tensor_in(id: u16, t: &TensorDesc, arena_bytes: u32, address_limit: u64) -> Result<(), Error> {
    if t.height == 0 || t.width == 0 || t.channels == 0 {
        return Err(Error::EmptyTensor { tensor: id });
    }
    check_quant(id, t.quant)?;
    let len = u64::from(t.height) * u64::from(t.width) * u64::from(t.channels);
    let end = u64::from(t.offset) + len;
    if end > address_limit {
        return Err(Error::SizeOverflow { tensor: id });
    }
    if end > u64::from(arena_bytes) {
        return Err(Error::TensorOutsideArena { tensor: id });
    }
    Ok(())
}

fn check_quant(id: u16, q: Quant) -> Result<(), Error> {
    if q.scale.is_finite() && q.scale > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidScale { tensor: id })
    }
}

fn elements(t: &TensorDesc) -> u64 {
    u64::from(t.height) * u64::from(t.width) * u64::from(t.channels)
}

/// Output length along one axis, or `None` if the window does not fit.
fn window_out(input: u16, kernel: u8, stride: u8, pad_before: u8, pad_after: u8) -> Option<u64> {
    if kernel == 0 || stride == 0 || pad_before >= kernel || pad_after >= kernel {
        return None;
    }
    let padded = u64::from(input) + u64::from(pad_before) + u64::from(pad_after);
    let span = padded.checked_sub(u64::from(kernel))?;
    Some(span / u64::from(stride) + 1)
}

/// Checks that `window` maps `input`'s height and width onto `output`'s.
fn check_window(op: u16, w: &Window, input: &TensorDesc, output: &TensorDesc) -> Result<(), Error> {
    let oh = window_out(input.height, w.kernel_h, w.stride_h, w.pad_top, w.pad_bottom);
    let ow = window_out(input.width, w.kernel_w, w.stride_w, w.pad_left, w.pad_right);
    match (oh, ow) {
        (Some(oh), Some(ow)) if oh == u64::from(output.height) && ow == u64::from(output.width) => Ok(()),
        (Some(_), Some(_)) => Err(Error::ShapeMismatch { op }),
        _ => Err(Error::InvalidWindow { op }),
    }
}

/// Conv window followed by a 2×2 / stride 2 max pool: the output is the
/// pooled conv output (`floor(h / 2) × floor(w / 2)`, at least 1 × 1).
fn check_pooled_window(op: u16, w: &Window, input: &TensorDesc, output: &TensorDesc) -> Result<(), Error> {
    let oh = window_out(input.height, w.kernel_h, w.stride_h, w.pad_top, w.pad_bottom);
    let ow = window_out(input.width, w.kernel_w, w.stride_w, w.pad_left, w.pad_right);
    match (oh, ow) {
        (Some(oh), Some(ow)) if oh / 2 == u64::from(output.height) && ow / 2 == u64::from(output.width) => Ok(()),
        (Some(_), Some(_)) => Err(Error::ShapeMismatch { op }),
        _ => Err(Error::InvalidWindow { op }),
    }
}

/// Weights: exact length, no −128.
fn check_weights(op: u16, weights: Bytes<'_>, expected: u64) -> Result<(), Error> {
    if weights.0.len() as u64 != expected {
        return Err(Error::WeightsLength { op });
    }
    if weights.0.contains(&0x80) {
        return Err(Error::WeightOutOfRange { op });
    }
    Ok(())
}

/// Per-channel requantisation: lengths, multiplier ≥ 0, shift in [−31, 30].
fn check_requant(op: u16, r: &Requant<'_>, channels: u64) -> Result<(), Error> {
    if r.multipliers.0.len() as u64 != 4 * channels || r.shifts.0.len() as u64 != channels {
        return Err(Error::RequantLength { op });
    }
    let bad_multiplier = r
        .multipliers
        .0
        .chunks_exact(4)
        .any(|m| crate::kernels::params::le_i32(m) < 0);
    let bad_shift = r.shifts.0.iter().any(|&s| !(-31..=30).contains(&(s as i8)));
    if bad_multiplier || bad_shift {
        return Err(Error::InvalidRequant { op });
    }
    Ok(())
}

/// Bias length, and that `|bias| + terms · 255 · 127` fits in an i32.
fn check_bias(op: u16, bias: Bytes<'_>, channels: u64, terms: u64) -> Result<(), Error> {
    if bias.0.len() as u64 != 4 * channels {
        return Err(Error::BiasLength { op });
    }
    let max_bias = bias
        .0
        .chunks_exact(4)
        .map(|b| i64::from(crate::kernels::params::le_i32(b)).abs())
        .max()
        .unwrap_or(0);
    check_accumulator(op, max_bias, terms)
}

fn check_accumulator(op: u16, start: i64, terms: u64) -> Result<(), Error> {
    let bound = i64::try_from(terms)
        .ok()
        .and_then(|t| t.checked_mul(MAX_TERM))
        .and_then(|t| t.checked_add(start));
    match bound {
        Some(b) if b <= i64::from(i32::MAX) => Ok(()),
        _ => Err(Error::AccumulatorOverflow { op }),
    }
}

fn check_patch(op: u16, len: u64) -> Result<(), Error> {
    check_patch_limit(op, len, crate::limits::MAX_PATCH)
}

/// Patch length against a kernel's own limit (the fused conv + pool holds
/// four patches in the scratch of two).
fn check_patch_limit(op: u16, len: u64, limit: usize) -> Result<(), Error> {
    if len <= limit as u64 {
        Ok(())
    } else {
        Err(Error::PatchTooLarge { op })
    }
}

fn check_clamp(op: u16, c: Clamp) -> Result<(), Error> {
    if c.min <= c.max {
        Ok(())
    } else {
        Err(Error::InvalidClamp { op })
    }
}

fn same_quant(a: Quant, b: Quant) -> bool {
    a.scale.to_bits() == b.scale.to_bits() && a.zero_point == b.zero_point
}

/// Running state of the op walk.
/// [`Walk::in_place_over`] of a tensor not written in place.
const NOT_IN_PLACE: u16 = u16::MAX;

struct Walk<'m> {
    tensors: &'m [TensorDesc],
    /// Time each tensor is written (input: 0, op i: i + 1), or `UNWRITTEN`.
    def: [u16; MAX_TENSORS],
    /// Last time each tensor is read.
    last: [u16; MAX_TENSORS],
    /// For a `ConcatConv1x1` output stored in place over its `a` input (same
    /// offset): that input's id, else [`NOT_IN_PLACE`].
    in_place_over: [u16; MAX_TENSORS],
    landmark_heads: u32,
    attribute_heads: u32,
    macs: u64,
}

impl<'m> Walk<'m> {
    fn tensor(&self, op: u16, id: u16) -> Result<&'m TensorDesc, Error> {
        self.tensors
            .get(usize::from(id))
            .ok_or(Error::UnknownTensor { op, tensor: id })
    }

    fn read(&mut self, op: u16, id: u16) -> Result<&'m TensorDesc, Error> {
        let t = self.tensor(op, id)?;
        let slot = usize::from(id);
        match (self.def.get(slot), self.last.get_mut(slot)) {
            (Some(&d), Some(last)) if d != UNWRITTEN => {
                *last = op + 1;
                Ok(t)
            }
            _ => Err(Error::ReadBeforeWrite { op, tensor: id }),
        }
    }

    fn write(&mut self, op: u16, id: u16) -> Result<&'m TensorDesc, Error> {
        let t = self.tensor(op, id)?;
        let slot = usize::from(id);
        match (self.def.get_mut(slot), self.last.get_mut(slot)) {
            (Some(d), Some(last)) if *d == UNWRITTEN => {
                *d = op + 1;
                *last = op + 1;
                Ok(t)
            }
            _ => Err(Error::WrittenTwice { op, tensor: id }),
        }
    }

    /// Checks one op and records its reads, write and MACs.
    fn op(&mut self, index: u16, op: &Op<'_>) -> Result<(), Error> {
        match op {
            Op::Conv2d(c) | Op::Conv2dMaxPool(c) => {
                let input = self.read(index, c.input)?;
                let output = self.write(index, c.output)?;
                let taps = u64::from(c.window.kernel_h) * u64::from(c.window.kernel_w) * u64::from(input.channels);
                let out_c = u64::from(output.channels);
                if matches!(op, Op::Conv2dMaxPool(_)) {
                    check_pooled_window(index, &c.window, input, output)?;
                    check_patch_limit(index, taps, crate::limits::MAX_POOLED_PATCH)?;
                } else {
                    check_window(index, &c.window, input, output)?;
                    check_patch(index, taps)?;
                }
                check_weights(index, c.weights, out_c * taps)?;
                check_bias(index, c.bias, out_c, taps)?;
                check_requant(index, &c.requant, out_c)?;
                check_clamp(index, c.clamp)?;
            }
            Op::ConcatConv1x1(c) => {
                let a = self.read(index, c.input_a)?;
                let b = self.read(index, c.input_b)?;
                let output = self.write(index, c.output)?;
                let same_plane = |t: &TensorDesc| t.height == output.height && t.width == output.width;
                if !same_plane(a) || !same_plane(b) {
                    return Err(Error::ShapeMismatch { op: index });
                }
                let (ca, cb, out_c) = (u64::from(a.channels), u64::from(b.channels), u64::from(output.channels));
                check_patch(index, ca + cb)?;
                check_weights(index, c.weights, out_c * (ca + cb))?;
                check_requant(index, &c.requant_a, out_c)?;
                if c.requant_b.multipliers.0.is_empty() && c.requant_b.shifts.0.is_empty() {
                    // One scale: a single accumulator over both inputs.
                    check_bias(index, c.bias, out_c, ca + cb)?;
                } else {
                    check_bias(index, c.bias, out_c, ca)?;
                    check_accumulator(index, 0, cb)?;
                    check_requant(index, &c.requant_b, out_c)?;
                }
                check_clamp(index, c.clamp)?;
                // Written over its own-branch input: allowed (by check_overlaps)
                // only if `a` is not read afterwards and the output fits in it.
                if output.offset == a.offset && out_c <= ca && c.input_a != c.input_b {
                    if let Some(slot) = self.in_place_over.get_mut(usize::from(c.output)) {
                        *slot = c.input_a;
                    }
                }
            }
            Op::MaxPool2d(p) | Op::AvgPool2d(p) => {
                let input = self.read(index, p.input)?;
                let output = self.write(index, p.output)?;
                if input.channels != output.channels {
                    return Err(Error::ShapeMismatch { op: index });
                }
                if !same_quant(input.quant, output.quant) {
                    return Err(Error::QuantMismatch { op: index });
                }
                check_window(index, &p.window, input, output)?;
            }
            Op::GlobalAvgPool(p) => {
                let input = self.read(index, p.input)?;
                let output = self.write(index, p.output)?;
                if output.height != 1 || output.width != 1 || input.channels != output.channels {
                    return Err(Error::ShapeMismatch { op: index });
                }
                if !same_quant(input.quant, output.quant) {
                    return Err(Error::QuantMismatch { op: index });
                }
                // The i32 sum of H·W values of magnitude ≤ 128 must fit.
                check_accumulator(index, 0, u64::from(input.height) * u64::from(input.width))?;
            }
            Op::FullyConnected(f) => {
                let input = self.read(index, f.input)?;
                let output = self.write(index, f.output)?;
                if output.height != 1 || output.width != 1 {
                    return Err(Error::ShapeMismatch { op: index });
                }
                let (n_in, n_out) = (elements(input), u64::from(output.channels));
                check_weights(index, f.weights, n_out * n_in)?;
                check_bias(index, f.bias, n_out, n_in)?;
                check_requant(index, &f.requant, n_out)?;
                check_clamp(index, f.clamp)?;
            }
            Op::LandmarkHead(h) => {
                let input = self.read(index, h.input)?;
                let found = elements(input) as usize;
                if found != 2 * LANDMARK_COUNT {
                    return Err(Error::HeadSize {
                        op: index,
                        expected: 2 * LANDMARK_COUNT,
                        found,
                    });
                }
                // Finite and at most 1e6 pixels, so the outputs stay finite.
                let sane = |v: &f32| v.is_finite() && v.abs() <= 1e6;
                if ![h.x_scale, h.x_offset, h.y_scale, h.y_offset].iter().all(sane) {
                    return Err(Error::InvalidHead { op: index });
                }
                self.landmark_heads += 1;
            }
            Op::AttributeHead(h) => {
                let input = self.read(index, h.input)?;
                let found = elements(input) as usize;
                if found != ATTRIBUTE_COUNT {
                    return Err(Error::HeadSize {
                        op: index,
                        expected: ATTRIBUTE_COUNT,
                        found,
                    });
                }
                self.attribute_heads += 1;
            }
        }
        Ok(())
    }

    /// Tensors whose lifetimes intersect must not share bytes.
    fn check_overlaps(&self) -> Result<(), Error> {
        let n = self.tensors.len();
        let range = |t: &TensorDesc| (u64::from(t.offset), u64::from(t.offset) + elements(t));
        for (i, ti) in self.tensors.iter().enumerate() {
            let (di, li) = (
                self.def.get(i).copied().unwrap_or(0),
                self.last.get(i).copied().unwrap_or(0),
            );
            let (si, ei) = range(ti);
            for (j, tj) in self.tensors.iter().enumerate().take(n).skip(i + 1) {
                let (dj, lj) = (
                    self.def.get(j).copied().unwrap_or(0),
                    self.last.get(j).copied().unwrap_or(0),
                );
                let (sj, ej) = range(tj);
                let live_together = di <= lj && dj <= li;
                let share_bytes = si < ej && sj < ei;
                // The one sharing allowed: an in-place ConcatConv1x1 output `j`
                // (written after `i`) inside its input `i`, which it ends.
                let in_place = self.in_place_over.get(j) == Some(&(i as u16)) && li == dj && si == sj && ej <= ei;
                if live_together && share_bytes && !in_place {
                    return Err(Error::OverlappingTensors {
                        a: i as u16,
                        b: j as u16,
                    });
                }
            }
        }
        Ok(())
    }
}

/// What validation reads from a blob: what `Model` holds besides the blob length.
pub(crate) struct Validated<'a> {
    /// The payload header.
    pub(crate) header: Header<'a>,
    /// The tensor table, the input first.
    pub(crate) tensors: heapless::Vec<TensorDesc, MAX_TENSORS>,
    /// The encoded ops.
    pub(crate) ops: &'a [u8],
    /// Nominal multiply-accumulates of one forward pass.
    pub(crate) macs: u64,
}

/// Full validation behind [`crate::Model::from_bytes`].
pub(crate) fn validate(blob: &[u8]) -> Result<Validated<'_>, Error> {
    let (_, payload) = check_preamble(blob)?;
    let (header, mut rest) = postcard::take_from_bytes::<Header<'_>>(payload).map_err(|_| Error::Decode {
        section: Section::Header,
    })?;
    let tensor_total = usize::from(header.tensor_count) + 1;
    let op_total = usize::from(header.op_count);
    if tensor_total > MAX_TENSORS || op_total > MAX_OPS {
        return Err(Error::TooManyEntries {
            tensors: tensor_total,
            ops: op_total,
        });
    }
    if usize::from(header.input.channels) != INPUT_CHANNELS {
        return Err(Error::InputShape);
    }
    if header.input_lut.0.len() != INPUT_LUT_LEN {
        return Err(Error::InputLutLength);
    }
    let mut tensors: heapless::Vec<TensorDesc, MAX_TENSORS> = heapless::Vec::new();
    tensors.push(header.input).map_err(|_| Error::Internal)?;
    for id in 1..=header.tensor_count {
        let (t, after) = postcard::take_from_bytes::<TensorDesc>(rest).map_err(|_| Error::Decode {
            section: Section::Tensor(id),
        })?;
        rest = after;
        tensors.push(t).map_err(|_| Error::Internal)?;
    }
    for (id, t) in tensors.iter().enumerate() {
        check_tensor(id as u16, t, header.arena_bytes)?;
    }
    let mut walk = Walk {
        tensors: &tensors,
        def: [UNWRITTEN; MAX_TENSORS],
        last: [0; MAX_TENSORS],
        in_place_over: [NOT_IN_PLACE; MAX_TENSORS],
        landmark_heads: 0,
        attribute_heads: 0,
        macs: 0,
    };
    if let (Some(d), Some(l)) = (walk.def.first_mut(), walk.last.first_mut()) {
        *d = 0; // the input is written by `run` before the first op
        *l = 0;
    }
    let mut ops = OpIter::new(rest, header.op_count);
    for index in 0..header.op_count {
        let op = ops.next().ok_or(Error::Internal)??;
        walk.op(index, &op)?;
        walk.macs = walk.macs.saturating_add(op_macs(&op, &tensors));
    }
    if ops.remaining_bytes() != 0 {
        return Err(Error::TrailingBytes {
            count: ops.remaining_bytes(),
        });
    }
    if let Some(id) = walk.def.iter().take(tensors.len()).position(|&d| d == UNWRITTEN) {
        return Err(Error::NeverWritten { tensor: id as u16 });
    }
    if walk.landmark_heads != 1 || walk.attribute_heads != 1 {
        return Err(Error::HeadCount);
    }
    walk.check_overlaps()?;
    let macs = walk.macs;
    Ok(Validated {
        header,
        tensors,
        ops: rest,
        macs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor_at(offset: u32) -> TensorDesc {
        TensorDesc {
            height: 2,
            width: 2,
            channels: 2,
            quant: Quant {
                scale: 1.0,
                zero_point: 0,
            },
            offset,
        }
    }

    /// The size check of a 32-bit target (`usize::MAX = u32::MAX`), tested on
    /// every host: a tensor whose end does not fit the address space is a
    /// `SizeOverflow`, before the arena bound is looked at.
    #[test]
    fn tensor_end_past_a_32_bit_address_space_overflows() {
        let limit_32 = u64::from(u32::MAX);
        let past = tensor_at(u32::MAX);
        assert_eq!(
            check_tensor_in(2, &past, u32::MAX, limit_32),
            Err(Error::SizeOverflow { tensor: 2 })
        );
        // The last 8 bytes of the address space: fits (and the 4 GiB arena).
        assert_eq!(check_tensor_in(2, &tensor_at(u32::MAX - 8), u32::MAX, limit_32), Ok(()));
        assert_eq!(
            check_tensor_in(2, &tensor_at(u32::MAX - 7), u32::MAX, limit_32),
            Err(Error::SizeOverflow { tensor: 2 })
        );
        // With 64-bit offsets the same tensor fits the address space but not the arena.
        assert_eq!(
            check_tensor_in(2, &past, u32::MAX, u64::MAX),
            Err(Error::TensorOutsideArena { tensor: 2 })
        );
        // This host's limit is the one `validate` uses.
        let expected = if cfg!(target_pointer_width = "32") {
            Error::SizeOverflow { tensor: 2 }
        } else {
            Error::TensorOutsideArena { tensor: 2 }
        };
        assert_eq!(check_tensor(2, &past, u32::MAX), Err(expected));
    }
}
