//! Synthetic faces: a seeded generator of labelled face images, the
//! toolkit's built-in dataset, so training and evaluation can be tried end to
//! end without CelebA.
//!
//! Each sample is drawn from parameters that depend only on `(seed, index)`:
//! a background (two-colour gradient and soft blobs), shoulders, neck and
//! ears, hair, a skin-toned face ellipse under a lighting gradient, eyebrows,
//! eyes (white, iris, pupil, lid line), a shaded nose tip with nostrils, a
//! mouth, and optional beard, mustache, bangs, hat and glasses; then
//! Gaussian-like per-pixel noise. The head is drawn in a face-local frame and
//! mapped into the image by one [`Affine`](crate::data::transform::Affine)
//! (rotation ±15°, scale ±20 %, shift ±6 px). The landmarks are local points mapped by that same matrix — the
//! pupil centres, the nose tip (centre of its shading), the mouth corners
//! (end points of the mouth line) — so they are exact to sub-pixel accuracy.
//!
//! The default size is aligned CelebA's 178×218, with the face where aligned
//! CelebA puts it (eyes near row 111, about 39 px apart), so the same
//! crop/resize path serves both. [`MODELLED_ATTRIBUTES`] names the attributes
//! the generator controls; all others are `0` (unknown) in memory.
//! [`write_celeba_layout`] writes a dataset in CelebA's file layout, with
//! the sidecar file that names the modelled attributes.
//!
//! The code is layered, each file using only those below it: `layout`
//! (CelebA files) → `sample` (labelled samples) → `render` (drawing a face)
//! → `face` (the face model: parameters, landmarks, attributes) → `canvas`
//! (raster primitives); `testing` holds helpers shared by their tests.
mod canvas;
mod face;
mod layout;
mod render;
mod sample;
#[cfg(test)]
mod testing;

pub use face::{SyntheticConfig, MODELLED_ATTRIBUTES};
pub use layout::write_celeba_layout;
pub use sample::{generate, generate_many};
