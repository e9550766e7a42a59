//! A validated model that borrows its blob.
use crate::format::{Header, Op, TensorDesc, MAX_TENSORS};
use crate::ops::{op_macs, OpIter};
use crate::validate::{validate, Validated};
use crate::Error;
use core::ops::Range;

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
        let Validated {
            header,
            tensors,
            ops,
            macs,
        } = validate(blob)?;
        Ok(Model {
            header,
            tensors,
            ops,
            macs,
            blob_len: blob.len(),
        })
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
    pub fn tensor(&self, id: usize) -> Option<&TensorDesc> {
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
