//! Runtime choice of the widest SIMD the host CPU has, for the portable
//! kernels on x86-64 (feature `std`): the same Rust code, compiled a second
//! time with AVX2 enabled, runs when the CPU supports it. Results are
//! identical (integer arithmetic); only the speed differs. On every other
//! target (the microcontrollers included) this is a plain call.
#![allow(unsafe_code)]

/// Calls `f`, inlined into a function compiled for AVX2 when the CPU has
/// it (x86-64 with `std`), else as is. Callers mark the closure
/// `#[inline(always)]`: a kernel-sized closure is otherwise compiled as a
/// function of its own, without AVX2, and the dispatch gains nothing (it
/// did, unnoticed, until 2026-12-07: 5.6 → 3.0 ms per `micro` forward pass).
#[inline(always)]
pub(crate) fn with_best_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// `f()` compiled with AVX2 (and the SSE levels it implies).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
