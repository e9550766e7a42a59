//! Simulated device (host side) — see the `sim` feature.
