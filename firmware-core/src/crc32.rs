//! CRC-32 (IEEE 802.3, reflected polynomial `0xEDB88320`, init and final XOR
//! `0xFFFFFFFF`) — the checksum in the blob preamble.

// Evaluated at compile time: an out-of-bounds index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static TABLE: [u32; 256] = make_table();

/// CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &byte| {
        let entry = TABLE
            .get(((crc ^ u32::from(byte)) & 0xFF) as usize)
            .copied()
            .unwrap_or(0);
        entry ^ (crc >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::crc32;

    /// Bit-at-a-time definition, independent of the table.
    fn reference(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
        !crc
    }

    #[test]
    fn check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn matches_bitwise_reference() {
        let data: [u8; 300] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for len in [1, 2, 17, 255, 300] {
            assert_eq!(crc32(&data[..len]), reference(&data[..len]));
        }
    }
}
