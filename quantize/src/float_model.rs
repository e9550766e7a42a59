//! The float model file (`docs/float-model.md`): a safetensors file of `f32`
//! tensors with PyTorch names and layouts plus string metadata.
use crate::error::{ModelFileError, ModelFileProblem};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use smn_firmware_core::builder::Rng;
use smn_firmware_core::{ATTRIBUTE_COUNT, LANDMARK_COUNT};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Value of the `format` metadata key this crate reads and writes.
pub const FORMAT: &str = "smn-float/1";
/// Landmark head outputs: (x, y) of each of firmware-core's
/// [`LANDMARK_COUNT`] landmarks.
pub const LANDMARK_OUTPUTS: usize = 2 * LANDMARK_COUNT;
/// Attribute head outputs: one logit per firmware-core [`ATTRIBUTE_COUNT`] attribute.
pub const ATTRIBUTE_OUTPUTS: usize = ATTRIBUTE_COUNT;
/// Outputs of task `t` (0 = landmarks, 1 = attributes).
pub const TASK_OUTPUTS: [usize; 2] = [LANDMARK_OUTPUTS, ATTRIBUTE_OUTPUTS];

/// Largest sizes accepted from a file (guards shape arithmetic and allocations).
const MAX_INPUT_SIZE: usize = 4096;
const MAX_CHANNELS: usize = 8192;
const MAX_KERNEL: usize = 15;
const MAX_LEVELS: usize = 12;
const MAX_HIDDEN: usize = 65_536;

/// The network's sizes (metadata key `arch`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    /// Side of the square RGB input.
    pub input_size: usize,
    /// Output channels of each conv level.
    pub channels: Vec<usize>,
    /// Conv kernel size (odd).
    pub kernel_size: usize,
    /// Batch norm after each conv.
    pub batch_norm: bool,
    /// Hidden units of each head.
    pub hidden: usize,
}

impl Arch {
    /// Cortex-M4-sized: 64×64 input, levels 16-32-32-64, hidden 64.
    pub fn micro() -> Self {
        Arch {
            input_size: 64,
            channels: vec![16, 32, 32, 64],
            kernel_size: 3,
            batch_norm: true,
            hidden: 64,
        }
    }

    /// For fast tests: 32×32 input, levels 8-16, hidden 16.
    pub fn tiny() -> Self {
        Arch {
            input_size: 32,
            channels: vec![8, 16],
            kernel_size: 3,
            batch_norm: true,
            hidden: 16,
        }
    }

    /// The paper's: 128×128 input, levels 32-64-128-256, hidden 256.
    pub fn paper() -> Self {
        Arch {
            input_size: 128,
            channels: vec![32, 64, 128, 256],
            kernel_size: 3,
            batch_norm: true,
            hidden: 256,
        }
    }

    /// [`Arch::micro`]'s input and depth, wider: levels 24-48-48-64, hidden
    /// 128 — twice the MACs, a 36 KiB arena for `mtl`; the accuracy the
    /// study's recipe reaches on real faces (docs/results.md).
    pub fn micro_wide() -> Self {
        Arch {
            channels: vec![24, 48, 48, 64],
            hidden: 128,
            ..Self::micro()
        }
    }

    /// Side of the last level's output (`input_size / 2^L`).
    pub fn final_size(&self) -> usize {
        self.input_size.checked_shr(self.channels.len() as u32).unwrap_or(0)
    }

    /// Flattened features entering a head, `F = C_L · s · s`.
    pub fn flat_features(&self) -> usize {
        let s = self.final_size();
        self.channels.last().copied().unwrap_or(0) * s * s
    }

    /// Checks the sizes are usable (and small enough that no shape overflows).
    pub fn check(&self) -> Result<(), String> {
        let levels = self.channels.len();
        if levels == 0 || levels > MAX_LEVELS {
            return Err(format!("{levels} conv levels (need 1..={MAX_LEVELS})"));
        }
        if let Some(c) = self.channels.iter().find(|&&c| c == 0 || c > MAX_CHANNELS) {
            return Err(format!("{c} channels (need 1..={MAX_CHANNELS})"));
        }
        if self.kernel_size.is_multiple_of(2) || self.kernel_size > MAX_KERNEL {
            return Err(format!(
                "kernel size {} must be odd and ≤ {MAX_KERNEL}",
                self.kernel_size
            ));
        }
        if self.input_size == 0 || self.input_size > MAX_INPUT_SIZE {
            return Err(format!("input size {} (need 1..={MAX_INPUT_SIZE})", self.input_size));
        }
        if !self.input_size.is_multiple_of(1usize << levels) {
            return Err(format!(
                "input size {} must be divisible by 2^{levels}",
                self.input_size
            ));
        }
        if self.hidden == 0 || self.hidden > MAX_HIDDEN {
            return Err(format!("hidden {} (need 1..={MAX_HIDDEN})", self.hidden));
        }
        Ok(())
    }
}

/// Which network the file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Variant {
    /// Stage 1: shared levels and one head per task.
    #[serde(rename = "mtl")]
    Mtl,
    /// Stage 2 without 1×1: branch levels ≥ 1 and heads take the raw concat.
    #[serde(rename = "smn")]
    Smn,
    /// Stage 2 with a 1×1 after every concat.
    #[serde(rename = "smn-1x1")]
    Smn1x1,
    /// Stage 2 with 1×1, fine-tuned from stage 1 (same tensors as `smn-1x1`).
    #[serde(rename = "smn-1x1-ft")]
    Smn1x1Ft,
}

impl Variant {
    /// All variants.
    pub const ALL: [Variant; 4] = [Variant::Mtl, Variant::Smn, Variant::Smn1x1, Variant::Smn1x1Ft];

    /// The file / CLI name.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Mtl => "mtl",
            Variant::Smn => "smn",
            Variant::Smn1x1 => "smn-1x1",
            Variant::Smn1x1Ft => "smn-1x1-ft",
        }
    }

    /// Parses a file / CLI name.
    pub fn parse(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Stage-2 variants with a 1×1 after each concat.
    pub fn has_1x1(&self) -> bool {
        matches!(self, Variant::Smn1x1 | Variant::Smn1x1Ft)
    }

    /// Stage-2 variants (branches instead of stage-1 heads).
    pub fn is_stage2(&self) -> bool {
        !matches!(self, Variant::Mtl)
    }
}

/// One `f32` tensor: row-major (C order) values with a shape.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values.
    pub data: Vec<f32>,
}

/// A float network as exported by `smn export`.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatModel {
    /// Sizes.
    pub arch: Arch,
    /// Which network.
    pub variant: Variant,
    /// The network sees `(pixel − pixel_mean) / pixel_std`.
    pub pixel_mean: f32,
    /// See `pixel_mean`.
    pub pixel_std: f32,
    /// Batch-norm epsilon.
    pub bn_epsilon: f32,
    /// Tensors by name (see [`expected_tensors`]).
    pub tensors: BTreeMap<String, FloatTensor>,
}

/// What a conv level's tensors are called: `{prefix}.conv.*`, `{prefix}.bn.*`.
pub(crate) fn conv_tensors(prefix: &str, cout: usize, cin: usize, arch: &Arch) -> Vec<(String, Vec<usize>)> {
    let k = arch.kernel_size;
    let mut v = vec![
        (format!("{prefix}.conv.weight"), vec![cout, cin, k, k]),
        (format!("{prefix}.conv.bias"), vec![cout]),
    ];
    if arch.batch_norm {
        for p in ["weight", "bias", "running_mean", "running_var"] {
            v.push((format!("{prefix}.bn.{p}"), vec![cout]));
        }
    }
    v
}

/// Every tensor `arch` and `variant` need, with its documented shape
/// (`docs/float-model.md`), in network order. `arch` must pass [`Arch::check`].
pub fn expected_tensors(arch: &Arch, variant: Variant) -> Vec<(String, Vec<usize>)> {
    let mut v = Vec::new();
    let inputs: Vec<usize> = std::iter::once(3).chain(arch.channels.iter().copied()).collect();
    for (l, (&c, &cin)) in arch.channels.iter().zip(&inputs).enumerate() {
        v.extend(conv_tensors(&format!("shared.{l}"), c, cin, arch));
    }
    let f = arch.flat_features();
    let head = |v: &mut Vec<(String, Vec<usize>)>, prefix: String, features: usize, outputs: usize| {
        v.push((format!("{prefix}.fc1.weight"), vec![arch.hidden, features]));
        v.push((format!("{prefix}.fc1.bias"), vec![arch.hidden]));
        v.push((format!("{prefix}.fc2.weight"), vec![outputs, arch.hidden]));
        v.push((format!("{prefix}.fc2.bias"), vec![outputs]));
    };
    if !variant.is_stage2() {
        for (t, &outputs) in TASK_OUTPUTS.iter().enumerate() {
            head(&mut v, format!("heads.{t}"), f, outputs);
        }
        return v;
    }
    for (t, &outputs) in TASK_OUTPUTS.iter().enumerate() {
        for (l, (&c, &cin)) in arch.channels.iter().zip(&inputs).enumerate() {
            let cin = if variant == Variant::Smn && l > 0 { 2 * cin } else { cin };
            v.extend(conv_tensors(&format!("branches.{t}.blocks.{l}"), c, cin, arch));
            if variant.has_1x1() {
                v.push((format!("branches.{t}.fuse.{l}.weight"), vec![c, 2 * c, 1, 1]));
                v.push((format!("branches.{t}.fuse.{l}.bias"), vec![c]));
            }
        }
        let features = if variant == Variant::Smn { 2 * f } else { f };
        head(&mut v, format!("branches.{t}.head"), features, outputs);
    }
    v
}

const IN_MEMORY: &str = "float model";

fn bad_meta(file: &str, key: &str, value: &str, reason: impl Into<String>) -> ModelFileError {
    ModelFileError::new(
        file,
        ModelFileProblem::BadMetadata {
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
        },
    )
}

fn parse_f32(file: &str, meta: &HashMap<String, String>, key: &str) -> Result<f32, ModelFileError> {
    let value = meta
        .get(key)
        .ok_or_else(|| ModelFileError::new(file, ModelFileProblem::MissingMetadata { key: key.into() }))?;
    let x: f32 = value
        .trim()
        .parse()
        .map_err(|e| bad_meta(file, key, value, format!("not a decimal number ({e})")))?;
    if !x.is_finite() {
        return Err(bad_meta(file, key, value, "not finite"));
    }
    Ok(x)
}

fn dtype_name(d: Dtype) -> String {
    format!("{d:?}")
}

impl FloatModel {
    /// Reads and validates a float model file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ModelFileError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ModelFileError::new(&name, ModelFileProblem::Io(e.to_string())))?;
        Self::from_bytes(&bytes, &name)
    }

    /// Parses and validates the bytes of a float model file; `source_name`
    /// names the file in errors.
    pub fn from_bytes(bytes: &[u8], source_name: &str) -> Result<Self, ModelFileError> {
        let file = source_name;
        let st_err =
            |e: safetensors::SafeTensorError| ModelFileError::new(file, ModelFileProblem::Safetensors(e.to_string()));
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(st_err)?;
        let tensors = SafeTensors::deserialize(bytes).map_err(st_err)?;
        let empty = HashMap::new();
        let meta = metadata.metadata().as_ref().unwrap_or(&empty);
        let get = |key: &str| {
            meta.get(key)
                .ok_or_else(|| ModelFileError::new(file, ModelFileProblem::MissingMetadata { key: key.into() }))
        };
        let format = get("format")?;
        if format != FORMAT {
            return Err(bad_meta(file, "format", format, format!("expected `{FORMAT}`")));
        }
        let arch_json = get("arch")?;
        let arch: Arch =
            serde_json::from_str(arch_json).map_err(|e| bad_meta(file, "arch", arch_json, e.to_string()))?;
        arch.check().map_err(|e| bad_meta(file, "arch", arch_json, e))?;
        let variant_name = get("variant")?;
        let variant = Variant::parse(variant_name).ok_or_else(|| {
            bad_meta(
                file,
                "variant",
                variant_name,
                "expected mtl, smn, smn-1x1 or smn-1x1-ft",
            )
        })?;
        let pixel_mean = parse_f32(file, meta, "pixel_mean")?;
        let pixel_std = parse_f32(file, meta, "pixel_std")?;
        let bn_epsilon = parse_f32(file, meta, "bn_epsilon")?;

        let mut map = BTreeMap::new();
        for (name, view) in tensors.iter() {
            if view.dtype() != Dtype::F32 {
                return Err(ModelFileError::new(
                    file,
                    ModelFileProblem::WrongDtype {
                        tensor: name.to_string(),
                        dtype: dtype_name(view.dtype()),
                    },
                ));
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            map.insert(
                name.to_string(),
                FloatTensor {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
        let model = FloatModel {
            arch,
            variant,
            pixel_mean,
            pixel_std,
            bn_epsilon,
            tensors: map,
        };
        model.validate_named(file)?;
        Ok(model)
    }

    /// Checks metadata, names, shapes and values against `docs/float-model.md`.
    pub fn validate(&self) -> Result<(), ModelFileError> {
        self.validate_named(IN_MEMORY)
    }

    pub(crate) fn validate_named(&self, file: &str) -> Result<(), ModelFileError> {
        let arch_json = serde_json::to_string(&self.arch).unwrap_or_default();
        self.arch.check().map_err(|e| bad_meta(file, "arch", &arch_json, e))?;
        if !(self.pixel_std.is_finite() && self.pixel_std > 0.0) {
            return Err(bad_meta(
                file,
                "pixel_std",
                &self.pixel_std.to_string(),
                "must be finite and > 0",
            ));
        }
        if !self.pixel_mean.is_finite() {
            return Err(bad_meta(
                file,
                "pixel_mean",
                &self.pixel_mean.to_string(),
                "must be finite",
            ));
        }
        if !(self.bn_epsilon.is_finite() && self.bn_epsilon >= 0.0) {
            return Err(bad_meta(
                file,
                "bn_epsilon",
                &self.bn_epsilon.to_string(),
                "must be finite and ≥ 0",
            ));
        }
        let expected = expected_tensors(&self.arch, self.variant);
        for (name, shape) in &expected {
            let Some(t) = self.tensors.get(name) else {
                return Err(ModelFileError::new(
                    file,
                    ModelFileProblem::MissingTensor {
                        tensor: name.clone(),
                        expected: shape.clone(),
                    },
                ));
            };
            if &t.shape != shape {
                return Err(ModelFileError::new(
                    file,
                    ModelFileProblem::WrongShape {
                        tensor: name.clone(),
                        expected: shape.clone(),
                        found: t.shape.clone(),
                    },
                ));
            }
            let n: usize = shape.iter().product();
            if t.data.len() != n {
                return Err(ModelFileError::new(
                    file,
                    ModelFileProblem::WrongLength {
                        tensor: name.clone(),
                        expected: n,
                        found: t.data.len(),
                    },
                ));
            }
            if let Some(index) = t.data.iter().position(|v| !v.is_finite()) {
                return Err(ModelFileError::new(
                    file,
                    ModelFileProblem::NonFinite {
                        tensor: name.clone(),
                        index,
                    },
                ));
            }
            if name.ends_with(".bn.running_var") {
                if let Some(index) = t.data.iter().position(|&v| v < 0.0) {
                    return Err(ModelFileError::new(
                        file,
                        ModelFileProblem::BadMetadata {
                            key: name.clone(),
                            value: t.data.get(index).map(|v| v.to_string()).unwrap_or_default(),
                            reason: format!("negative running variance at index {index}"),
                        },
                    ));
                }
            }
        }
        if self.tensors.len() != expected.len() {
            let known: std::collections::BTreeSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
            if let Some((name, t)) = self.tensors.iter().find(|(n, _)| !known.contains(n.as_str())) {
                return Err(ModelFileError::new(
                    file,
                    ModelFileProblem::UnexpectedTensor {
                        tensor: name.clone(),
                        shape: t.shape.clone(),
                    },
                ));
            }
        }
        Ok(())
    }

    /// Tensor `name` (validated models hold every expected tensor).
    pub fn tensor(&self, name: &str) -> Result<&FloatTensor, ModelFileError> {
        self.tensors.get(name).ok_or_else(|| {
            ModelFileError::new(
                IN_MEMORY,
                ModelFileProblem::MissingTensor {
                    tensor: name.into(),
                    expected: Vec::new(),
                },
            )
        })
    }

    /// The metadata map written to the file.
    fn metadata(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("format".into(), FORMAT.into());
        m.insert("arch".into(), serde_json::to_string(&self.arch).unwrap_or_default());
        m.insert("variant".into(), self.variant.name().into());
        m.insert("pixel_mean".into(), self.pixel_mean.to_string());
        m.insert("pixel_std".into(), self.pixel_std.to_string());
        m.insert("bn_epsilon".into(), self.bn_epsilon.to_string());
        m
    }

    /// Encodes the model as a safetensors file (validated first). The
    /// encoding is deterministic: header keys and tensor data in name order.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelFileError> {
        self.validate()?;
        let mut header = serde_json::Map::new();
        let metadata: BTreeMap<String, String> = self.metadata().into_iter().collect();
        header.insert("__metadata__".into(), serde_json::json!(metadata));
        let mut offset = 0usize;
        for (name, t) in &self.tensors {
            let end = offset + 4 * t.data.len();
            header.insert(
                name.clone(),
                serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, end]}),
            );
            offset = end;
        }
        let mut json = serde_json::to_vec(&serde_json::Value::Object(header))
            .map_err(|e| ModelFileError::new(IN_MEMORY, ModelFileProblem::Safetensors(e.to_string())))?;
        // Pad the header with spaces so the data starts 8-byte aligned.
        json.resize(json.len().next_multiple_of(8), b' ');
        let mut bytes = Vec::with_capacity(8 + json.len() + offset);
        bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&json);
        for t in self.tensors.values() {
            bytes.extend(t.data.iter().flat_map(|v| v.to_le_bytes()));
        }
        Ok(bytes)
    }

    /// Writes the model atomically (temporary file in the same directory, then rename).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), ModelFileError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = self.to_bytes().map_err(|e| ModelFileError {
            file: name.clone(),
            ..e
        })?;
        let io = |e: std::io::Error| ModelFileError::new(&name, ModelFileProblem::Io(e.to_string()));
        let file_name = path
            .file_name()
            .ok_or_else(|| ModelFileError::new(&name, ModelFileProblem::Io("not a file path".into())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(file_name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let result = (|| {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }

    /// A random model (He-uniform weights, small biases, batch-norm
    /// statistics away from identity), deterministic for `seed`. Panics-free;
    /// `arch` must pass [`Arch::check`] for the result to validate.
    pub fn random(arch: &Arch, variant: Variant, seed: u64) -> FloatModel {
        let mut rng = Rng::new(seed);
        let mut u = move |lo: f64, hi: f64| (lo + (hi - lo) * rng.unit()) as f32;
        let mut tensors = BTreeMap::new();
        for (name, shape) in expected_tensors(arch, variant) {
            let n: usize = shape.iter().product();
            let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
            let he = (6.0 / fan_in as f64).sqrt();
            let data: Vec<f32> = if name.ends_with(".bn.weight") {
                (0..n).map(|_| u(0.6, 1.4)).collect()
            } else if name.ends_with(".bn.running_var") {
                (0..n).map(|_| u(0.3, 2.5)).collect()
            } else if name.ends_with(".bn.running_mean") || name.ends_with(".bn.bias") {
                (0..n).map(|_| u(-0.3, 0.3)).collect()
            } else if name.ends_with(".bias") {
                (0..n).map(|_| u(-0.1, 0.1)).collect()
            } else {
                (0..n).map(|_| u(-he, he)).collect()
            };
            tensors.insert(name, FloatTensor { shape, data });
        }
        FloatModel {
            arch: arch.clone(),
            variant,
            pixel_mean: 120.0,
            pixel_std: 60.0,
            bn_epsilon: 1e-5,
            tensors,
        }
    }
}
