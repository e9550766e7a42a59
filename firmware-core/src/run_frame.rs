//! Running a model on a camera frame and a face box
//! (`docs/frame-input.md`).
use crate::frame::{crop_resize, CropBox, Frame, FrameError};
use crate::model::Model;
use crate::outputs::Outputs;
use crate::Error;

impl<'a> Model<'a> {
    /// Bytes of arena [`Model::run_frame`] needs: [`Model::arena_bytes`]
    /// for the network, then [`Model::input_len`] for the cropped input.
    pub fn frame_arena_bytes(&self) -> usize {
        self.arena_bytes().saturating_add(self.input_len())
    }

    /// Crops `crop` out of `frame`, resizes it to the model input in fixed
    /// point ([`crop_resize`]), runs the network and maps the landmarks back
    /// to frame pixels ([`CropBox::to_frame`]). The crop is written to the
    /// end of `arena`, which must hold [`Model::frame_arena_bytes`].
    ///
    /// # Errors
    /// [`Error::Frame`] for a frame, box or non-square model input that
    /// [`crop_resize`] refuses, [`Error::ArenaTooSmall`] for a short arena.
    pub fn run_frame(&self, frame: &Frame<'_>, crop: CropBox, arena: &mut [u8]) -> Result<Outputs, Error> {
        let side = self.square_side()?;
        let (needed, found) = (self.frame_arena_bytes(), arena.len());
        let arena = arena.get_mut(..needed).ok_or(Error::ArenaTooSmall { needed, found })?;
        let (network, image) = arena.split_at_mut_checked(self.arena_bytes()).ok_or(Error::Internal)?;
        crop_resize(frame, crop, side, image)?;
        let mut outputs = self.run(image, network)?;
        for point in &mut outputs.landmarks {
            *point = crop.to_frame(*point, side);
        }
        Ok(outputs)
    }

    /// Only the crop and resize of [`Model::run_frame`]: writes the model
    /// input ([`Model::input_len`] RGB bytes) for `crop` of `frame` to `image`.
    ///
    /// # Errors
    /// [`Error::Frame`]: `FrameError::NotSquare` for a non-square model
    /// input, else what [`crop_resize`] refuses.
    pub fn frame_input(&self, frame: &Frame<'_>, crop: CropBox, image: &mut [u8]) -> Result<(), Error> {
        Ok(crop_resize(frame, crop, self.square_side()?, image)?)
    }

    /// The input side, or `FrameError::NotSquare`.
    fn square_side(&self) -> Result<usize, Error> {
        let side = self.input_width();
        if self.input_height() == side {
            Ok(side)
        } else {
            Err(Error::Frame(FrameError::NotSquare {
                width: side,
                height: self.input_height(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::builder::{random_smn_blob, synthetic_test_image, SmnShape};
    use crate::frame::{CropBox, Frame, FrameError, PixelFormat, ONE};
    use crate::{Error, Model};
    use std::vec;

    /// A frame that holds the model input at (`left`, `top`) on a grey
    /// background, so a whole-pixel box on it reproduces `run` exactly.
    #[test]
    fn a_box_on_the_embedded_input_gives_run_with_landmarks_in_frame_pixels() {
        let blob = random_smn_blob(&SmnShape::tiny(), 3).unwrap();
        let model = Model::from_bytes(&blob).unwrap();
        let n = model.input_width();
        let image = synthetic_test_image(n, n, 3);
        let (width, height, left, top) = (n + 13, n + 7, 9, 4);
        let mut pixels = vec![128u8; width * height * 3];
        for y in 0..n {
            let row = &image[y * n * 3..(y + 1) * n * 3];
            let at = ((top + y) * width + left) * 3;
            pixels[at..at + n * 3].copy_from_slice(row);
        }
        let frame = Frame {
            pixels: &pixels,
            format: PixelFormat::Rgb888,
            width,
            height,
            stride: width * 3,
        };
        let crop = CropBox::pixels(left as i32, top as i32, n as i32);
        let mut arena = vec![0u8; model.frame_arena_bytes()];
        let framed = model.run_frame(&frame, crop, &mut arena).unwrap();
        let direct = model.run(&image, &mut vec![0u8; model.arena_bytes()]).unwrap();
        assert_eq!(framed.landmarks_q, direct.landmarks_q);
        assert_eq!(framed.attribute_logits_q, direct.attribute_logits_q);
        for (f, d) in framed.landmarks.iter().zip(&direct.landmarks) {
            assert!((f[0] - (d[0] + left as f32)).abs() < 1e-4, "{f:?} vs {d:?}");
            assert!((f[1] - (d[1] + top as f32)).abs() < 1e-4, "{f:?} vs {d:?}");
        }

        let short = model.frame_arena_bytes() - 1;
        assert_eq!(
            model.run_frame(&frame, crop, &mut arena[..short]),
            Err(Error::ArenaTooSmall {
                needed: short + 1,
                found: short
            })
        );
        let empty = CropBox { size: 0, ..crop };
        assert_eq!(
            model.run_frame(&frame, empty, &mut arena),
            Err(Error::Frame(FrameError::BadCropBox))
        );
        let far = CropBox {
            left: -3 * ONE * width as i32,
            ..crop
        };
        assert_eq!(
            model.run_frame(&frame, far, &mut arena),
            Err(Error::Frame(FrameError::BadCropBox))
        );
    }
}
