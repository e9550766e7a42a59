//! CelebA loader (being written).
