//! Face data: CelebA as distributed, the synthetic face generator, and the
//! geometry shared by both (crop/resize to the model input, augmentation).
//!
//! Every sample carries 5 landmarks as `(x, y)` pixel coordinates of its
//! image and 40 attributes in CelebA order as `+1`, `−1`, or `0` = unknown
//! (the synthetic generator models only some attributes; unknown ones are
//! left out of losses and metrics).
pub mod attributes;
pub mod cache;
pub mod celeba;
pub mod dataset;
pub mod synthetic;
pub mod transform;

pub use attributes::{ATTRIBUTE_COUNT, ATTRIBUTE_NAMES, LANDMARK_NAMES, LANDMARK_OUTPUTS};

/// An RGB image, row-major, interleaved, `width × height × 3` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `height × width × 3` bytes.
    pub pixels: Vec<u8>,
}

impl Rgb {
    /// A black image.
    pub fn new(width: usize, height: usize) -> Self {
        Rgb {
            width,
            height,
            pixels: vec![0; width * height * 3],
        }
    }

    /// The pixel at `(x, y)`, or `None` outside the image.
    pub fn get(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 3;
        match self.pixels.get(i..i + 3) {
            Some(&[r, g, b]) => Some([r, g, b]),
            _ => None,
        }
    }

    /// Sets the pixel at `(x, y)`; ignored outside the image.
    pub fn put(&mut self, x: usize, y: usize, rgb: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            if let Some(p) = self.pixels.get_mut(i..i + 3) {
                p.copy_from_slice(&rgb);
            }
        }
    }

    /// Copies `src` with its top-left corner at `(x, y)` (clipped at the edges).
    pub fn blit(&mut self, src: &Rgb, x: usize, y: usize) {
        for row in 0..src.height {
            for col in 0..src.width {
                if let Some(p) = src.get(col, row) {
                    self.put(x + col, y + row, p);
                }
            }
        }
    }
}

/// One labelled face.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceSample {
    /// The image.
    pub image: Rgb,
    /// `(x0, y0, …, x4, y4)` in pixels of `image`; the centre of pixel
    /// column `i` is `x = i` (CelebA's integer annotations name pixels).
    pub landmarks: [f32; LANDMARK_OUTPUTS],
    /// `+1` present, `−1` absent, `0` unknown, in [`ATTRIBUTE_NAMES`] order.
    pub attributes: [i8; ATTRIBUTE_COUNT],
}
