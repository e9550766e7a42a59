//! The builder refuses graphs the engine cannot run, with the engine's own error.
use smn_firmware_core::builder::{Activation, BuildError, GraphBuilder, InputSpec, OutputSpec, Weights};
use smn_firmware_core::format::{Quant, Window};
use smn_firmware_core::kernels::dot::MAX_PATCH;
use smn_firmware_core::{Error, ATTRIBUTE_COUNT, LANDMARK_COUNT};

fn conv(
    g: &mut GraphBuilder,
    x: smn_firmware_core::builder::TensorId,
    k: u8,
    out: u16,
) -> Result<smn_firmware_core::builder::TensorId, BuildError> {
    let t = *g.tensor(x)?;
    let taps = usize::from(k) * usize::from(k) * usize::from(t.channels);
    let w = Weights {
        out_channels: out,
        values: vec![1; usize::from(out) * taps],
        scales: vec![0.01; usize::from(out)],
        bias: vec![0; usize::from(out)],
    };
    let win = Window::square(k, 1, k / 2);
    g.conv2d(
        x,
        win,
        &w,
        OutputSpec {
            quant: Quant {
                scale: 0.05,
                zero_point: -128,
            },
            activation: Activation::Relu,
        },
    )
}

fn input() -> InputSpec {
    InputSpec {
        height: 8,
        width: 8,
        mean: [0.0; 3],
        std: [255.0; 3],
        quant: Quant {
            scale: 1.0 / 255.0,
            zero_point: -128,
        },
    }
}

#[test]
fn a_patch_longer_than_max_patch_is_rejected_at_finish() {
    let mut g = GraphBuilder::new(input());
    let x = g.input();
    // 1×1 conv to 250 channels, then a 3×3 conv over them: 2250 taps > 2048.
    let wide = conv(&mut g, x, 1, 250).unwrap();
    let too_long = conv(&mut g, wide, 3, 2 * LANDMARK_COUNT as u16).unwrap();
    const { assert!(9 * 250 > MAX_PATCH) };
    let attrs = conv(&mut g, wide, 1, ATTRIBUTE_COUNT as u16).unwrap();
    let attrs = g.global_avg_pool(attrs).unwrap();
    let lm = g.global_avg_pool(too_long).unwrap();
    g.landmark_head(
        lm,
        smn_firmware_core::format::LandmarkHead {
            input: 0,
            x_scale: 8.0,
            x_offset: 0.0,
            y_scale: 8.0,
            y_offset: 0.0,
        },
    )
    .unwrap();
    g.attribute_head(attrs).unwrap();
    assert_eq!(
        g.finish().unwrap_err(),
        BuildError::Invalid(Error::PatchTooLarge { op: 1 })
    );
}

#[test]
fn heads_are_required() {
    let mut g = GraphBuilder::new(input());
    let x = g.input();
    conv(&mut g, x, 3, 4).unwrap();
    assert_eq!(g.finish().unwrap_err(), BuildError::Invalid(Error::HeadCount));
}
