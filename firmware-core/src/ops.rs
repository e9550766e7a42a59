//! The op list of a blob: decoding it op by op ([`OpIter`]) and counting
//! an op's multiply-accumulates. Shared by validation and the model.
use crate::error::Section;
use crate::format::{Op, TensorDesc};
use crate::Error;

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
