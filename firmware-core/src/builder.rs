//! Blob builder (host side) — see the `builder` feature.
