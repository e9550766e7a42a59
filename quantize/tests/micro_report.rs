//! The micro-sized SMN (the Cortex-M4 target) through the whole pipeline:
//! prints the report and checks the figures are consistent.
mod common;

use smn_quantize::{quantize, Arch, FloatModel, QuantizeOptions, Variant};

#[test]
fn micro_smn_1x1_ft_report() {
    let arch = Arch::micro();
    let model = FloatModel::random(&arch, Variant::Smn1x1Ft, 42);
    let images = common::images(arch.input_size, 64, 7);
    let q = quantize(&model, &images, &QuantizeOptions::default()).unwrap();
    let r = &q.report;
    println!("{}", r.to_markdown());
    // The chosen order is the smallest arena, within [lower bound, naive].
    let best = r.arena.orders.iter().map(|o| o.arena_bytes).min().unwrap();
    assert_eq!(r.arena_bytes, best);
    assert!(r.arena.lower_bound_bytes <= r.arena_bytes && r.arena_bytes < r.arena.naive_bytes);
    // Fusing the concat never needs more memory than materialising it.
    for o in &r.arena.orders {
        assert!(o.arena_bytes <= o.materialised_arena_bytes, "{o:?}");
    }
    // 8 fused concats (2 branches × 4 levels), all measured.
    assert_eq!(r.concat_options.len(), 8);
    assert!(
        r.layers.iter().all(|l| l.sqnr_db > 10.0),
        "every layer keeps a usable SQNR"
    );
    // The Cortex-M4 profile has room for the micro model.
    assert!(r.devices.iter().find(|d| d.device == "cortex-m4").unwrap().fits);
}
