//! CelebA as distributed: `img_align_celeba/*.jpg` (178×218),
//! `list_landmarks_align_celeba.txt`, `list_attr_celeba.txt`,
//! `list_eval_partition.txt`.
//!
//! Accepted layouts of each list: the official one (a count line, a header
//! line — except the partition list, which has neither — then
//! whitespace-separated rows `000001.jpg v1 v2 …`), LF or CRLF, any runs of
//! spaces/tabs; and the common CSV variant (`image_id,col1,col2,…` header,
//! comma-separated rows). Attribute columns are matched by name, so a
//! reordered header is fine. Rows are joined by image file name, never by
//! position, so a missing or extra row cannot shift labels.
//!
//! Bad input — a missing file, a short or malformed row, an image listed in
//! one file but not another, a duplicate row, a count line that disagrees
//! with the rows, a missing or corrupt image — is an error naming the file
//! and line. With `skip_bad`, bad rows and images are skipped instead and
//! listed in [`CelebaIndex::skipped`].
use super::attributes::{ATTRIBUTE_COUNT, ATTRIBUTE_NAMES, LANDMARK_COLUMNS};
use super::{FaceSample, Rgb};
use crate::data::LANDMARK_OUTPUTS;
use rayon::prelude::*;
use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// Landmark list file name.
pub const LANDMARKS_FILE: &str = "list_landmarks_align_celeba.txt";
/// Attribute list file name.
pub const ATTRIBUTES_FILE: &str = "list_attr_celeba.txt";
/// Partition list file name.
pub const PARTITION_FILE: &str = "list_eval_partition.txt";
/// Image folder name.
pub const IMAGE_DIR: &str = "img_align_celeba";
/// Written by the synthetic generator: the attribute names it models (the
/// others are unknown and left out of losses and metrics).
pub const MODELLED_ATTRIBUTES_FILE: &str = "synthetic_attributes.txt";

/// A data problem, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when the problem is in a row.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl DataError {
    fn new(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        DataError {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for DataError {}

/// Official split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Partition {
    /// `0` in `list_eval_partition.txt`.
    Train,
    /// `1`.
    Val,
    /// `2`.
    Test,
}

impl Partition {
    /// Parses `train|val|test`.
    pub fn parse(name: &str) -> Option<Partition> {
        match name.to_ascii_lowercase().as_str() {
            "train" | "0" => Some(Partition::Train),
            "val" | "valid" | "validation" | "1" => Some(Partition::Val),
            "test" | "2" => Some(Partition::Test),
            _ => None,
        }
    }

    /// `train`, `val` or `test`.
    pub fn name(&self) -> &'static str {
        match self {
            Partition::Train => "train",
            Partition::Val => "val",
            Partition::Test => "test",
        }
    }
}

/// `partitions train+val, ids 1–2800, first 50 %` (or `all`).
impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.partitions.is_empty() {
            let names: Vec<&str> = self.partitions.iter().map(Partition::name).collect();
            parts.push(format!("partitions {}", names.join("+")));
        }
        if let Some(ids) = &self.ids {
            parts.push(format!("ids {}–{}", ids.start(), ids.end()));
        }
        if let Some(fraction) = self.fraction {
            parts.push(format!("first {:.0} %", 100.0 * fraction));
        }
        if parts.is_empty() {
            parts.push("all".into());
        }
        f.write_str(&parts.join(", "))
    }
}

/// One labelled image of the index (no pixels yet).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Numeric id from the file name (`000123.jpg` → 123).
    pub id: u32,
    /// File name in `img_align_celeba/`.
    pub file: String,
    /// `(x0, y0, …)` in pixels of the 178×218 image.
    pub landmarks: [f32; LANDMARK_OUTPUTS],
    /// `+1`, `−1`, or `0` (unknown), CelebA order.
    pub attributes: [i8; ATTRIBUTE_COUNT],
    /// Official split.
    pub partition: Partition,
}

/// Something `skip_bad` left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Where.
    pub error: DataError,
}

/// The joined lists of a CelebA folder.
#[derive(Clone, Debug)]
pub struct CelebaIndex {
    /// The folder.
    pub root: PathBuf,
    /// Entries in file-name order.
    pub entries: Vec<Entry>,
    /// What `skip_bad` left out (empty otherwise).
    pub skipped: Vec<Skipped>,
    /// Attribute indices with labels (all 40 for CelebA; the modelled subset
    /// for synthetic data).
    pub known_attributes: Vec<usize>,
}

/// Which entries to use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Selection {
    /// Partitions to keep (empty: all).
    pub partitions: Vec<Partition>,
    /// Inclusive id range.
    pub ids: Option<RangeInclusive<u32>>,
    /// Keep the first `fraction` (0–1] of what remains, in id order.
    pub fraction: Option<f64>,
}

/// A parsed list file.
struct Table {
    path: PathBuf,
    /// Column names (without the file-name column); empty when the file has no header.
    columns: Vec<String>,
    rows: Vec<Row>,
}

struct Row {
    line: usize,
    file: String,
    values: Vec<String>,
}

fn is_image_name(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    lower.ends_with(".jpg") || lower.ends_with(".jpeg") || lower.ends_with(".png")
}

/// Reads a list file in the official or CSV layout. `values` is the number of
/// values per row when the file has no header.
fn read_table(path: &Path, values: usize, skip_bad: bool, skipped: &mut Vec<Skipped>) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::new(path, None, format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| DataError::new(path, None, format!("not UTF-8 text: {e}")))?;
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let csv = lines
        .peek()
        .is_some_and(|(_, l)| l.contains(',') && l.trim_start().to_ascii_lowercase().starts_with("image_id"));
    let split = |l: &str| -> Vec<String> {
        if csv {
            l.split(',').map(|t| t.trim().to_string()).collect()
        } else {
            l.split_whitespace().map(str::to_string).collect()
        }
    };
    let mut declared: Option<(usize, usize)> = None;
    let mut columns = Vec::new();
    if csv {
        if let Some((_, l)) = lines.next() {
            columns = split(l).into_iter().skip(1).collect();
        }
    } else {
        if let Some(&(line, l)) = lines.peek() {
            let tokens = split(l);
            if let [count] = tokens.as_slice() {
                let n = count
                    .parse::<usize>()
                    .map_err(|_| DataError::new(path, Some(line), format!("expected a row count, found '{count}'")))?;
                declared = Some((line, n));
                lines.next();
            }
        }
        if let Some(&(_, l)) = lines.peek() {
            let tokens = split(l);
            if tokens.first().is_some_and(|t| !is_image_name(t)) {
                columns = tokens;
                lines.next();
            }
        }
    }
    let width = if columns.is_empty() { values } else { columns.len() };
    let mut rows = Vec::new();
    for (line, l) in lines {
        let mut tokens = split(l);
        let problem = if tokens.len() != width + 1 {
            Some(format!(
                "expected an image name and {width} values, found {} fields",
                tokens.len()
            ))
        } else if !tokens.first().is_some_and(|t| is_image_name(t)) {
            Some(format!(
                "expected an image file name first, found '{}'",
                tokens.first().map_or("", |t| t.as_str())
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            let err = DataError::new(path, Some(line), message);
            if skip_bad {
                skipped.push(Skipped { error: err });
                continue;
            }
            return Err(err);
        }
        let file = tokens.remove(0);
        rows.push(Row {
            line,
            file,
            values: tokens,
        });
    }
    if let Some((line, n)) = declared {
        let found = rows.len() + skipped.iter().filter(|s| s.error.path == path).count();
        if n != found {
            let err = DataError::new(
                path,
                Some(line),
                format!("the count line says {n} rows but {found} follow"),
            );
            if !skip_bad {
                return Err(err);
            }
            skipped.push(Skipped { error: err });
        }
    }
    Ok(Table {
        path: path.to_path_buf(),
        columns,
        rows,
    })
}

/// Parses a row's values with `parse`, reporting the first bad one.
fn parse_values<T, const N: usize>(
    table: &Table,
    row: &Row,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<[T; N], DataError>
where
    T: Copy + Default,
{
    let mut out = [T::default(); N];
    for (i, (o, v)) in out.iter_mut().zip(&row.values).enumerate() {
        *o = parse(v).ok_or_else(|| {
            let col = table
                .columns
                .get(i)
                .map_or_else(|| format!("column {}", i + 2), |c| format!("'{c}'"));
            DataError::new(&table.path, Some(row.line), format!("{col}: '{v}' is not {what}"))
        })?;
    }
    Ok(out)
}

/// Keyed rows of one table; a duplicate file name is an error.
fn by_file(table: &Table) -> Result<HashMap<&str, &Row>, DataError> {
    let mut map = HashMap::with_capacity(table.rows.len());
    for row in &table.rows {
        if let Some(first) = map.insert(row.file.as_str(), row) {
            return Err(DataError::new(
                &table.path,
                Some(row.line),
                format!("{} is listed twice (first on line {})", row.file, first.line),
            ));
        }
    }
    Ok(map)
}

fn image_id(table: &Table, row: &Row) -> Result<u32, DataError> {
    let stem = row.file.rsplit_once('.').map_or(row.file.as_str(), |(s, _)| s);
    stem.parse::<u32>().map_err(|_| {
        DataError::new(
            &table.path,
            Some(row.line),
            format!("image name '{}' is not numeric (like 000001.jpg)", row.file),
        )
    })
}

/// Maps the attribute table's columns to CelebA order by name.
fn attribute_columns(table: &Table) -> Result<Vec<usize>, DataError> {
    if table.columns.is_empty() {
        return Ok((0..ATTRIBUTE_COUNT).collect());
    }
    ATTRIBUTE_NAMES
        .iter()
        .map(|name| {
            table
                .columns
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| DataError::new(&table.path, None, format!("header has no column '{name}'")))
        })
        .collect()
}

/// Reads and joins the three lists of a CelebA folder.
pub fn load_index(root: &Path, skip_bad: bool) -> Result<CelebaIndex, DataError> {
    let mut skipped = Vec::new();
    let landmarks = read_table(&root.join(LANDMARKS_FILE), 10, skip_bad, &mut skipped)?;
    let attrs = read_table(&root.join(ATTRIBUTES_FILE), ATTRIBUTE_COUNT, skip_bad, &mut skipped)?;
    let parts = read_table(&root.join(PARTITION_FILE), 1, skip_bad, &mut skipped)?;
    if !landmarks.columns.is_empty() && landmarks.columns.iter().map(String::as_str).ne(LANDMARK_COLUMNS) {
        return Err(DataError::new(
            &landmarks.path,
            None,
            format!("unexpected header, expected: {}", LANDMARK_COLUMNS.join(" ")),
        ));
    }
    let attr_cols = attribute_columns(&attrs)?;
    let known_attributes = modelled_attributes(root)?;
    let (lm_rows, part_rows) = (by_file(&landmarks)?, by_file(&parts)?);
    let attr_rows = by_file(&attrs)?;
    let mut entries = Vec::with_capacity(attrs.rows.len());
    let fail = |err: DataError, skipped: &mut Vec<Skipped>| -> Result<(), DataError> {
        if skip_bad {
            skipped.push(Skipped { error: err });
            Ok(())
        } else {
            Err(err)
        }
    };
    for row in &attrs.rows {
        let entry = (|| {
            let id = image_id(&attrs, row)?;
            let missing = |other: &Table| {
                DataError::new(
                    &attrs.path,
                    Some(row.line),
                    format!("{} has no row in {}", row.file, other.path.display()),
                )
            };
            let lm_row = lm_rows.get(row.file.as_str()).ok_or_else(|| missing(&landmarks))?;
            let part_row = part_rows.get(row.file.as_str()).ok_or_else(|| missing(&parts))?;
            let lm: [f32; LANDMARK_OUTPUTS] = parse_values(
                &landmarks,
                lm_row,
                |v| v.parse::<f32>().ok().filter(|x| x.is_finite()),
                "a number",
            )?;
            let raw: [i8; ATTRIBUTE_COUNT] = {
                let ordered = Row {
                    line: row.line,
                    file: row.file.clone(),
                    values: attr_cols
                        .iter()
                        .map(|&c| row.values.get(c).cloned().unwrap_or_default())
                        .collect(),
                };
                parse_values(
                    &attrs,
                    &ordered,
                    |v| v.parse::<i8>().ok().filter(|x| (-1..=1).contains(x)),
                    "-1, 0 or 1",
                )?
            };
            let [p]: [u8; 1] = parse_values(
                &parts,
                part_row,
                |v| v.parse::<u8>().ok().filter(|&x| x <= 2),
                "0, 1 or 2",
            )?;
            let partition = match p {
                0 => Partition::Train,
                1 => Partition::Val,
                _ => Partition::Test,
            };
            let mut attributes = [0i8; ATTRIBUTE_COUNT];
            for &k in &known_attributes {
                if let (Some(a), Some(&v)) = (attributes.get_mut(k), raw.get(k)) {
                    *a = v;
                }
            }
            Ok(Entry {
                id,
                file: row.file.clone(),
                landmarks: lm,
                attributes,
                partition,
            })
        })();
        match entry {
            Ok(e) => entries.push(e),
            Err(err) => fail(err, &mut skipped)?,
        }
    }
    for (table, rows) in [(&landmarks, &lm_rows), (&parts, &part_rows)] {
        let mut extra: Vec<&&Row> = rows
            .iter()
            .filter(|(f, _)| !attr_rows.contains_key(*f))
            .map(|(_, r)| r)
            .collect();
        extra.sort_by_key(|r| r.line);
        for row in extra {
            let err = DataError::new(
                &table.path,
                Some(row.line),
                format!("{} has no row in {}", row.file, attrs.path.display()),
            );
            fail(err, &mut skipped)?;
        }
    }
    entries.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(CelebaIndex {
        root: root.to_path_buf(),
        entries,
        skipped,
        known_attributes,
    })
}

/// Attribute indices with labels: all 40, or those listed in the synthetic
/// generator's sidecar file.
pub fn modelled_attributes(root: &Path) -> Result<Vec<usize>, DataError> {
    let path = root.join(MODELLED_ATTRIBUTES_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok((0..ATTRIBUTE_COUNT).collect());
    };
    let mut known = Vec::new();
    for (i, name) in text.lines().map(str::trim).enumerate().filter(|(_, n)| !n.is_empty()) {
        let k = super::attributes::attribute_index(name)
            .ok_or_else(|| DataError::new(&path, Some(i + 1), format!("unknown attribute '{name}'")))?;
        known.push(k);
    }
    Ok(known)
}

impl CelebaIndex {
    /// The entries `selection` keeps, in id order.
    pub fn select(&self, selection: &Selection) -> Vec<&Entry> {
        let mut picked: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| selection.partitions.is_empty() || selection.partitions.contains(&e.partition))
            .filter(|e| selection.ids.as_ref().is_none_or(|r| r.contains(&e.id)))
            .collect();
        picked.sort_by_key(|e| e.id);
        if let Some(f) = selection.fraction {
            let keep = ((picked.len() as f64) * f.clamp(0.0, 1.0)).round() as usize;
            picked.truncate(keep.max(usize::from(!picked.is_empty() && f > 0.0)));
        }
        picked
    }

    /// What the folder holds: rows per partition and the id range, e.g.
    /// `5894 train, 0 val, 0 test rows (ids 1–5894)`.
    pub fn summary(&self) -> String {
        let count = |p: Partition| self.entries.iter().filter(|e| e.partition == p).count();
        let ids = match (
            self.entries.iter().map(|e| e.id).min(),
            self.entries.iter().map(|e| e.id).max(),
        ) {
            (Some(a), Some(b)) => format!(" (ids {a}–{b})"),
            _ => String::new(),
        };
        format!(
            "{} train, {} val, {} test rows{ids}",
            count(Partition::Train),
            count(Partition::Val),
            count(Partition::Test)
        )
    }

    /// Path of an entry's image.
    pub fn image_path(&self, entry: &Entry) -> PathBuf {
        self.root.join(IMAGE_DIR).join(&entry.file)
    }

    /// Decodes the images of `entries` in parallel. A missing or corrupt
    /// image is an error naming it, or with `skip_bad` a [`Skipped`] item.
    pub fn load(&self, entries: &[&Entry], skip_bad: bool) -> Result<(Vec<FaceSample>, Vec<Skipped>), DataError> {
        let results: Vec<Result<FaceSample, DataError>> = entries
            .par_iter()
            .map(|e| {
                let path = self.image_path(e);
                let image = read_rgb(&path)?;
                Ok(FaceSample {
                    image,
                    landmarks: e.landmarks,
                    attributes: e.attributes,
                })
            })
            .collect();
        let mut samples = Vec::with_capacity(results.len());
        let mut skipped = Vec::new();
        for r in results {
            match r {
                Ok(s) => samples.push(s),
                Err(error) if skip_bad => skipped.push(Skipped { error }),
                Err(error) => return Err(error),
            }
        }
        Ok((samples, skipped))
    }
}

/// Decodes an image file to RGB. A JPEG must end with its end-of-image
/// marker: the decoder would otherwise fill a truncated file with grey.
pub fn read_rgb(path: &Path) -> Result<Rgb, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::new(path, None, format!("cannot open image: {e}")))?;
    let format = image::guess_format(&bytes).map_err(|e| DataError::new(path, None, format!("not an image: {e}")))?;
    if format == image::ImageFormat::Jpeg {
        let tail = &bytes[bytes.len().saturating_sub(64)..];
        if !tail.windows(2).any(|w| w == [0xFF, 0xD9]) {
            return Err(DataError::new(path, None, "truncated JPEG (no end-of-image marker)"));
        }
    }
    let img = image::load_from_memory_with_format(&bytes, format)
        .map_err(|e| DataError::new(path, None, format!("corrupt image: {e}")))?
        .to_rgb8();
    Ok(Rgb {
        width: img.width() as usize,
        height: img.height() as usize,
        pixels: img.into_raw(),
    })
}
