//! A validated model that borrows its blob.
use crate::error::Section;
use crate::format::{Header, Op, TensorDesc, MAX_TENSORS};
use crate::Error;
use core::ops::Range;

/// Properties of one tensor (alias of the blob's table entry).
pub type TensorInfo = TensorDesc;

/// A model read in place from a blob; see [`Model::from_bytes`].
///
/// Holds the tensor table (≈16 bytes per tensor) and slices into the blob;
/// ops are decoded from the blob as they run.
#[derive(Clone, Debug)]
pub struct Model<'a> {
    pub(crate) header: Header<'a>,
    pub(crate) tensors: heapless::Vec<TensorDesc, MAX_TENSORS>,
    pub(crate) ops: &'a [u8],
    pub(crate) macs: u64,
    pub(crate) blob_len: usize,
}

impl<'a> Model<'a> {
    /// Validates `blob` and returns a model that reads it in place.
    ///
    /// Checks magic, version, length, CRC-32, every record, tensor sizes and
    /// arena placement, op order (each tensor written once, before it is
    /// read), shapes, weight/bias/requantisation lengths and ranges, int32
    /// accumulator bounds, that tensors live at the same time do not overlap,
    /// and that there is exactly one landmark and one attribute head.
    pub fn from_bytes(blob: &'a [u8]) -> Result<Model<'a>, Error> {
        crate::validate::validate(blob)
    }

    /// Bytes of arena [`Model::run`] needs.
    pub fn arena_bytes(&self) -> usize {
        self.header.arena_bytes as usize
    }

    /// Input image height in pixels.
    pub fn input_height(&self) -> usize {
        usize::from(self.header.input.height)
    }

    /// Input image width in pixels.
    pub fn input_width(&self) -> usize {
        usize::from(self.header.input.width)
    }

    /// Bytes of the RGB input image (`height × width × 3`).
    pub fn input_len(&self) -> usize {
        self.input_height() * self.input_width() * crate::format::INPUT_CHANNELS
    }

    /// Multiply-accumulates of one forward pass (nominal: padded taps count).
    pub fn macs(&self) -> u64 {
        self.macs
    }

    /// Size of the blob this model was read from (its flash footprint).
    pub fn blob_len(&self) -> usize {
        self.blob_len
    }

    /// The payload header.
    pub fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// Number of tensors, the input included.
    pub fn tensor_count(&self) -> usize {
        self.tensors.len()
    }

    /// Tensor `id` (0 is the input).
    pub fn tensor(&self, id: usize) -> Option<&TensorInfo> {
        self.tensors.get(id)
    }

    /// Number of ops.
    pub fn op_count(&self) -> usize {
        usize::from(self.header.op_count)
    }

    /// The ops, decoded from the blob in order.
    pub fn ops(&self) -> OpIter<'a> {
        OpIter::new(self.ops, self.header.op_count)
    }

    /// Multiply-accumulates of one op (0 for pooling and heads).
    pub fn op_macs(&self, op: &Op<'_>) -> u64 {
        op_macs(op, &self.tensors)
    }

    /// Arena byte range of tensor `id`.
    pub(crate) fn range(&self, id: u16) -> Result<Range<usize>, Error> {
        let t = self.tensors.get(usize::from(id)).ok_or(Error::Internal)?;
        let len = usize::from(t.height) * usize::from(t.width) * usize::from(t.channels);
        let start = t.offset as usize;
        Ok(start..start + len)
    }

    /// Table entry of tensor `id`.
    pub(crate) fn desc(&self, id: u16) -> Result<&TensorDesc, Error> {
        self.tensors.get(usize::from(id)).ok_or(Error::Internal)
    }
}

/// Iterator over the ops of a model, decoding each from the blob.
#[derive(Clone, Debug)]
pub struct OpIter<'a> {
    rest: &'a [u8],
    index: u16,
    count: u16,
}

impl<'a> OpIter<'a> {
    /// Iterates `count` ops encoded one after the other in `bytes`.
    pub(crate) fn new(bytes: &'a [u8], count: u16) -> Self {
        OpIter {
            rest: bytes,
            index: 0,
            count,
        }
    }

    /// Bytes after the ops decoded so far.
    pub(crate) fn remaining_bytes(&self) -> usize {
        self.rest.len()
    }
}

impl<'a> Iterator for OpIter<'a> {
    type Item = Result<Op<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.index >= self.count {
            return None;
        }
        let section = Section::Op(self.index);
        self.index += 1;
        match postcard::take_from_bytes::<Op<'a>>(self.rest) {
            Ok((op, rest)) => {
                self.rest = rest;
                Some(Ok(op))
            }
            Err(_) => {
                self.index = self.count;
                Some(Err(Error::Decode { section }))
            }
        }
    }
}

fn elements(t: Option<&TensorDesc>) -> u64 {
    t.map_or(0, |t| u64::from(t.height) * u64::from(t.width) * u64::from(t.channels))
}

/// Nominal multiply-accumulates of `op` over the tensor table (padded taps count).
pub(crate) fn op_macs(op: &Op<'_>, tensors: &[TensorDesc]) -> u64 {
    let t = |id: u16| tensors.get(usize::from(id));
    let channels = |id: u16| t(id).map_or(0, |t| u64::from(t.channels));
    match op {
        Op::Conv2d(c) => {
            let taps = u64::from(c.window.kernel_h) * u64::from(c.window.kernel_w) * channels(c.input);
            elements(t(c.output)).saturating_mul(taps)
        }
        Op::Conv2dMaxPool(c) => {
            // The convolution runs at full resolution: four conv outputs per pooled one.
            let taps = u64::from(c.window.kernel_h) * u64::from(c.window.kernel_w) * channels(c.input);
            elements(t(c.output)).saturating_mul(4).saturating_mul(taps)
        }
        Op::ConcatConv1x1(c) => elements(t(c.output)).saturating_mul(channels(c.input_a) + channels(c.input_b)),
        Op::FullyConnected(f) => elements(t(f.input)).saturating_mul(elements(t(f.output))),
        _ => 0,
    }
}
