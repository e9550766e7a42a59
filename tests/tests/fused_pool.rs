//! `Conv2dMaxPool` (format version 2): the fused conv + 2×2 max pool gives
//! the very bits of a separate conv and pool, in less arena; its shapes and
//! patch limit are validated; version-1 blobs still load.
use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, BuildError, SmnShape};
use smn_firmware_core::format::{Op, FORMAT_VERSION, MIN_FORMAT_VERSION, PREAMBLE_LEN};
use smn_firmware_core::kernels::conv2d::MAX_POOLED_PATCH;
use smn_firmware_core::{Error, Model, Outputs};
use smn_tests::seal_version;

/// Outputs of a run and the tensors written by the ops named `pooled_op`.
fn run(blob: &[u8], pooled_op: &str) -> (Outputs, Vec<Vec<i8>>, usize) {
    let model = Model::from_bytes(blob).unwrap();
    let names: Vec<&str> = model.ops().map(|op| op.unwrap().name()).collect();
    let image = synthetic_test_image(model.input_height(), model.input_width(), 5);
    let mut arena = vec![0u8; model.arena_bytes()];
    let mut pooled = Vec::new();
    let outputs = model
        .run_observed(&image, &mut arena, &mut |trace| {
            if names[trace.op_index] == pooled_op {
                pooled.push(trace.data.to_vec());
            }
        })
        .unwrap();
    (outputs, pooled, model.arena_bytes())
}

#[test]
fn fused_conv_pool_equals_separate_ops_bit_for_bit() {
    for (shape, seed) in [(SmnShape::micro(), 1u64), (SmnShape::micro(), 2), (SmnShape::tiny(), 3)] {
        let fused = SmnShape {
            fused_pool: true,
            ..shape.clone()
        };
        let separate = SmnShape {
            fused_pool: false,
            ..shape
        };
        let (out_f, pooled_f, arena_f) = run(&random_smn_blob(&fused, seed).unwrap(), "Conv2dMaxPool");
        let (out_s, pooled_s, arena_s) = run(&random_smn_blob(&separate, seed).unwrap(), "MaxPool2d");
        assert_eq!(out_f, out_s, "seed {seed}");
        assert!(!pooled_f.is_empty());
        assert_eq!(pooled_f, pooled_s, "seed {seed}: every pooled tensor");
        assert!(arena_f < arena_s, "fused arena {arena_f} B, separate {arena_s} B");
    }
}

#[test]
fn micro_arena_shrinks_with_fusion() {
    let arena = |fused_pool| {
        let shape = SmnShape {
            fused_pool,
            ..SmnShape::micro()
        };
        Model::from_bytes(&random_smn_blob(&shape, 1).unwrap())
            .unwrap()
            .arena_bytes()
    };
    // The 64×64×16 conv outputs (64 KiB each) are never stored; the peak
    // moves to the first level's three 32×32×16 outputs plus the input.
    let (fused, separate) = (arena(true), arena(false));
    assert!(fused + 32 * 1024 <= separate, "{fused} vs {separate}");
}

/// The micro blob with its payload edited by `edit` (one op rewritten).
fn with_first_fused_op(edit: impl FnOnce(&mut Op<'_>)) -> Result<(), Error> {
    let blob = random_smn_blob(&SmnShape::micro(), 1).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let mut payload = Vec::new();
    payload.extend(postcard::to_allocvec(model.header()).unwrap());
    for id in 1..model.tensor_count() {
        payload.extend(postcard::to_allocvec(model.tensor(id).unwrap()).unwrap());
    }
    let mut edit = Some(edit);
    for op in model.ops() {
        let mut op = op.unwrap();
        if matches!(op, Op::Conv2dMaxPool(_)) {
            if let Some(f) = edit.take() {
                f(&mut op);
            }
        }
        payload.extend(postcard::to_allocvec(&op).unwrap());
    }
    assert!(edit.is_none(), "the micro model has a fused op");
    Model::from_bytes(&seal_version(&payload, FORMAT_VERSION)).map(|_| ())
}

#[test]
fn fused_op_shapes_are_validated() {
    assert_eq!(with_first_fused_op(|_| {}), Ok(()));
    // An unpooled output tensor: the conv's own size does not match.
    let as_unfused = with_first_fused_op(|op| {
        if let Op::Conv2dMaxPool(c) = *op {
            *op = Op::Conv2dMaxPool(smn_firmware_core::format::Conv2d {
                window: smn_firmware_core::format::Window::square(3, 2, 1),
                ..c
            });
        }
    });
    assert!(matches!(as_unfused, Err(Error::ShapeMismatch { .. })), "{as_unfused:?}");
    // The same op as a plain Conv2d: its output is the pooled size, not the conv's.
    let plain = with_first_fused_op(|op| {
        if let Op::Conv2dMaxPool(c) = *op {
            *op = Op::Conv2d(c);
        }
    });
    assert!(matches!(plain, Err(Error::ShapeMismatch { .. })), "{plain:?}");
}

#[test]
fn fused_patch_limit_is_half_the_plain_one() {
    assert_eq!(MAX_POOLED_PATCH * 2, smn_firmware_core::kernels::dot::MAX_PATCH);
    // 3×3 × 120 channels = 1080 taps: fine for a plain conv, too long fused.
    let wide = SmnShape {
        input_height: 8,
        input_width: 8,
        channels: vec![120, 8],
        hidden: 4,
        fused_pool: true,
        lean_schedule: false,
        one_scale_concat: true,
    };
    // The builder validates what it emits.
    let err = random_smn_blob(&wide, 1).err();
    assert!(
        matches!(err, Some(BuildError::Invalid(Error::PatchTooLarge { .. }))),
        "{err:?}"
    );
    let plain = SmnShape {
        fused_pool: false,
        lean_schedule: false,
        ..wide
    };
    assert!(Model::from_bytes(&random_smn_blob(&plain, 1).unwrap()).is_ok());
}

#[test]
fn version_1_blobs_without_fused_ops_still_load() {
    assert_eq!(MIN_FORMAT_VERSION, 1);
    // Version-1 ops only: no fused pools, two-scale concats.
    let shape = SmnShape {
        one_scale_concat: false,
        ..SmnShape::tiny()
    };
    let blob = random_smn_blob(&shape, 1).unwrap();
    let v1 = seal_version(&blob[PREAMBLE_LEN..], 1);
    let (a, b) = (Model::from_bytes(&blob).unwrap(), Model::from_bytes(&v1).unwrap());
    let image = synthetic_test_image(16, 16, 1);
    let mut arena = vec![0u8; a.arena_bytes()];
    assert_eq!(a.run(&image, &mut arena).unwrap(), b.run(&image, &mut arena).unwrap());
    let err = Model::from_bytes(&seal_version(&blob[PREAMBLE_LEN..], FORMAT_VERSION + 1)).err();
    assert_eq!(
        err,
        Some(Error::UnsupportedVersion {
            found: FORMAT_VERSION + 1
        })
    );
    assert!(err.unwrap().to_string().contains("versions 1 to 3"));
}
