//! `cases.bin`, the harness's input, and the `case …` lines it prints.

use super::cases::{Case, ToConcat};

// The case file format; keep in sync with tests/cmsis-nn-bench/bench.h.
/// First word of `cases.bin`: "SMNC".
pub(super) const MAGIC: u32 = 0x434E_4D53;
/// Version of the case file format.
pub(super) const VERSION: u32 = 1;
/// Words of the file header.
pub(super) const HEADER_WORDS: usize = 8;
/// Words of one case record (`struct bench_case`).
pub(super) const CASE_WORDS: usize = 32;
/// Alignment of every array in the case file.
pub(super) const ARRAY_ALIGN: usize = 8;

// ---------------------------------------------------------------------------
// cases.bin

/// Appends 8-byte-aligned arrays after the records and returns their offsets.
pub(super) struct Arrays {
    pub(super) base: usize,
    pub(super) bytes: Vec<u8>,
}

impl Arrays {
    pub(super) fn push(&mut self, bytes: impl IntoIterator<Item = u8>) -> Result<i32, String> {
        let start = self.bytes.len();
        self.bytes.extend(bytes);
        if self.bytes.len() == start {
            return Ok(0);
        }
        self.bytes.resize(self.bytes.len().next_multiple_of(ARRAY_ALIGN), 0);
        word(self.base + start)
    }

    pub(super) fn push_i8(&mut self, values: &[i8]) -> Result<i32, String> {
        self.push(values.iter().map(|&v| v as u8))
    }

    pub(super) fn push_i32(&mut self, values: &[i32]) -> Result<i32, String> {
        self.push(values.iter().flat_map(|v| v.to_le_bytes()))
    }
}

pub(super) fn word(v: usize) -> Result<i32, String> {
    i32::try_from(v).map_err(|_| format!("{v} does not fit a case file word"))
}

impl Case {
    /// The `struct bench_case` words of this case (arrays appended to `arrays`).
    pub(super) fn record(&self, arrays: &mut Arrays) -> Result<[i32; CASE_WORDS], String> {
        let identity = ToConcat {
            zero_point: 0,
            multiplier: 0,
            shift: 0,
        };
        let (b_channels, input_b, ra, rb) = match &self.concat {
            Some(c) => (word(c.channels)?, arrays.push_i8(&c.data)?, c.a, c.b),
            None => (0, 0, identity, identity),
        };
        let w = &self.window;
        Ok([
            self.kind as i32,
            word(self.op_index)?,
            word(self.input.h)?,
            word(self.input.w)?,
            word(self.input.c)?,
            word(self.output.h)?,
            word(self.output.w)?,
            word(self.output.c)?,
            i32::from(w.kernel_h),
            i32::from(w.kernel_w),
            i32::from(w.stride_h),
            i32::from(w.stride_w),
            i32::from(w.pad_top),
            i32::from(w.pad_left),
            self.input_offset,
            self.output_offset,
            i32::from(self.clamp.min),
            i32::from(self.clamp.max),
            arrays.push_i8(&self.data)?,
            arrays.push_i8(&self.weights)?,
            arrays.push_i32(&self.bias)?,
            arrays.push_i32(&self.multipliers)?,
            arrays.push_i32(&self.shifts)?,
            b_channels,
            input_b,
            ra.zero_point,
            ra.multiplier,
            ra.shift,
            rb.zero_point,
            rb.multiplier,
            rb.shift,
            0,
        ])
    }

    /// Bytes of the concat tensor this case materialises (0 if none).
    pub(super) fn concat_bytes(&self) -> usize {
        self.concat
            .as_ref()
            .map_or(0, |c| self.input.h * self.input.w * (self.input.c + c.channels))
    }
}

/// `cases.bin` (format in tests/cmsis-nn-bench/bench.h).
pub(super) fn encode(cases: &[Case]) -> Result<Vec<u8>, String> {
    let records_offset = 4 * HEADER_WORDS;
    let mut arrays = Arrays {
        base: records_offset + 4 * CASE_WORDS * cases.len(),
        bytes: Vec::new(),
    };
    let mut records = Vec::with_capacity(4 * CASE_WORDS * cases.len());
    for case in cases {
        records.extend(case.record(&mut arrays)?.iter().flat_map(|w| w.to_le_bytes()));
    }
    let max_output = cases.iter().map(|c| c.output.len()).max().unwrap_or(0);
    let max_concat = cases.iter().map(Case::concat_bytes).max().unwrap_or(0);
    let header = [
        MAGIC,
        VERSION,
        word(cases.len())? as u32,
        CASE_WORDS as u32,
        records_offset as u32,
        word(max_output)? as u32,
        word(max_concat)? as u32,
        0,
    ];
    let mut out: Vec<u8> = header.iter().flat_map(|w| w.to_le_bytes()).collect();
    out.extend(records);
    out.extend(arrays.bytes);
    Ok(out)
}

// ---------------------------------------------------------------------------
// Harness output.

/// One `case <index> <op_index> <kind> <ticks> <crc32> <scratch bytes>` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CaseRun {
    pub(super) ticks: u64,
    pub(super) crc: u32,
    pub(super) scratch_bytes: usize,
}

/// `<index> <op_index> <kind> <ticks> <crc32> <scratch bytes>`.
pub(super) fn parse_case_line(line: &str) -> Option<(usize, usize, i32, CaseRun)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [i, op, kind, ticks, crc, scratch] = f[..] else {
        return None;
    };
    Some((
        i.parse().ok()?,
        op.parse().ok()?,
        kind.parse().ok()?,
        CaseRun {
            ticks: ticks.parse().ok()?,
            crc: u32::from_str_radix(crc, 16).ok()?,
            scratch_bytes: scratch.parse().ok()?,
        },
    ))
}

/// The harness's `case …` lines, checked against the cases sent.
pub(super) fn parse_runs(output: &str, cases: &[Case]) -> Result<Vec<CaseRun>, String> {
    let mut runs = Vec::with_capacity(cases.len());
    for line in output.lines().filter_map(|l| l.strip_prefix("case ")) {
        let Some((i, op, kind, run)) = parse_case_line(line) else {
            return Err(format!("malformed harness line `case {line}`"));
        };
        match cases.get(i) {
            Some(c) if i == runs.len() && c.op_index == op && c.kind as i32 == kind => runs.push(run),
            _ => return Err(format!("harness line `case {line}` does not match case {}", runs.len())),
        }
    }
    if runs.len() != cases.len() {
        return Err(format!("the harness reported {} of {} cases", runs.len(), cases.len()));
    }
    Ok(runs)
}
