//! Deterministic random numbers (SplitMix64) for tests, random test models
//! and the on-device kernel cases ([`crate::kernel_cases`]).

/// SplitMix64: a small, fast, seedable generator (not cryptographic).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Any `i32`.
    pub fn i32_any(&mut self) -> i32 {
        self.next_u64() as i32
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Any `i8`.
    pub fn i8_any(&mut self) -> i8 {
        self.next_u64() as i8
    }

    /// Weight in [−127, 127], often at the edges.
    pub fn weight(&mut self) -> i8 {
        match self.below(8) {
            0 => 127,
            1 => -127,
            _ => self.range(-127, 127) as i8,
        }
    }

    /// Activation, often at the edges.
    pub fn activation(&mut self) -> i8 {
        match self.below(8) {
            0 => 127,
            1 => -128,
            _ => self.i8_any(),
        }
    }

    /// `n` values drawn with `f`.
    #[cfg(any(test, feature = "builder"))]
    pub fn vec_i8(&mut self, n: usize, f: fn(&mut Rng) -> i8) -> alloc::vec::Vec<i8> {
        (0..n).map(|_| f(self)).collect()
    }

    /// A realistic Q31 multiplier in [2^30, 2^31) and a shift in `lo..=hi`.
    pub fn requant(&mut self, lo: i32, hi: i32) -> (i32, i32) {
        let m = (1i64 << 30) + self.below(1 << 30) as i64;
        (m as i32, self.range(lo as i64, hi as i64) as i32)
    }
}

impl Rng {
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
