//! A deterministic text transcript of a forward pass, written without
//! `core::fmt` (so it adds no panic paths to firmware) — used to compare the
//! Cortex-M4 build with the host bit for bit.
//!
//! Lines: `op <index> t<tensor> n<len> <fnv1a-32 hex>` per op, then
//! `landmarks_q`, `landmarks_bits` (f32 bit patterns), `logits_q`,
//! `probs_bits`, `flags` ([`crate::ATTRIBUTE_COUNT`] × 0/1).
use crate::outputs::{OpTrace, Outputs};

/// FNV-1a, 32-bit, over the bytes of `data`.
pub fn fnv1a32(data: &[i8]) -> u32 {
    data.iter().fold(0x811C_9DC5u32, |h, &b| {
        (h ^ u32::from(b as u8)).wrapping_mul(0x0100_0193)
    })
}

/// Writes transcript lines to a byte sink.
pub struct Transcript<F: FnMut(&[u8])> {
    sink: F,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl<F: FnMut(&[u8])> Transcript<F> {
    /// A transcript writing to `sink`.
    pub fn new(sink: F) -> Self {
        Transcript { sink }
    }

    fn put(&mut self, bytes: &[u8]) {
        (self.sink)(bytes);
    }

    fn decimal(&mut self, mut v: u64) {
        let mut buf = [0u8; 20];
        let mut n = 0;
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
            n += 1;
            if v == 0 {
                break;
            }
        }
        let start = buf.len() - n;
        if let Some(digits) = buf.get(start..) {
            (self.sink)(digits);
        }
    }

    fn signed(&mut self, v: i64) {
        if v < 0 {
            self.put(b"-");
        }
        self.decimal(v.unsigned_abs());
    }

    fn hex32(&mut self, v: u32) {
        let mut buf = [0u8; 8];
        for (i, slot) in buf.iter_mut().enumerate() {
            let nibble = (v >> (28 - 4 * i)) & 0xF;
            *slot = HEX.get(nibble as usize).copied().unwrap_or(b'?');
        }
        self.put(&buf);
    }

    /// `key value\n`.
    pub fn line(&mut self, key: &str, value: u64) {
        self.put(key.as_bytes());
        self.put(b" ");
        self.decimal(value);
        self.put(b"\n");
    }

    /// One kernel case's output hash: `case <index> <fnv1a-32 hex>`
    /// (see [`crate::kernel_cases`]).
    pub fn case(&mut self, index: u64, hash: u32) {
        self.put(b"case ");
        self.decimal(index);
        self.put(b" ");
        self.hex32(hash);
        self.put(b"\n");
    }

    /// One op's output: index, tensor, length and FNV-1a hash.
    pub fn op(&mut self, trace: &OpTrace<'_>) {
        self.put(b"op ");
        self.decimal(trace.op_index as u64);
        self.put(b" t");
        self.decimal(trace.tensor as u64);
        self.put(b" n");
        self.decimal(trace.data.len() as u64);
        self.put(b" ");
        self.hex32(fnv1a32(trace.data));
        self.put(b"\n");
    }

    fn ints(&mut self, key: &[u8], values: &[i8]) {
        self.put(key);
        for &v in values {
            self.put(b" ");
            self.signed(i64::from(v));
        }
        self.put(b"\n");
    }

    fn bits(&mut self, key: &[u8], values: impl Iterator<Item = f32>) {
        self.put(key);
        for v in values {
            self.put(b" ");
            self.hex32(v.to_bits());
        }
        self.put(b"\n");
    }

    /// The outputs: int8 values, f32 bit patterns and flags.
    pub fn outputs(&mut self, outputs: &Outputs) {
        self.ints(b"landmarks_q", &outputs.landmarks_q);
        self.bits(b"landmarks_bits", outputs.landmarks.iter().flatten().copied());
        self.ints(b"logits_q", &outputs.attribute_logits_q);
        self.bits(b"probs_bits", outputs.attribute_probs.iter().copied());
        self.put(b"flags ");
        for &f in &outputs.attribute_flags {
            self.put(if f { b"1" } else { b"0" });
        }
        self.put(b"\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn render(f: impl FnOnce(&mut Transcript<&mut dyn FnMut(&[u8])>)) -> String {
        let mut out = Vec::new();
        let mut sink = |b: &[u8]| out.extend_from_slice(b);
        let mut t = Transcript::new(&mut sink as &mut dyn FnMut(&[u8]));
        f(&mut t);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_like_std() {
        let data = [1i8, -2, 3];
        let text = render(|t| {
            t.line("icount", 1234567890123);
            t.line("zero", 0);
            t.op(&OpTrace {
                op_index: 12,
                tensor: 7,
                data: &data,
            });
        });
        let want = std::format!("icount 1234567890123\nzero 0\nop 12 t7 n3 {:08x}\n", fnv1a32(&data));
        assert_eq!(text, want);
        assert_eq!(fnv1a32(&[]), 0x811C_9DC5);
        // FNV-1a of "a".
        assert_eq!(fnv1a32(&[b'a' as i8]), 0xE40C_292C);
    }

    #[test]
    fn outputs_lines() {
        let mut o = Outputs::default();
        o.landmarks_q[0] = -128;
        o.attribute_flags[1] = true;
        o.attribute_probs[0] = 0.5;
        let text = render(|t| t.outputs(&o));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "landmarks_q -128 0 0 0 0 0 0 0 0 0");
        assert!(lines[3].starts_with("probs_bits 3f000000 00000000"));
        assert_eq!(lines[4], std::format!("flags 01{}", "0".repeat(38)));
    }
}
