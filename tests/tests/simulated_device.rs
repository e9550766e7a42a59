//! The simulated device places blobs and arenas in device budgets and runs
//! the same engine as the firmware.
use smn_firmware_core::builder::{random_smn_blob, synthetic_test_image, SmnShape};
use smn_firmware_core::sim::{profile, SimError, SimulatedDevice, CORTEX_M4, CORTEX_M7, ESP32_S3};
use smn_firmware_core::Model;

#[test]
fn micro_model_fits_every_profile_and_matches_a_direct_run() {
    let blob = random_smn_blob(&SmnShape::micro(), 3).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let image = synthetic_test_image(64, 64, 9);
    let mut arena = vec![0u8; model.arena_bytes()];
    let direct = model.run(&image, &mut arena).unwrap();
    for p in [CORTEX_M4, CORTEX_M7, ESP32_S3] {
        let mut dev = SimulatedDevice::new(p);
        dev.flash(&blob).unwrap();
        let report = dev.infer(&image).unwrap();
        assert_eq!(report.outputs, direct);
        assert_eq!(report.flash_used, blob.len());
        assert_eq!(report.macs, model.macs());
        assert!(report.ram_used >= model.arena_bytes() + 64 * 64 * 3);
        assert!(report.estimated_seconds > 0.0);
    }
    // Faster core, shorter estimate.
    let m4 = {
        let mut d = SimulatedDevice::new(CORTEX_M4);
        d.flash(&blob).unwrap();
        d.infer(&image).unwrap()
    };
    let m7 = {
        let mut d = SimulatedDevice::new(CORTEX_M7);
        d.flash(&blob).unwrap();
        d.infer(&image).unwrap()
    };
    assert!(m7.estimated_seconds < m4.estimated_seconds);
}

#[test]
fn a_paper_sized_model_does_not_fit_a_cortex_m4() {
    let shape = SmnShape {
        input_height: 128,
        input_width: 128,
        channels: vec![32, 64, 64, 64],
        hidden: 32,
        fused_pool: false,
        lean_schedule: false,
        one_scale_concat: true,
    };
    let blob = random_smn_blob(&shape, 1).unwrap();
    let image = synthetic_test_image(128, 128, 1);
    let mut m4 = SimulatedDevice::new(CORTEX_M4);
    match m4.flash(&blob) {
        Ok(()) => match m4.infer(&image) {
            Err(SimError::RamTooSmall {
                device,
                needed,
                available,
            }) => {
                assert_eq!(device, "cortex-m4");
                assert!(needed > available);
            }
            other => panic!("expected RamTooSmall, got {other:?}"),
        },
        Err(SimError::FlashTooSmall { needed, available, .. }) => assert!(needed > available),
        Err(e) => panic!("unexpected {e}"),
    }
    let mut m7 = SimulatedDevice::new(CORTEX_M7);
    m7.flash(&blob).unwrap();
    m7.infer(&image).unwrap();
}

#[test]
fn flash_budget_is_enforced_and_profiles_are_found_by_name() {
    // A huge hidden layer makes the blob larger than 1 MiB.
    let shape = SmnShape {
        input_height: 32,
        input_width: 32,
        channels: vec![64],
        hidden: 128,
        fused_pool: false,
        lean_schedule: false,
        one_scale_concat: true,
    };
    let blob = random_smn_blob(&shape, 2).unwrap();
    assert!(blob.len() > 1024 * 1024, "{}", blob.len());
    let err = SimulatedDevice::new(CORTEX_M4).flash(&blob).unwrap_err();
    assert!(
        matches!(
            err,
            SimError::FlashTooSmall {
                device: "cortex-m4",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("flash"));
    assert_eq!(profile("CORTEX-M7"), Some(CORTEX_M7));
    assert_eq!(profile("esp32-s3"), Some(ESP32_S3));
    assert_eq!(profile("avr"), None);
}

#[test]
fn corrupt_blob_is_refused_at_flash_time() {
    let mut blob = random_smn_blob(&SmnShape::tiny(), 3).unwrap();
    let last = blob.len() - 1;
    blob[last] ^= 0x55;
    let err = SimulatedDevice::new(CORTEX_M4).flash(&blob).unwrap_err();
    assert!(
        matches!(err, SimError::Model(smn_firmware_core::Error::CrcMismatch { .. })),
        "{err}"
    );
}

#[test]
fn latency_estimates_sum_measured_per_op_rates() {
    use smn_firmware_core::sim::{op_work, M4_INSTRUCTIONS_PER_MAC, M4_OP_RATES};
    let blob = random_smn_blob(&SmnShape::micro(), 1).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    let per_op: f64 = model
        .ops()
        .map(|op| {
            let op = op.unwrap();
            M4_OP_RATES.rate(&op) * op_work(&model, &op) as f64
        })
        .sum();
    assert_eq!(M4_OP_RATES.instructions(&model), per_op);
    // Both constants come from the same QEMU run of this model shape.
    let average = M4_INSTRUCTIONS_PER_MAC * model.macs() as f64;
    assert!((per_op / average - 1.0).abs() < 0.05, "{per_op} vs {average}");
    // Pooling work is its input; a MAC op's is its MACs.
    let separate = SmnShape {
        fused_pool: false,
        ..SmnShape::micro()
    };
    let blob = random_smn_blob(&separate, 1).unwrap();
    let model = Model::from_bytes(&blob).unwrap();
    for op in model.ops().map(Result::unwrap) {
        if let smn_firmware_core::format::Op::MaxPool2d(p) = op {
            let t = model.tensor(p.input.into()).unwrap();
            assert_eq!(
                op_work(&model, &op),
                u64::from(t.height) * u64::from(t.width) * u64::from(t.channels)
            );
        }
    }
    let m4 = CORTEX_M4.estimated_seconds(&Model::from_bytes(&random_smn_blob(&SmnShape::micro(), 1).unwrap()).unwrap());
    assert!(m4 > 0.1 && m4 < 1.0, "{m4} s");
}
