//! Camera frames to model input, in fixed point (`docs/frame-input.md`).
//!
//! A device holds a camera frame (RGB565 little or big endian, RGB888 or
//! 8-bit grey, any row stride) and a square face box from a detector or
//! from the previous frame's landmarks. [`crop_resize`] turns the box into
//! the model's `n × n` RGB input with the geometry of the training
//! pipeline (`host/src/data/transform.rs`: pixel edges onto pixel edges,
//! bilinear sampling at the inverse-mapped pixel centre, edge pixels
//! repeated outside the frame), with integer arithmetic only;
//! [`CropBox::to_frame`] maps the model's landmarks back to frame pixels.
//!
//! Fixed point, for output pixel `u` (columns; rows alike) of `n`:
//! `s(u) = left + round((2u + 1) · size / (2n)) − ½` in Q16.16, clamped to
//! `[0, (W − 1)·2¹⁶]`; `x₀ = s >> 16`, `f = (s >> 8) & 255` (a Q8
//! weight); each channel is `((p₀₀(256 − f) + p₁₀f)(256 − g) + (p₀₁(256 −
//! f) + p₁₁f)g + 2¹⁵) >> 16`.

/// One fixed-point unit of a [`CropBox`] coordinate (Q16.16).
pub const ONE: i32 = 1 << 16;

/// Largest frame side (so every Q16.16 coordinate fits an `i32`).
pub const MAX_FRAME_SIDE: usize = 16_384;

/// Largest model input side [`crop_resize`] produces.
pub const MAX_OUTPUT_SIDE: usize = 1024;

/// How a frame stores its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// 16 bits, `RRRRRGGG GGGBBBBB`, low byte first.
    Rgb565Le,
    /// 16 bits, `RRRRRGGG GGGBBBBB`, high byte first.
    Rgb565Be,
    /// 24 bits, R, G, B.
    Rgb888,
    /// 8 bits of grey, expanded to `(g, g, g)` (a model trained on RGB
    /// sees a grey face: measure the accuracy cost before relying on it).
    Gray8,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb565Le | PixelFormat::Rgb565Be => 2,
            PixelFormat::Rgb888 => 3,
            PixelFormat::Gray8 => 1,
        }
    }

    /// The RGB of the pixel stored in `bytes` (at least `bytes_per_pixel`).
    fn rgb(self, bytes: &[u8]) -> [u8; 3] {
        let expand = |v: u16| -> [u8; 3] {
            let (r, g, b) = ((v >> 11) & 31, (v >> 5) & 63, v & 31);
            [
                ((r << 3) | (r >> 2)) as u8,
                ((g << 2) | (g >> 4)) as u8,
                ((b << 3) | (b >> 2)) as u8,
            ]
        };
        match (self, bytes) {
            (PixelFormat::Rgb565Le, [lo, hi, ..]) => expand(u16::from_le_bytes([*lo, *hi])),
            (PixelFormat::Rgb565Be, [hi, lo, ..]) => expand(u16::from_be_bytes([*hi, *lo])),
            (PixelFormat::Rgb888, [r, g, b, ..]) => [*r, *g, *b],
            (PixelFormat::Gray8, [g, ..]) => [*g, *g, *g],
            _ => [0; 3],
        }
    }
}

/// A camera frame borrowed in place.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// The pixel bytes: `height` rows of `stride` bytes (the last row may
    /// stop after its `width` pixels).
    pub pixels: &'a [u8],
    /// Pixel layout.
    pub format: PixelFormat,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Bytes from one row to the next (≥ `width × bytes_per_pixel`).
    pub stride: usize,
}

/// Why a frame, box or output buffer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Width or height is 0 or above [`MAX_FRAME_SIDE`].
    BadFrameSize {
        /// Columns.
        width: usize,
        /// Rows.
        height: usize,
    },
    /// The stride is shorter than a row of pixels.
    StrideTooShort {
        /// Given stride.
        stride: usize,
        /// Bytes of one row of pixels.
        row_bytes: usize,
    },
    /// The pixel buffer is shorter than `stride × (height − 1) + row bytes`.
    FrameTooShort {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The box's size is not positive, or a coordinate is more than one
    /// frame side outside the frame.
    BadCropBox,
    /// The output side is 0 or above [`MAX_OUTPUT_SIDE`].
    BadOutputSize {
        /// Requested side.
        side: usize,
    },
    /// The model input is not square, so no square box maps onto it.
    NotSquare {
        /// Model input columns.
        width: usize,
        /// Model input rows.
        height: usize,
    },
    /// The output buffer is not `side × side × 3` bytes.
    OutputLength {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            FrameError::BadFrameSize { width, height } => {
                write!(f, "frame {width}×{height}: each side must be 1..={MAX_FRAME_SIDE}")
            }
            FrameError::StrideTooShort { stride, row_bytes } => {
                write!(
                    f,
                    "frame stride {stride} is shorter than a row of pixels ({row_bytes} bytes)"
                )
            }
            FrameError::FrameTooShort { len, needed } => {
                write!(f, "frame buffer holds {len} bytes, its stride × height needs {needed}")
            }
            FrameError::BadCropBox => write!(
                f,
                "crop box: size must be > 0 and each coordinate within one frame side of the frame"
            ),
            FrameError::BadOutputSize { side } => write!(f, "output side {side}: must be 1..={MAX_OUTPUT_SIDE}"),
            FrameError::NotSquare { width, height } => {
                write!(
                    f,
                    "the model input is {width}×{height}: frame crops need a square input"
                )
            }
            FrameError::OutputLength { len, needed } => {
                write!(f, "output buffer holds {len} bytes, the model input needs {needed}")
            }
        }
    }
}

/// A square box of the frame in Q16.16 pixel coordinates: its left and top
/// pixel edges and its side (`left = 10 · ONE` is the left edge of column
/// 10, as in the training pipeline's `Affine::crop_resize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    /// Left edge, Q16.16 pixels (may be negative: padded by edge pixels).
    pub left: i32,
    /// Top edge, Q16.16 pixels.
    pub top: i32,
    /// Side, Q16.16 pixels (> 0).
    pub size: i32,
}

impl CropBox {
    /// A box on whole pixels.
    pub const fn pixels(left: i32, top: i32, size: i32) -> CropBox {
        CropBox {
            left: left.saturating_mul(ONE),
            top: top.saturating_mul(ONE),
            size: size.saturating_mul(ONE),
        }
    }

    /// Maps a point in pixels of the `n × n` model input (pixel centres at
    /// integers) to frame pixels: `left + (x + ½) · size / n − ½`.
    pub fn to_frame(&self, point: [f32; 2], n: usize) -> [f32; 2] {
        let scale = self.size as f32 / ONE as f32 / n.max(1) as f32;
        let map = |v: f32, edge: i32| edge as f32 / ONE as f32 + (v + 0.5) * scale - 0.5;
        [map(point[0], self.left), map(point[1], self.top)]
    }

    /// Checks the box against a frame of `width × height`.
    fn check(&self, width: usize, height: usize) -> Result<(), FrameError> {
        let side = |v: usize| i64::try_from(v).unwrap_or(i64::MAX) * i64::from(ONE);
        let (w, h) = (side(width), side(height));
        let (left, top, size) = (i64::from(self.left), i64::from(self.top), i64::from(self.size));
        let within = |edge: i64, extent: i64| edge >= -extent && edge + size <= 2 * extent;
        if size > 0 && within(left, w) && within(top, h) {
            Ok(())
        } else {
            Err(FrameError::BadCropBox)
        }
    }
}

/// The Q16.16 source coordinates of `n` output pixels over `[edge, edge +
/// size)`, clamped to `[0, (side − 1)·2¹⁶]`, split into the pixel index and
/// the Q8 weight of the next one.
fn taps(edge: i32, size: i32, n: usize, side: usize, u: usize) -> (usize, usize, u32) {
    let n = n.max(1) as i64;
    let twice = 2 * u as i64 + 1;
    let offset = (twice * i64::from(size) + n) / (2 * n); // round((2u+1)·size / 2n), size > 0
    let s = i64::from(edge) + offset - i64::from(ONE / 2);
    let max = (side.saturating_sub(1) as i64) << 16;
    let s = s.clamp(0, max);
    let i0 = (s >> 16) as usize;
    let i1 = (i0 + 1).min(side.saturating_sub(1));
    (i0, i1, ((s >> 8) & 255) as u32)
}

/// Writes the `side × side × 3` RGB model input for `crop` of `frame` into
/// `out` (fixed point, `docs/frame-input.md`).
///
/// # Errors
/// A [`FrameError`] naming what is wrong with the frame, the box or `out`;
/// `out` is left unchanged then.
pub fn crop_resize(frame: &Frame<'_>, crop: CropBox, side: usize, out: &mut [u8]) -> Result<(), FrameError> {
    let (width, height) = (frame.width, frame.height);
    if width == 0 || height == 0 || width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
        return Err(FrameError::BadFrameSize { width, height });
    }
    let bpp = frame.format.bytes_per_pixel();
    let row_bytes = width * bpp;
    if frame.stride < row_bytes {
        return Err(FrameError::StrideTooShort {
            stride: frame.stride,
            row_bytes,
        });
    }
    let needed = frame.stride.saturating_mul(height - 1).saturating_add(row_bytes);
    if frame.pixels.len() < needed {
        return Err(FrameError::FrameTooShort {
            len: frame.pixels.len(),
            needed,
        });
    }
    crop.check(width, height)?;
    if side == 0 || side > MAX_OUTPUT_SIDE {
        return Err(FrameError::BadOutputSize { side });
    }
    let out_len = side * side * 3;
    if out.len() != out_len {
        return Err(FrameError::OutputLength {
            len: out.len(),
            needed: out_len,
        });
    }
    let pixel = |x: usize, y: usize| -> [u8; 3] {
        let at = y * frame.stride + x * bpp;
        frame.format.rgb(frame.pixels.get(at..at + bpp).unwrap_or(&[]))
    };
    // A `NonZeroUsize` chunk size: LLVM drops `chunks_exact_mut`'s zero-size panic.
    let row_len = core::num::NonZeroUsize::new(side * 3).ok_or(FrameError::BadOutputSize { side })?;
    for (v, row) in out.chunks_exact_mut(row_len.get()).enumerate() {
        let (y0, y1, fy) = taps(crop.top, crop.size, side, height, v);
        for (u, px) in row.chunks_exact_mut(3).enumerate() {
            let (x0, x1, fx) = taps(crop.left, crop.size, side, width, u);
            let (p00, p10, p01, p11) = (pixel(x0, y0), pixel(x1, y0), pixel(x0, y1), pixel(x1, y1));
            for (c, o) in px.iter_mut().enumerate() {
                let at = |p: [u8; 3]| u32::from(p.get(c).copied().unwrap_or(0));
                let top = at(p00) * (256 - fx) + at(p10) * fx;
                let bottom = at(p01) * (256 - fx) + at(p11) * fx;
                *o = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::vec;
    use std::vec::Vec;

    /// The same formula in f64 and i64, written from the spec text.
    fn reference(frame: &Frame<'_>, crop: CropBox, n: usize) -> Vec<u8> {
        let coord = |edge: i32, u: usize, side: usize| -> (usize, usize, i64) {
            let offset = ((2 * u + 1) as f64 * f64::from(crop.size) / (2 * n) as f64 + 0.5).floor() as i64;
            let s = (i64::from(edge) + offset - 32768).clamp(0, ((side - 1) as i64) * 65536);
            let i0 = (s / 65536) as usize;
            (i0, (i0 + 1).min(side - 1), (s % 65536) / 256)
        };
        let rgb = |x: usize, y: usize| -> [i64; 3] {
            let at = y * frame.stride + x * frame.format.bytes_per_pixel();
            let b = &frame.pixels[at..];
            match frame.format {
                PixelFormat::Rgb888 => [b[0].into(), b[1].into(), b[2].into()],
                PixelFormat::Gray8 => [b[0].into(); 3],
                PixelFormat::Rgb565Le | PixelFormat::Rgb565Be => {
                    let v = if frame.format == PixelFormat::Rgb565Le {
                        i64::from(b[0]) + 256 * i64::from(b[1])
                    } else {
                        256 * i64::from(b[0]) + i64::from(b[1])
                    };
                    let (r, g, bl) = (v / 2048, (v / 32) % 64, v % 32);
                    [r * 8 + r / 4, g * 4 + g / 16, bl * 8 + bl / 4]
                }
            }
        };
        let mut out = vec![0u8; n * n * 3];
        for v in 0..n {
            let (y0, y1, fy) = coord(crop.top, v, frame.height);
            for u in 0..n {
                let (x0, x1, fx) = coord(crop.left, u, frame.width);
                for c in 0..3 {
                    let top = rgb(x0, y0)[c] * (256 - fx) + rgb(x1, y0)[c] * fx;
                    let bottom = rgb(x0, y1)[c] * (256 - fx) + rgb(x1, y1)[c] * fx;
                    out[(v * n + u) * 3 + c] = ((top * (256 - fy) + bottom * fy + 32768) / 65536) as u8;
                }
            }
        }
        out
    }

    fn random_frame(rng: &mut Rng, format: PixelFormat, width: usize, height: usize, pad: usize) -> Vec<u8> {
        let stride = width * format.bytes_per_pixel() + pad;
        (0..stride * height).map(|_| rng.below(256) as u8).collect()
    }

    #[test]
    fn matches_the_reference_bit_for_bit_on_every_format_and_odd_boxes() {
        let mut rng = Rng::new(7);
        let formats = [
            PixelFormat::Rgb565Le,
            PixelFormat::Rgb565Be,
            PixelFormat::Rgb888,
            PixelFormat::Gray8,
        ];
        for (case, format) in formats.iter().cycle().take(24).enumerate() {
            let (width, height, pad) = (17 + case * 5, 13 + case * 3, case % 3);
            let pixels = random_frame(&mut rng, *format, width, height, pad);
            let frame = Frame {
                pixels: &pixels,
                format: *format,
                width,
                height,
                stride: width * format.bytes_per_pixel() + pad,
            };
            // Inside, sub-pixel, and past every edge (padded by edge pixels).
            let (w, h) = (width as i32 * ONE, height as i32 * ONE);
            let crop = CropBox {
                left: rng.below(w as u64) as i32 - w / 2,
                top: rng.below(h as u64) as i32 - h / 2,
                size: ONE + rng.below(w.min(h) as u64) as i32,
            };
            let n = 1 + case % 9 * 4;
            let mut out = vec![0u8; n * n * 3];
            crop_resize(&frame, crop, n, &mut out).unwrap();
            assert_eq!(out, reference(&frame, crop, n), "case {case} {format:?} {crop:?} n {n}");
        }
    }

    #[test]
    fn an_exact_downscale_averages_and_a_grey_frame_stays_grey() {
        // 2×2 → 1×1 samples the centre: the mean of the four pixels.
        let pixels = [0u8, 0, 0, 100, 100, 100, 200, 200, 200, 60, 60, 60];
        let frame = Frame {
            pixels: &pixels,
            format: PixelFormat::Rgb888,
            width: 2,
            height: 2,
            stride: 6,
        };
        let mut out = [0u8; 3];
        crop_resize(&frame, CropBox::pixels(0, 0, 2), 1, &mut out).unwrap();
        assert_eq!(out, [90, 90, 90]);
        let grey = [77u8; 12];
        let frame = Frame {
            pixels: &grey,
            format: PixelFormat::Gray8,
            width: 4,
            height: 3,
            stride: 4,
        };
        let mut out = [0u8; 5 * 5 * 3];
        crop_resize(&frame, CropBox::pixels(-3, -3, 9), 5, &mut out).unwrap();
        assert!(out.iter().all(|&v| v == 77));
    }

    #[test]
    fn rgb565_expands_full_scale() {
        assert_eq!(PixelFormat::Rgb565Le.rgb(&[0xFF, 0xFF]), [255, 255, 255]);
        assert_eq!(PixelFormat::Rgb565Be.rgb(&[0xF8, 0x00]), [255, 0, 0]);
        assert_eq!(PixelFormat::Rgb565Le.rgb(&[0xE0, 0x07]), [0, 255, 0]);
        assert_eq!(PixelFormat::Rgb565Be.rgb(&[0x00, 0x1F]), [0, 0, 255]);
    }

    #[test]
    fn landmarks_map_back_through_the_box() {
        let crop = CropBox::pixels(100, 40, 128);
        // Model pixel centres -0.5 and n - 0.5 are the box's edges.
        assert_eq!(crop.to_frame([-0.5, 63.5], 64), [99.5, 167.5]);
        assert_eq!(crop.to_frame([31.5, 31.5], 64), [163.5, 103.5]);
    }

    #[test]
    fn bad_frames_boxes_and_buffers_are_errors() {
        let pixels = [0u8; 30];
        let frame = |width, height, stride, len: usize| Frame {
            pixels: &pixels[..len],
            format: PixelFormat::Rgb565Le,
            width,
            height,
            stride,
        };
        let ok_box = CropBox::pixels(0, 0, 3);
        let mut out = [0u8; 12];
        let run = |f: Frame<'_>, b: CropBox, side: usize, out: &mut [u8]| crop_resize(&f, b, side, out);
        assert_eq!(
            run(frame(0, 3, 10, 30), ok_box, 2, &mut out),
            Err(FrameError::BadFrameSize { width: 0, height: 3 })
        );
        assert_eq!(
            run(frame(5, 3, 9, 30), ok_box, 2, &mut out),
            Err(FrameError::StrideTooShort {
                stride: 9,
                row_bytes: 10
            })
        );
        assert_eq!(
            run(frame(5, 3, 10, 29), ok_box, 2, &mut out),
            Err(FrameError::FrameTooShort { len: 29, needed: 30 })
        );
        for bad in [
            CropBox::pixels(0, 0, 0),
            CropBox::pixels(0, 0, -4),
            CropBox::pixels(-6, 0, 2),
            CropBox::pixels(0, 2, 5),
            CropBox {
                left: i32::MAX,
                top: 0,
                size: i32::MAX,
            },
        ] {
            assert_eq!(
                run(frame(5, 3, 10, 30), bad, 2, &mut out),
                Err(FrameError::BadCropBox),
                "{bad:?}"
            );
        }
        assert_eq!(
            run(frame(5, 3, 10, 30), ok_box, 0, &mut out),
            Err(FrameError::BadOutputSize { side: 0 })
        );
        assert_eq!(
            run(frame(5, 3, 10, 30), ok_box, 3, &mut out),
            Err(FrameError::OutputLength { len: 12, needed: 27 })
        );
        assert!(run(frame(5, 3, 10, 30), ok_box, 2, &mut out).is_ok());
    }
}
