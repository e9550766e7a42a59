//! The engine's fixed buffer limits: what validation rejects, what the
//! kernels size their stack scratch by, and what error messages quote.

/// Longest patch (kernel taps × input channels) a MAC kernel gathers on the
/// stack as `i16`. Validation rejects larger layers (`docs/int8-spec.md` §4).
pub const MAX_PATCH: usize = 2048;

/// Longest patch of a convolution with a fused pool (four patches share the
/// scratch of two unfused ones).
pub const MAX_POOLED_PATCH: usize = MAX_PATCH / 2;
