//! A preprocessed sample cache: one file, memory-mapped, fixed-size records,
//! so epochs after the first read pixels straight from the page cache instead
//! of decoding JPEGs.
//!
//! ```text
//! 0   8   magic b"SMNCACHE"
//! 8   4   version (2), u32 LE
//! 12  4   image size S (S × S × 3 RGB), u32 LE
//! 16  8   record count N, u64 LE
//! 24  4   source length L, u32 LE
//! 28  L   source: UTF-8 description of the data the records came from
//! 28+L ..  N records: S·S·3 image bytes, 10 × f32 LE landmarks (pixels of the
//!         S × S image), 40 × i8 attributes
//! ```
//! Written to `path.tmp` and renamed, so a crash never leaves a half cache.
//! The source lets a reader refuse a cache written for other data (another
//! id range, folder or partition) instead of silently training or
//! evaluating on it; version 1 files, which lack it, are refused.
use super::celeba::DataError;
use super::{FaceSample, Rgb, ATTRIBUTE_COUNT};
use crate::data::LANDMARK_OUTPUTS;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"SMNCACHE";
const VERSION: u32 = 2;
/// Bytes before the source string.
const HEADER: usize = 28;
/// Longest source string accepted.
const MAX_SOURCE: usize = 4096;

fn record_len(size: usize) -> usize {
    size * size * 3 + 10 * 4 + ATTRIBUTE_COUNT
}

/// Writes `samples` (each `size × size`) to a cache file that records
/// `source`, the description of where they came from (at most 4096 bytes).
pub fn write_cache<'s>(
    path: &Path,
    size: usize,
    source: &str,
    samples: impl IntoIterator<Item = &'s FaceSample>,
) -> Result<usize, DataError> {
    let err = |e: std::io::Error| DataError {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot write cache: {e}"),
    };
    if source.len() > MAX_SOURCE {
        return Err(DataError {
            path: path.to_path_buf(),
            line: None,
            message: format!("cache source is {} bytes, at most {MAX_SOURCE}", source.len()),
        });
    }
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(err)?);
    out.write_all(&[0u8; HEADER]).map_err(err)?;
    out.write_all(source.as_bytes()).map_err(err)?;
    let mut count = 0u64;
    for s in samples {
        if s.image.width != size || s.image.height != size {
            return Err(DataError {
                path: path.to_path_buf(),
                line: None,
                message: format!(
                    "sample {count} is {}×{}, the cache holds {size}×{size}",
                    s.image.width, s.image.height
                ),
            });
        }
        out.write_all(&s.image.pixels).map_err(err)?;
        for v in s.landmarks {
            out.write_all(&v.to_le_bytes()).map_err(err)?;
        }
        out.write_all(&s.attributes.map(|a| a as u8)).map_err(err)?;
        count += 1;
    }
    let mut file = out.into_inner().map_err(|e| err(e.into_error()))?;
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(0)).map_err(err)?;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&(size as u32).to_le_bytes());
    header.extend_from_slice(&count.to_le_bytes());
    header.extend_from_slice(&(source.len() as u32).to_le_bytes());
    file.write_all(&header).map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(count as usize)
}

/// A memory-mapped cache file.
pub struct Cache {
    map: memmap2::Mmap,
    size: usize,
    count: usize,
    /// Where the records start.
    records: usize,
    source: String,
}

impl Cache {
    /// Opens and checks a cache file.
    pub fn open(path: &Path) -> Result<Cache, DataError> {
        let bad = |m: String| DataError {
            path: path.to_path_buf(),
            line: None,
            message: m,
        };
        let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open cache: {e}")))?;
        // SAFETY: the file is only read; a concurrent writer would replace it
        // by rename (a new inode), never modify the mapped one in place.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| bad(format!("cannot map cache: {e}")))?;
        if map.get(..8) != Some(MAGIC.as_slice()) {
            return Err(bad("not a cache file (bad magic)".into()));
        }
        let truncated = || bad("cache header is truncated".into());
        let word = |at: usize| {
            map.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or_else(truncated)
        };
        match word(8)? {
            VERSION => {}
            1 => {
                return Err(bad(
                    "cache version 1 does not record which images it holds; delete it and it is rebuilt".into(),
                ))
            }
            v => return Err(bad(format!("cache version {v} is not supported (expected {VERSION})"))),
        }
        let size = word(12)? as usize;
        let count = map
            .get(16..24)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(truncated)? as usize;
        let source_len = word(24)? as usize;
        if source_len > MAX_SOURCE {
            return Err(bad(format!("cache source length {source_len} exceeds {MAX_SOURCE}")));
        }
        let source = map
            .get(HEADER..HEADER + source_len)
            .ok_or_else(|| bad("cache ends inside its source (truncated?)".into()))?;
        let source = std::str::from_utf8(source)
            .map_err(|e| bad(format!("cache source is not UTF-8: {e}")))?
            .to_owned();
        let records = HEADER + source_len;
        let expected = count.checked_mul(record_len(size)).and_then(|n| n.checked_add(records));
        if expected != Some(map.len()) {
            return Err(bad(format!(
                "cache holds {} bytes, expected {expected:?} for {count} records of {size}×{size} (truncated?)",
                map.len()
            )));
        }
        Ok(Cache {
            map,
            size,
            count,
            records,
            source,
        })
    }

    /// The description of the data the cache was written from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Image side length.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Record `i`: its pixels and the bytes after them.
    fn record(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let n = record_len(self.size);
        let rec = self.map.get(self.records.checked_add(i.checked_mul(n)?)?..)?.get(..n)?;
        rec.split_at_checked(self.size * self.size * 3)
    }

    /// Sample `i`'s landmarks and attributes, without copying its pixels.
    pub fn labels(&self, i: usize) -> Option<([f32; LANDMARK_OUTPUTS], [i8; ATTRIBUTE_COUNT])> {
        let (lm, attrs) = self.record(i)?.1.split_at_checked(40)?;
        let mut landmarks = [0f32; LANDMARK_OUTPUTS];
        for (o, b) in landmarks.iter_mut().zip(lm.chunks_exact(4)) {
            *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        let mut attributes = [0i8; ATTRIBUTE_COUNT];
        for (o, &b) in attributes.iter_mut().zip(attrs) {
            *o = b as i8;
        }
        Some((landmarks, attributes))
    }

    /// Sample `i` (copied out of the map).
    pub fn get(&self, i: usize) -> Option<FaceSample> {
        let (pixels, _) = self.record(i)?;
        let (landmarks, attributes) = self.labels(i)?;
        Some(FaceSample {
            image: Rgb {
                width: self.size,
                height: self.size,
                pixels: pixels.to_vec(),
            },
            landmarks,
            attributes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation_is_detected() {
        let dir = std::env::temp_dir().join(format!("smn-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.bin");
        let samples: Vec<FaceSample> = (0..5u8)
            .map(|i| FaceSample {
                image: Rgb {
                    width: 4,
                    height: 4,
                    pixels: (0..48).map(|p| p as u8 ^ i).collect(),
                },
                landmarks: [i as f32 + 0.25; LANDMARK_OUTPUTS],
                attributes: [if i % 2 == 0 { 1 } else { -1 }; ATTRIBUTE_COUNT],
            })
            .collect();
        assert_eq!(write_cache(&path, 4, "five test faces", &samples).unwrap(), 5);
        let cache = Cache::open(&path).unwrap();
        assert_eq!(cache.len(), 5);
        assert_eq!(cache.source(), "five test faces");
        for (i, s) in samples.iter().enumerate() {
            assert_eq!(&cache.get(i).unwrap(), s);
        }
        assert!(cache.get(5).is_none());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let err = Cache::open(&path).err().unwrap();
        assert!(err.to_string().contains("truncated"), "{err}");
        let wrong = FaceSample {
            image: Rgb::new(3, 3),
            ..samples[0].clone()
        };
        assert!(write_cache(&path, 4, "", [&wrong]).is_err());
        assert!(write_cache(&path, 4, &"x".repeat(MAX_SOURCE + 1), &samples).is_err());
    }

    #[test]
    fn a_version_1_cache_is_refused_with_what_to_do() {
        let path = std::env::temp_dir().join(format!("smn-cache-v1-{}.bin", std::process::id()));
        let mut v1 = MAGIC.to_vec();
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&4u32.to_le_bytes());
        v1.extend_from_slice(&0u64.to_le_bytes());
        std::fs::write(&path, &v1).unwrap();
        let err = Cache::open(&path).err().unwrap().to_string();
        assert!(err.contains("version 1") && err.contains("delete it"), "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
