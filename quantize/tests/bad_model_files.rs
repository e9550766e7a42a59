//! Corrupted or mismatched float model files give errors naming the file and
//! the tensor or metadata key, never a panic.
mod common;

use safetensors::Dtype;
use smn_quantize::error::ModelFileProblem;
use smn_quantize::{Arch, FloatModel, FloatTensor, Variant};
use std::collections::HashMap;

const NAME: &str = "runs/x/model.safetensors";

fn model() -> FloatModel {
    FloatModel::random(&Arch::tiny(), Variant::Smn1x1, 2)
}

/// A safetensors file written without any of FloatModel's checks.
fn raw(meta: &[(&str, String)], tensors: &[(String, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let meta: HashMap<String, String> = meta.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn meta_of(m: &FloatModel) -> Vec<(&'static str, String)> {
    vec![
        ("format", "smn-float/1".into()),
        ("arch", serde_json::to_string(&m.arch).unwrap()),
        ("variant", m.variant.name().into()),
        ("pixel_mean", "127.5".into()),
        ("pixel_std", "127.5".into()),
        ("bn_epsilon", "0.00001".into()),
    ]
}

fn tensors_of(m: &FloatModel) -> Vec<(String, Dtype, Vec<usize>, Vec<u8>)> {
    m.tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                Dtype::F32,
                t.shape.clone(),
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect()
}

fn err(bytes: &[u8]) -> smn_quantize::ModelFileError {
    let e = FloatModel::from_bytes(bytes, NAME).unwrap_err();
    assert_eq!(e.file, NAME);
    assert!(e.to_string().starts_with(NAME), "{e}");
    e
}

#[test]
fn the_raw_writer_produces_a_valid_file() {
    let m = model();
    let back = FloatModel::from_bytes(&raw(&meta_of(&m), &tensors_of(&m)), NAME).unwrap();
    assert_eq!(back.tensors, m.tensors);
}

#[test]
fn truncated_files_are_errors() {
    let bytes = model().to_bytes().unwrap();
    let header = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for len in [
        0,
        3,
        8,
        9,
        100,
        header + 7,
        header + 8,
        header + 9,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let e = err(&bytes[..len]);
        assert!(matches!(e.problem, ModelFileProblem::Safetensors(_)), "{len}: {e}");
    }
    // One extra byte is as wrong as one missing.
    let mut longer = bytes.clone();
    longer.push(0);
    err(&longer);
}

#[test]
fn a_broken_header_is_an_error() {
    let bytes = model().to_bytes().unwrap();
    let mut b = bytes.clone();
    let brace = b[8..].iter().position(|&c| c == b'{').unwrap() + 8;
    b[brace] = b'X';
    assert!(err(&b).to_string().contains("JSON"), "{}", err(&b));
    // A header length beyond the file.
    let mut b = bytes.clone();
    b[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    err(&b);
}

#[test]
fn shape_dtype_and_name_problems_name_the_tensor() {
    let m = model();
    let meta = meta_of(&m);
    let base = tensors_of(&m);
    let target = "branches.1.blocks.1.conv.weight";

    // Wrong shape (same byte count: transposed).
    let mut t = base.clone();
    let e = t.iter_mut().find(|x| x.0 == target).unwrap();
    e.2 = vec![e.2[1], e.2[0], e.2[2], e.2[3]];
    let err1 = err(&raw(&meta, &t));
    assert!(
        matches!(&err1.problem, ModelFileProblem::WrongShape { tensor, expected, found }
        if tensor == target && expected == &vec![16, 8, 3, 3] && found == &vec![8, 16, 3, 3]),
        "{err1}"
    );
    assert!(err1.to_string().contains("[16, 8, 3, 3]"));

    // Missing tensor.
    let t: Vec<_> = base.iter().filter(|x| x.0 != target).cloned().collect();
    let e = err(&raw(&meta, &t));
    assert!(
        matches!(&e.problem, ModelFileProblem::MissingTensor { tensor, .. } if tensor == target),
        "{e}"
    );

    // Unexpected tensor.
    let mut t = base.clone();
    t.push(("branches.2.fuse.0.weight".into(), Dtype::F32, vec![1], vec![0; 4]));
    let e = err(&raw(&meta, &t));
    assert!(
        matches!(&e.problem, ModelFileProblem::UnexpectedTensor { tensor, .. } if tensor == "branches.2.fuse.0.weight"),
        "{e}"
    );

    // Wrong dtype.
    let mut t = base.clone();
    let e = t.iter_mut().find(|x| x.0 == target).unwrap();
    e.1 = Dtype::F64;
    e.2 = vec![e.3.len() / 8];
    let e = err(&raw(&meta, &t));
    assert!(
        matches!(&e.problem, ModelFileProblem::WrongDtype { tensor, .. } if tensor == target),
        "{e}"
    );

    // A NaN.
    let mut t = base.clone();
    let e = t.iter_mut().find(|x| x.0 == target).unwrap();
    e.3[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    let e = err(&raw(&meta, &t));
    assert!(
        matches!(&e.problem, ModelFileProblem::NonFinite { tensor, index: 2 } if tensor == target),
        "{e}"
    );
}

#[test]
fn metadata_problems_name_the_key() {
    let m = model();
    let t = tensors_of(&m);
    let with = |key: &str, value: Option<&str>| {
        let mut meta = meta_of(&m);
        meta.retain(|(k, _)| *k != key);
        if let Some(v) = value {
            meta.push((Box::leak(key.to_string().into_boxed_str()), v.into()));
        }
        err(&raw(&meta, &t))
    };
    for key in ["format", "arch", "variant", "pixel_mean", "pixel_std", "bn_epsilon"] {
        let e = with(key, None);
        assert!(
            matches!(&e.problem, ModelFileProblem::MissingMetadata { key: k } if k == key),
            "{e}"
        );
    }
    let bad = [
        ("format", "smn-float/2"),
        ("arch", "{\"input_size\":32"),
        (
            "arch",
            "{\"input_size\":30,\"channels\":[8,16],\"kernel_size\":3,\"batch_norm\":true,\"hidden\":16}",
        ),
        (
            "arch",
            "{\"input_size\":32,\"channels\":[8,16],\"kernel_size\":4,\"batch_norm\":true,\"hidden\":16}",
        ),
        (
            "arch",
            "{\"input_size\":32,\"channels\":[8,16],\"kernel_size\":3,\"batch_norm\":true,\"hidden\":16,\"x\":1}",
        ),
        ("variant", "smn-2x2"),
        ("pixel_mean", "abc"),
        ("pixel_std", "0"),
        ("bn_epsilon", "NaN"),
    ];
    for (key, value) in bad {
        let e = with(key, Some(value));
        assert!(
            matches!(&e.problem, ModelFileProblem::BadMetadata { key: k, .. } if k == key),
            "{key}={value}: {e}"
        );
    }
}

#[test]
fn a_variant_mismatch_is_an_error() {
    // The tensors of an smn-1x1 model labelled `smn` (branch layers 2C wide, no fuse).
    let m = model();
    let mut meta = meta_of(&m);
    meta.retain(|(k, _)| *k != "variant");
    meta.push(("variant", "smn".into()));
    let e = err(&raw(&meta, &tensors_of(&m)));
    assert!(
        matches!(&e.problem, ModelFileProblem::WrongShape { tensor, .. } if tensor == "branches.0.blocks.1.conv.weight"),
        "{e}"
    );
    // … and labelled `mtl`: stage-1 heads are missing.
    meta.retain(|(k, _)| *k != "variant");
    meta.push(("variant", "mtl".into()));
    let e = err(&raw(&meta, &tensors_of(&m)));
    assert!(
        matches!(&e.problem, ModelFileProblem::MissingTensor { tensor, .. } if tensor.starts_with("heads.")),
        "{e}"
    );
    // Architecture mismatch: micro metadata, tiny tensors.
    let mut meta = meta_of(&m);
    meta.retain(|(k, _)| *k != "arch");
    meta.push(("arch", serde_json::to_string(&Arch::micro()).unwrap()));
    let e = err(&raw(&meta, &tensors_of(&m)));
    assert!(matches!(e.problem, ModelFileProblem::WrongShape { .. }), "{e}");
}

#[test]
fn random_corruption_never_panics() {
    let bytes = model().to_bytes().unwrap();
    let mut rng = smn_firmware_core::builder::Rng::new(77);
    let mut errors = 0;
    for _ in 0..400 {
        let mut b = bytes.clone();
        let header = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize + 8;
        for _ in 0..1 + rng.below(4) {
            // Mostly in the header, where the structure is.
            let i = if rng.below(4) == 0 {
                rng.below(b.len() as u64)
            } else {
                rng.below(header as u64)
            } as usize;
            b[i] = rng.next_u64() as u8;
        }
        if FloatModel::from_bytes(&b, NAME).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 100, "{errors}");
}

#[test]
fn in_memory_models_are_validated_before_writing() {
    let mut m = model();
    m.tensors.get_mut("shared.0.conv.bias").unwrap().data.pop();
    let e = m.to_bytes().unwrap_err();
    assert!(
        matches!(&e.problem, ModelFileProblem::WrongLength { tensor, .. } if tensor == "shared.0.conv.bias"),
        "{e}"
    );
    let mut m = model();
    m.tensors.insert(
        "extra".into(),
        FloatTensor {
            shape: vec![1],
            data: vec![0.0],
        },
    );
    let dir = common::scratch("bad-write");
    let path = dir.join("m.safetensors");
    let e = m.write(&path).unwrap_err();
    assert!(
        e.to_string().contains("m.safetensors") && e.to_string().contains("extra"),
        "{e}"
    );
    assert!(!path.exists());
    let e = FloatModel::read(dir.join("missing.safetensors")).unwrap_err();
    assert!(matches!(e.problem, ModelFileProblem::Io(_)) && e.file.contains("missing.safetensors"));
}
