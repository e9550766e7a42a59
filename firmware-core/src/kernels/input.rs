//! RGB `u8` image → int8 input tensor through the blob's per-channel lookup
//! table (`docs/int8-spec.md` §2): `q = lut[c · 256 + pixel]`.

/// Converts interleaved RGB pixels; `lut` holds 3 × 256 entries.
/// Returns `false` (and writes nothing further) if `lut` is short.
pub fn convert_rgb(image: &[u8], lut: &[u8], output: &mut [i8]) -> bool {
    let Some((r, rest)) = lut.split_at_checked(256) else {
        return false;
    };
    let Some((g, b)) = rest.split_at_checked(256) else {
        return false;
    };
    if b.len() < 256 {
        return false;
    }
    for (out_px, px) in output.chunks_exact_mut(3).zip(image.chunks_exact(3)) {
        for ((o, &v), table) in out_px.iter_mut().zip(px).zip([r, g, b]) {
            *o = table.get(usize::from(v)).map_or(0, |&q| q as i8);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_each_channel_in_its_own_table() {
        let lut: std::vec::Vec<u8> = (0..768)
            .map(|i| ((i / 256) as u8 * 10).wrapping_add((i % 256) as u8))
            .collect();
        let image = [0u8, 1, 2, 255, 128, 7];
        let mut out = [0i8; 6];
        assert!(convert_rgb(&image, &lut, &mut out));
        let want: std::vec::Vec<i8> = image
            .iter()
            .enumerate()
            .map(|(i, &p)| ((i % 3) as u8 * 10).wrapping_add(p) as i8)
            .collect();
        assert_eq!(&out[..], &want[..]);
        assert!(!convert_rgb(&image, &lut[..700], &mut out));
    }
}
