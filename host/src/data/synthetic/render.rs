//! Drawing a face onto a canvas: `Face::render` paints the background, then
//! shoulders, neck, ears, hair, face, beard, brows, eyes, nose, mustache,
//! mouth, fringe, hat and glasses, each as a signed-distance shape in the
//! face-local frame, with the shading helpers they share (lighting, hair
//! strands, stubble, face outline, hairline).
use super::canvas::{curve_distance, ellipse_sd, floor, len, lerp, segment_distance, smoothstep, times, wave, Canvas};
use super::face::{mix, Face};
use crate::data::Rgb;

impl Face {
    /// Lighting factor at a local point.
    fn light(&self, x: f64, y: f64) -> f32 {
        (1.0 + (x * self.light.0 + y * self.light.1) / self.face_rx).clamp(0.6, 1.4) as f32
    }

    /// Hair strand texture factor.
    fn strands(&self, x: f64, y: f64) -> f32 {
        (1.0 + 0.1 * wave(self.strand_freq * (x + 0.15 * y) + self.strand_phase)) as f32
    }

    /// Stubble texture factor: a hash of the local cell.
    fn stubble(&self, x: f64, y: f64) -> f32 {
        let cell = (floor(x * 1.4) as i64 as u64).wrapping_mul(0x9E37_79B9) ^ (floor(y * 1.4) as i64 as u64);
        let h = mix(cell ^ self.noise_seed);
        0.8 + 0.35 * (h >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Signed distance to the face outline (egg-shaped: narrower towards the chin).
    fn face_sd(&self, x: f64, y: f64) -> f64 {
        let taper = self.chin_taper * if self.male { 0.6 } else { 1.0 };
        let squeeze = if y > 0.0 {
            1.0 - taper * (y / self.face_ry).min(1.0)
        } else {
            1.0
        };
        ellipse_sd(x / squeeze, y, self.rx(), self.face_ry)
    }

    /// The hair volume: an ellipse around the top of the head.
    fn hair_ellipse(&self) -> (f64, f64, f64) {
        let cy = -0.1 * self.face_ry;
        (
            cy,
            self.rx() + 5.0 + self.hair_volume,
            self.face_ry + 6.0 + self.hair_volume,
        )
    }

    /// Bottom edge of the hair over the forehead at `x`.
    fn hairline(&self, x: f64) -> f64 {
        let u = (x / self.rx()).clamp(-1.0, 1.0);
        if self.bangs {
            self.eye_y - 15.0 + 1.6 * wave(0.7 * x + self.fringe_phase) + 3.0 * u * u
        } else {
            self.eye_y - 30.0 + 14.0 * u * u
        }
    }

    /// Height of the hat's brim.
    fn hat_y(&self) -> f64 {
        self.eye_y - 30.0
    }

    /// Renders the image.
    pub(super) fn render(&self, width: usize, height: usize) -> Rgb {
        let mut canvas = Canvas::new(width, height, self.map(), self.scale);
        self.paint_background(&mut canvas);
        let rx = self.rx();
        let ry = self.face_ry;
        let skin = self.skin();
        let hair = self.hair_colour();

        // Shoulders and neck.
        let (sy, srx, sry) = (ry + 72.0, 2.1 * rx, 50.0);
        let neck_w = 0.5 * rx + if self.male { 3.0 } else { 0.0 };
        canvas.paint(
            [-neck_w, 0.0, neck_w, sy],
            1.0,
            |x, y| (x.abs() - neck_w).max(y - sy),
            |x, y| times(skin, 0.78 * self.light(x, y)),
        );
        canvas.paint(
            [-srx, sy - sry, srx, sy + sry],
            1.0,
            |x, y| ellipse_sd(x, y - sy, srx, sry),
            |x, y| times(self.clothes, self.light(x, y)),
        );

        // Ears.
        for side in [-1.0, 1.0] {
            let (ex, ey) = (side * (rx - 1.5), self.eye_y + 7.0);
            canvas.paint(
                [ex - 7.0, ey - 12.5, ex + 7.0, ey + 12.5],
                1.0,
                |x, y| ellipse_sd(x - ex, y - ey, 6.0, 11.5),
                |x, y| times(skin, 0.9 * self.light(x, y)),
            );
        }

        // Hair behind the head: short above the ears, or long down the sides.
        let (hcy, hrx, hry) = self.hair_ellipse();
        let long_bottom = 0.5 * ry + self.hair_length;
        let back_bottom = if self.male { self.eye_y - 4.0 } else { long_bottom };
        canvas.paint(
            [-hrx, hcy - hry, hrx, (hcy + hry).max(back_bottom)],
            1.0,
            |x, y| {
                let cap = ellipse_sd(x, y - hcy, hrx, hry);
                if self.male {
                    cap.max(y - back_bottom)
                } else {
                    // Long hair: down both sides, not in front of the neck.
                    let sides = (0.55 * rx - x.abs()).min(y);
                    cap.min((x.abs() - hrx).max(y - long_bottom).max(hcy - y).max(sides))
                }
            },
            |x, y| times(hair, 0.85 * self.light(x, y) * self.strands(x, y)),
        );

        // Face.
        canvas.paint(
            [-rx - 1.0, -ry - 1.0, rx + 1.0, ry + 1.0],
            1.0,
            |x, y| self.face_sd(x, y),
            |x, y| {
                let (u, v) = (x / rx, y / ry);
                let q = (u * u + v * v) as f32;
                times(skin, self.light(x, y) * (1.0 - 0.12 * q * q))
            },
        );

        let mouth = self.mouth();
        if self.beard {
            let top_mid = self.mouth_y + 5.0;
            let top_side = self.eye_y + 5.0;
            let (edge0, edge1) = (self.mouth_w, rx - 4.0);
            let zone_top = mouth.corner_y.min(mouth.upper) - 3.7;
            let zone_bottom = mouth.lower + 4.5;
            let zone_half = mouth.half + 3.0;
            canvas.paint(
                [-rx - 2.0, top_side - 1.0, rx + 2.0, ry + 2.0],
                0.92,
                |x, y| {
                    let top = top_mid - (top_mid - top_side) * smoothstep(edge0, edge1, x.abs());
                    let zone = (x.abs() - zone_half).max(zone_top - y).max(y - zone_bottom);
                    (self.face_sd(x, y) - 1.0).max(top - y).max(-zone)
                },
                |x, y| times(hair, 0.8 * self.light(x, y) * self.stubble(x, y)),
            );
        }

        // Eyebrows.
        let brow_half = if self.male { 1.5 } else { 1.0 };
        for side in [-1.0, 1.0] {
            let (bx, by) = (side * self.eye_dx, self.eye_y - self.brow_gap);
            let half_len = self.eye_rx + 2.0;
            canvas.paint(
                [bx - half_len - 2.0, by - 3.0, bx + half_len + 2.0, by + 4.0],
                1.0,
                |x, y| curve_distance(x - bx, y - by, half_len, -2.0, 2.0) - brow_half,
                |_, _| times(hair, 0.7),
            );
        }

        // Eyes: white, iris, pupil, upper lid line.
        for side in [-1.0, 1.0] {
            let (ex, ey) = (side * self.eye_dx, self.eye_y);
            let (erx, ery) = (self.eye_rx, self.eye_ry);
            let bbox = [ex - erx - 1.0, ey - ery - 1.0, ex + erx + 1.0, ey + ery + 1.0];
            canvas.paint(
                bbox,
                1.0,
                |x, y| ellipse_sd(x - ex, y - ey, erx, ery),
                |x, y| times([236.0, 232.0, 226.0], self.light(x, y)),
            );
            let iris_r = self.iris_r;
            canvas.paint(
                bbox,
                1.0,
                |x, y| (len(x - ex, y - ey) - iris_r).max(ellipse_sd(x - ex, y - ey, erx, ery)),
                |_, _| self.iris,
            );
            canvas.paint(
                bbox,
                1.0,
                |x, y| len(x - ex, y - ey) - 0.5 * iris_r,
                |_, _| [10.0, 8.0, 8.0],
            );
            canvas.paint(
                bbox,
                1.0,
                |x, y| (ellipse_sd(x - ex, y - ey, erx, ery).abs() - 0.6).max(y - ey),
                |_, _| [30.0, 20.0, 20.0],
            );
        }

        // Nose: bridge shadow on the side away from the light, shaded tip, nostrils.
        let shadow_x = -2.5 * self.light.0.signum();
        let (ny, nw) = (self.nose_y, self.nose_w);
        canvas.paint(
            [shadow_x - 2.0, self.eye_y, shadow_x + 2.0, ny],
            0.5,
            |x, y| segment_distance(x, y, (shadow_x, self.eye_y + 3.0), (shadow_x, ny - 3.0)) - 1.4,
            |x, y| times(skin, 0.8 * self.light(x, y)),
        );
        canvas.paint(
            [-nw - 1.0, ny - 4.0, nw + 1.0, ny + 4.0],
            1.0,
            |x, y| ellipse_sd(x, y - ny, nw, 3.2),
            |x, y| times(skin, 0.62 * self.light(x, y)),
        );
        for side in [-1.0, 1.0] {
            let nx = side * 0.55 * nw;
            canvas.paint(
                [nx - 2.0, ny, nx + 2.0, ny + 4.0],
                1.0,
                |x, y| ellipse_sd(x - nx, y - ny - 1.8, 1.6, 1.0),
                |_, _| times(skin, 0.35),
            );
        }

        if self.mustache {
            let half = mouth.half + 2.5;
            let top = ny + 4.5;
            canvas.paint(
                [-half - 1.0, top - 1.0, half + 1.0, mouth.upper],
                1.0,
                |x, y| {
                    let u = x / half;
                    let xc = x.clamp(-mouth.half, mouth.half);
                    let bottom = mouth.upper_at(xc) - 2.2 * mouth.taper(xc) - 0.8;
                    (x.abs() - half).max(top + 3.0 * u * u - y).max(y - bottom)
                },
                |x, y| times(hair, 0.75 * self.light(x, y) * self.stubble(x, y)),
            );
        }

        // Mouth: lips, opening (with teeth when smiling), line ending at the corners.
        let lip = times(lerp(skin, self.lip, 0.45), 0.9);
        let mbox = [
            -mouth.half - 2.0,
            mouth.corner_y.min(mouth.upper) - 4.0,
            mouth.half + 2.0,
            mouth.lower + 5.0,
        ];
        canvas.paint(
            mbox,
            1.0,
            |x, y| {
                let t = mouth.taper(x);
                let top = mouth.upper_at(x) - 2.2 * t;
                let bottom = mouth.lower_at(x) + 3.0 * t;
                (x.abs() - mouth.half).max(top - y).max(y - bottom)
            },
            |x, y| times(lip, self.light(x, y)),
        );
        if self.mouth_open {
            let opening = |x: f64, y: f64| {
                (x.abs() - mouth.half)
                    .max(mouth.upper_at(x) - y)
                    .max(y - mouth.lower_at(x))
            };
            canvas.paint(mbox, 1.0, opening, |_, _| [45.0, 15.0, 20.0]);
            if self.smiling {
                canvas.paint(
                    mbox,
                    1.0,
                    |x, y| opening(x, y).max(y - mouth.upper_at(x) - 1.8 * mouth.taper(x)),
                    |_, _| [232.0, 226.0, 215.0],
                );
            }
        }
        canvas.paint(
            mbox,
            1.0,
            |x, y| {
                // The line, with a small dark crease centred on each corner.
                let line = curve_distance(x, y - mouth.corner_y, mouth.half, mouth.upper - mouth.corner_y, 0.0) - 0.9;
                let crease = len(x.abs() - mouth.half, y - mouth.corner_y) - 1.6;
                line.min(crease)
            },
            |_, _| [32.0, 10.0, 13.0],
        );

        // Hair over the forehead (a fringe with bangs).
        canvas.paint(
            [-hrx, hcy - hry, hrx, self.eye_y - 8.0],
            1.0,
            |x, y| ellipse_sd(x, y - hcy, hrx, hry).max(y - self.hairline(x)),
            |x, y| times(hair, self.light(x, y) * self.strands(x, y)),
        );

        if self.hat {
            let hy = self.hat_y();
            let (crx, cry) = (rx + 4.0, 40.0);
            let brim = rx + 14.0;
            canvas.paint(
                [-crx, hy - cry, crx, hy],
                1.0,
                |x, y| ellipse_sd(x, y - hy, crx, cry).max(y - hy),
                |x, y| {
                    let band = if (hy - 9.0..hy - 4.0).contains(&y) { 0.6 } else { 1.0 };
                    times(self.hat_colour, band * self.light(x, y))
                },
            );
            canvas.paint(
                [-brim, hy - 6.0, brim, hy + 6.0],
                1.0,
                |x, y| ellipse_sd(x, y - hy, brim, 5.0),
                |x, y| times(self.hat_colour, 0.85 * self.light(x, y)),
            );
        }

        if self.eyeglasses {
            let (gx, gy) = (self.eye_rx + 4.5, self.eye_ry + 4.5);
            let rim = 0.9;
            let ey = self.eye_y;
            for side in [-1.0, 1.0] {
                let ex = side * self.eye_dx;
                let bbox = [ex - gx - 2.0, ey - gy - 2.0, ex + gx + 2.0, ey + gy + 2.0];
                canvas.paint(
                    bbox,
                    0.08,
                    |x, y| ellipse_sd(x - ex, y - ey, gx, gy),
                    |_, _| [200.0, 225.0, 255.0],
                );
                canvas.paint(
                    bbox,
                    1.0,
                    |x, y| ellipse_sd(x - ex, y - ey, gx, gy).abs() - rim,
                    |_, _| self.glasses_colour,
                );
                let (ax, bx) = (ex + side * gx, side * (rx - 0.5));
                canvas.paint(
                    [ax.min(bx) - 2.0, ey - 4.0, ax.max(bx) + 2.0, ey + 2.0],
                    1.0,
                    |x, y| segment_distance(x, y, (ax, ey - 1.0), (bx, ey - 2.0)) - rim,
                    |_, _| self.glasses_colour,
                );
            }
            let inner = self.eye_dx - gx;
            canvas.paint(
                [-inner - 2.0, ey - 5.0, inner + 2.0, ey + 1.0],
                1.0,
                |x, y| curve_distance(x, y - (ey - 1.0), inner + 0.5, -1.5, 0.0) - rim,
                |_, _| self.glasses_colour,
            );
        }

        canvas.finish(self.exposure, self.noise_sigma, self.noise_seed)
    }

    /// A linear gradient between two colours, then soft translucent blobs
    /// (image coordinates: the background does not move with the head).
    fn paint_background(&self, canvas: &mut Canvas) {
        let (w, h) = (canvas.width, canvas.height);
        if w == 0 {
            return;
        }
        let (dy, dx) = self.background_angle.sin_cos();
        let step_x = dx / w as f64;
        for (y, row) in canvas.buf.chunks_exact_mut(w).enumerate() {
            let mut t = 0.5 - 0.5 * dx + (y as f64 / h as f64 - 0.5) * dy;
            for p in row {
                *p = lerp(self.background[0], self.background[1], t.clamp(0.0, 1.0) as f32);
                t += step_x;
            }
        }
        let blur = 6.0 * self.scale;
        for b in self.blobs.get(..self.blob_count).unwrap_or(&[]) {
            let reach = b.r + blur;
            let (x0, x1) = (
                (b.x - reach).max(0.0) as usize,
                (b.x + reach).min(w as f64 - 1.0).max(0.0) as usize,
            );
            let (y0, y1) = (
                (b.y - reach).max(0.0) as usize,
                (b.y + reach).min(h as f64 - 1.0).max(0.0) as usize,
            );
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let d = len(x as f64 - b.x, y as f64 - b.y) - b.r;
                    let cover = (0.5 - d / blur).clamp(0.0, 1.0) as f32 * 0.45;
                    if cover > 0.0 {
                        if let Some(p) = canvas.buf.get_mut(y * w + x) {
                            *p = lerp(*p, b.colour, cover);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::face::{Face, Hair};
    use super::super::testing::{at_local, config, luma, mean3};
    use crate::data::Rgb;

    /// Renders `face` with `set` applied on and off; returns the face-local
    /// positions of the pixels that differ and both images.
    fn toggle(face: &Face, set: impl Fn(&mut Face, bool)) -> (Vec<(f64, f64)>, Rgb, Rgb) {
        let (mut on, mut off) = (face.clone(), face.clone());
        set(&mut on, true);
        set(&mut off, false);
        let (a, b) = (on.render(178, 218), off.render(178, 218));
        let inv = face.map().inverse().unwrap();
        let mut diff = Vec::new();
        for (i, (p, q)) in a.pixels.chunks_exact(3).zip(b.pixels.chunks_exact(3)).enumerate() {
            if p != q {
                diff.push(inv.apply((i % 178) as f64, (i / 178) as f64));
            }
        }
        (diff, a, b)
    }

    #[test]
    fn each_attribute_changes_its_own_region() {
        let c = config();
        for i in 0..40 {
            let f = Face::draw(&c, i);
            let m = 2.0 / f.scale; // anti-aliasing margin, local units
            let check = |name: &str, set: fn(&mut Face, bool), inside: &dyn Fn(f64, f64) -> bool| {
                let (diff, _, _) = toggle(&f, set);
                assert!(diff.len() > 20, "sample {i} {name}: only {} pixels change", diff.len());
                for &(x, y) in &diff {
                    assert!(inside(x, y), "sample {i} {name}: ({x:.1}, {y:.1}) changed");
                }
            };
            let (ey, ny, my, mw) = (f.eye_y, f.nose_y, f.mouth_y, f.mouth_w);
            check("Eyeglasses", |f, v| f.eyeglasses = v, &|_, y| {
                (y - ey).abs() < 9.5 + f.eye_ry + m
            });
            check("Smiling", |f, v| f.smiling = v, &|x, y| {
                x.abs() < mw + 6.0 + m && y > ny + 3.0 - m && y < my + 17.0 + m
            });
            check("Mouth_Slightly_Open", |f, v| f.mouth_open = v, &|x, y| {
                x.abs() < mw + 6.0 + m && y > my - 5.0 - m && y < my + 17.0 + m
            });
            check("Mustache", |f, v| f.mustache = v, &|x, y| {
                x.abs() < mw + 5.0 + m && y > ny + 4.5 - m && y < my + 2.0 + m
            });
            check("No_Beard", |f, v| f.beard = !v, &|_, y| y > ey + 5.0 - m);
            check("Bangs", |f, v| f.bangs = v, &|_, y| y < ey - 10.0 + m);
            check("Wearing_Hat", |f, v| f.hat = v, &|_, y| y < ey - 25.0 + m);
            // Hair colour: hair, brows and facial hair, never the eyes' centre or the skin of the cheeks.
            let (diff, black, blond) = toggle(&f, |f, v| f.hair = if v { Hair::Black } else { Hair::Blond });
            let cheek = (f.eye_dx, f.nose_y);
            assert!(diff.iter().all(|&(x, y)| (x - cheek.0).hypot(y - cheek.1) > 2.0 + m));
            let mean = |img: &Rgb| {
                let inv_map = f.map();
                diff.iter()
                    .map(|&(x, y)| {
                        let (ix, iy) = inv_map.apply(x, y);
                        luma(mean3(img, ix, iy))
                    })
                    .sum::<f32>()
                    / diff.len() as f32
            };
            assert!(mean(&black) + 60.0 < mean(&blond), "sample {i}: black hair not darker");
            // Male: short hair, so no hair down the sides below the ears.
            let (diff, _, _) = toggle(&f, |f, v| f.male = v);
            assert!(diff.iter().any(|&(x, y)| y > ey + 25.0 && x.abs() > f.face_rx + 3.0));
            // Pale skin: the cheeks get lighter.
            let (_, pale, other) = toggle(&f, |f, v| f.pale = v);
            let cheek_luma = |img: &Rgb| luma(at_local(&f, img, cheek.0, cheek.1));
            assert!(
                cheek_luma(&pale) > cheek_luma(&other),
                "sample {i}: pale cheek not lighter"
            );
        }
    }
}
