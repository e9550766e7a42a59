//! Checks on the emitted blob itself: requantisation multipliers and the arena plan.
mod common;

use smn_firmware_core::builder::{quantize_multiplier, Rng};
use smn_firmware_core::crc32::crc32;
use smn_firmware_core::format::{Op, Preamble, Requant, TensorDesc, FORMAT_VERSION, PREAMBLE_LEN};
use smn_firmware_core::Model;
use smn_quantize::{quantize, Arch, FloatModel, QuantizeOptions, Quantized, Variant};

fn quantized(variant: Variant, seed: u64) -> Quantized {
    let arch = Arch::tiny();
    let model = FloatModel::random(&arch, variant, seed);
    quantize(
        &model,
        &common::images(arch.input_size, 16, seed),
        &QuantizeOptions::default(),
    )
    .unwrap()
}

fn words(b: &[u8]) -> Vec<i32> {
    b.chunks_exact(4)
        .map(|w| i32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

#[test]
fn requantisation_multipliers_reproduce_the_real_multipliers() {
    for variant in Variant::ALL {
        let q = quantized(variant, 3);
        let model = Model::from_bytes(&q.blob).unwrap();
        let mut checked = 0;
        for op in model.ops() {
            let op = op.unwrap();
            let (requants, out): (Vec<Requant<'_>>, u16) = match &op {
                Op::Conv2d(c) | Op::Conv2dMaxPool(c) => (vec![c.requant], c.output),
                Op::FullyConnected(f) => (vec![f.requant], f.output),
                Op::ConcatConv1x1(c) if c.requant_b.shifts.0.is_empty() => (vec![c.requant_a], c.output),
                Op::ConcatConv1x1(c) => (vec![c.requant_a, c.requant_b], c.output),
                _ => continue,
            };
            let layer = q
                .layers
                .iter()
                .find(|l| l.tensor == out)
                .expect("every MAC op has its scales");
            // The blob's tensor table holds the same activation scales.
            assert_eq!(model.tensor(out.into()).unwrap().quant.scale, layer.output_scale);
            assert_eq!(requants.len(), layer.input_scales.len());
            for (requant, &s_in) in requants.iter().zip(&layer.input_scales) {
                let (ms, shifts) = (words(requant.multipliers.0), requant.shifts.0);
                assert_eq!(ms.len(), layer.weight_scales.len(), "{}", layer.name);
                for ((&m, &shift), &s_w) in ms.iter().zip(shifts).zip(&layer.weight_scales) {
                    let real = f64::from(s_in) * f64::from(s_w) / f64::from(layer.output_scale);
                    let shift = shift as i8;
                    assert_eq!(quantize_multiplier(real).unwrap(), (m, shift), "{}", layer.name);
                    let approx = f64::from(m) * 2f64.powi(i32::from(shift)) / 2f64.powi(31);
                    assert!(
                        (approx - real).abs() <= real * 2f64.powi(-31) * (1.0 + 1e-12),
                        "{}: {approx} vs {real}",
                        layer.name
                    );
                    assert!((1 << 30..=i32::MAX).contains(&m));
                    checked += 1;
                }
            }
        }
        assert_eq!(
            q.layers.len(),
            model
                .ops()
                .filter(|op| {
                    matches!(
                        op,
                        Ok(Op::Conv2d(_) | Op::Conv2dMaxPool(_) | Op::FullyConnected(_) | Op::ConcatConv1x1(_))
                    )
                })
                .count()
        );
        assert!(checked > 50, "{variant:?}: {checked}");
    }
}

// --- A minimal postcard encoder for the header and tensor table (the ops are copied verbatim). ---

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn encode_desc(out: &mut Vec<u8>, t: &TensorDesc) {
    varint(out, t.height.into());
    varint(out, t.width.into());
    varint(out, t.channels.into());
    out.extend_from_slice(&t.quant.scale.to_le_bytes());
    out.push(t.quant.zero_point as u8);
    varint(out, t.offset.into());
}

/// Re-encodes `blob` with the given tensor offsets and arena size.
fn with_offsets(blob: &[u8], offsets: &[u32], arena: u32) -> Vec<u8> {
    let model = Model::from_bytes(blob).unwrap();
    let header = *model.header();
    let tensors: Vec<TensorDesc> = (0..model.tensor_count()).map(|i| *model.tensor(i).unwrap()).collect();
    let encode = |tensors: &[TensorDesc], arena: u32| {
        let mut p = Vec::new();
        encode_desc(&mut p, &tensors[0]);
        varint(&mut p, header.input_lut.0.len() as u64);
        p.extend_from_slice(header.input_lut.0);
        varint(&mut p, arena.into());
        varint(&mut p, header.tensor_count.into());
        varint(&mut p, header.op_count.into());
        for t in &tensors[1..] {
            encode_desc(&mut p, t);
        }
        p
    };
    let payload = &blob[PREAMBLE_LEN..];
    let original = encode(&tensors, header.arena_bytes);
    assert_eq!(
        &payload[..original.len()],
        &original[..],
        "the mini encoder reproduces the blob"
    );
    let ops = &payload[original.len()..];
    let moved: Vec<TensorDesc> = tensors
        .iter()
        .zip(offsets)
        .map(|(t, &offset)| TensorDesc { offset, ..*t })
        .collect();
    let mut new_payload = encode(&moved, arena);
    new_payload.extend_from_slice(ops);
    let preamble = Preamble {
        version: FORMAT_VERSION,
        payload_len: new_payload.len() as u32,
        crc32: crc32(&new_payload),
    };
    let mut out = preamble.to_bytes().to_vec();
    out.extend_from_slice(&new_payload);
    out
}

/// Every op output of a run, in op order, with the arena pre-filled with `poison`-seeded garbage.
fn trace(model: &Model<'_>, image: &[u8], poison: u64) -> (Vec<Vec<i8>>, smn_firmware_core::Outputs) {
    let mut rng = Rng::new(poison);
    let mut arena: Vec<u8> = (0..model.arena_bytes()).map(|_| rng.next_u64() as u8).collect();
    let mut seen = Vec::new();
    let out = model
        .run_observed(image, &mut arena, &mut |t| seen.push(t.data.to_vec()))
        .unwrap();
    (seen, out)
}

/// Tensor sizes and (first write, last read) times computed from the blob's ops.
fn lifetimes(model: &Model<'_>) -> Vec<(usize, usize, u32, u32)> {
    let mut life: Vec<(usize, usize, u32, u32)> = (0..model.tensor_count())
        .map(|i| {
            let t = model.tensor(i).unwrap();
            let size = usize::from(t.height) * usize::from(t.width) * usize::from(t.channels);
            (t.offset as usize, size, 0, 0)
        })
        .collect();
    for (i, op) in model.ops().enumerate() {
        let op = op.unwrap();
        let time = i as u32 + 1;
        let (a, b) = op.inputs();
        for input in std::iter::once(a).chain(b) {
            life[usize::from(input)].3 = time;
        }
        if let Some(o) = op.output() {
            life[usize::from(o)].2 = time;
            life[usize::from(o)].3 = life[usize::from(o)].3.max(time);
        }
    }
    life
}

#[test]
fn arena_plan_never_overlaps_live_tensors() {
    let images = common::images(32, 4, 9);
    for variant in Variant::ALL {
        let q = quantized(variant, 4);
        let planned = Model::from_bytes(&q.blob).unwrap();
        let life = lifetimes(&planned);
        // Concat + 1×1 outputs stored in place over their `a` input.
        let in_place: Vec<(usize, usize)> = planned
            .ops()
            .filter_map(|op| match op.unwrap() {
                Op::ConcatConv1x1(c) if life[usize::from(c.output)].0 == life[usize::from(c.input_a)].0 => {
                    Some((usize::from(c.input_a), usize::from(c.output)))
                }
                _ => None,
            })
            .collect();
        // 1. Independently of the builder: live-together tensors have disjoint
        //    bytes, except an in-place output inside the input it ends.
        let mut shared_bytes = 0;
        for (i, a) in life.iter().enumerate() {
            assert!(a.0 + a.1 <= planned.arena_bytes());
            for (j, b) in life.iter().enumerate().skip(i + 1) {
                let live_together = a.2 <= b.3 && b.2 <= a.3;
                let overlap = a.0 < b.0 + b.1 && b.0 < a.0 + a.1;
                if in_place.contains(&(i, j)) {
                    assert!(a.3 == b.2 && b.1 <= a.1, "{variant:?}: in place {a:?} -> {b:?}");
                    continue;
                }
                assert!(!(live_together && overlap), "{variant:?}: {a:?} and {b:?}");
                shared_bytes += usize::from(overlap);
            }
        }
        assert!(shared_bytes > 0, "the plan reuses memory");
        // 2. Differential run: the same graph with every tensor in its own
        //    bytes (no reuse), and both arenas pre-filled with different
        //    garbage. A tensor overwritten while still live, or read before
        //    it was written, changes some op's output.
        let mut offsets = Vec::new();
        let mut end = 0u32;
        for &(_, size, _, _) in &life {
            offsets.push(end);
            end += size as u32;
        }
        let naive_blob = with_offsets(&q.blob, &offsets, end);
        let naive = Model::from_bytes(&naive_blob).unwrap();
        assert_eq!(naive.arena_bytes(), q.report.arena.naive_bytes);
        assert!(planned.arena_bytes() < naive.arena_bytes());
        for (k, img) in images.iter().enumerate() {
            let (a, out_a) = trace(&planned, img, 100 + k as u64);
            let (b, out_b) = trace(&naive, img, 200 + k as u64);
            assert_eq!(
                a, b,
                "{variant:?}: op outputs differ between the planned and the naive arena"
            );
            assert_eq!(out_a, out_b);
        }
        // 3. The validator rejects a plan that puts live tensors on top of each other
        //    (so the blob above was checked for real).
        let zeros = vec![0u32; offsets.len()];
        let overlapping = with_offsets(&q.blob, &zeros, end);
        assert!(matches!(
            Model::from_bytes(&overlapping),
            Err(smn_firmware_core::Error::OverlappingTensors { .. })
        ));
    }
}
