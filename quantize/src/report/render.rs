//! Text renderings of a [`QuantReport`]: a few terminal lines and a
//! Markdown document (one function per section).
use super::{ArenaReport, ConcatOption, DeviceFit, LayerReport, OutputAgreement, QuantReport};
use std::fmt::Write as _;

/// `"N B (x.y KiB)"`.
fn kib(bytes: usize) -> String {
    format!("{bytes} B ({:.1} KiB)", bytes as f64 / 1024.0)
}

impl QuantReport {
    /// A few lines for a terminal: sizes, arena plan, output agreement, device fit.
    pub fn summary(&self) -> String {
        let o = &self.outputs;
        let fits: Vec<String> = self
            .devices
            .iter()
            .map(|d| format!("{} {}", d.device, if d.fits { "fits" } else { "does NOT fit" }))
            .collect();
        format!(
            "{} {}×{}: flash {} B, arena {} B (order {}; naive {} B, lower bound {} B, materialised concat {} B), {:.2} M MACs\n\
             int8 vs float on {} images: landmarks {:.3} px mean / {:.3} px max, logit SQNR {:.1} dB, flags agree {:.2} %\n\
             {}",
            self.variant,
            self.input_size,
            self.input_size,
            self.flash_bytes,
            self.arena_bytes,
            self.arena.chosen.name(),
            self.arena.naive_bytes,
            self.arena.lower_bound_bytes,
            self.arena.best_materialised_arena_bytes,
            self.macs as f64 / 1e6,
            self.report_images,
            o.landmark_mean_abs_px,
            o.landmark_max_abs_px,
            o.logit_sqnr_db,
            100.0 * o.flag_agreement,
            fits.join(", ")
        )
    }

    /// A readable Markdown report.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        self.write_overview(&mut s);
        write_outputs(&mut s, &self.outputs);
        write_arena(&mut s, &self.arena);
        write_devices(&mut s, &self.devices);
        write_concat_options(&mut s, &self.concat_options);
        write_layers(&mut s, &self.layers);
        s
    }

    /// Title and the headline figures.
    fn write_overview(&self, s: &mut String) {
        let _ = writeln!(s, "# Int8 quantisation report\n");
        let _ = writeln!(
            s,
            "* Variant `{}`, input {}×{} RGB\n* Calibration: {} on {} images; measurements on {} images",
            self.variant,
            self.input_size,
            self.input_size,
            self.calibration,
            self.calibration_images,
            self.report_images
        );
        let _ = writeln!(
            s,
            "* Flash (blob): {}\n* Arena: {} (order `{}`)\n* MACs per inference: {}\n* {} tensors, {} ops\n",
            kib(self.flash_bytes),
            kib(self.arena_bytes),
            self.arena.chosen.name(),
            self.macs,
            self.tensors,
            self.ops
        );
    }
}

/// `## Outputs`: int8 vs float on the final outputs.
fn write_outputs(s: &mut String, o: &OutputAgreement) {
    let _ = writeln!(s, "## Outputs (int8 vs float)\n");
    let _ = writeln!(
        s,
        "| landmark mean abs (px) | landmark max abs (px) | landmark SQNR (dB) | logit SQNR (dB) | logit correlation | flag agreement |\n|---|---|---|---|---|---|\n| {:.3} | {:.3} | {:.1} | {:.1} | {:.4} | {:.2} % |\n",
        o.landmark_mean_abs_px,
        o.landmark_max_abs_px,
        o.landmark_sqnr_db,
        o.logit_sqnr_db,
        o.logit_correlation,
        100.0 * o.flag_agreement
    );
}

/// `## Arena`: the chosen order, then every order's figures.
fn write_arena(s: &mut String, arena: &ArenaReport) {
    let _ = writeln!(s, "## Arena\n");
    let _ = writeln!(
        s,
        "Chosen order `{}`: arena {}, naive (no reuse) {}, lower bound (peak live) {}; best materialised-concat (TFLite-style) arena {}.\n",
        arena.chosen.name(),
        kib(arena.arena_bytes),
        kib(arena.naive_bytes),
        kib(arena.lower_bound_bytes),
        kib(arena.best_materialised_arena_bytes)
    );
    let _ = writeln!(
        s,
        "| order | arena | naive | lower bound | materialised arena | materialised lower bound |\n|---|---|---|---|---|---|"
    );
    for a in &arena.orders {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            a.order.name(),
            a.arena_bytes,
            a.naive_bytes,
            a.lower_bound_bytes,
            a.materialised_arena_bytes,
            a.materialised_lower_bound_bytes
        );
    }
}

/// `## Devices`: flash, RAM and latency per device profile.
fn write_devices(s: &mut String, devices: &[DeviceFit]) {
    let _ = writeln!(s, "\n## Devices\n");
    let _ = writeln!(
        s,
        "| device | flash needed / available | RAM needed / available | fits | est. latency |\n|---|---|---|---|---|"
    );
    for d in devices {
        let _ = writeln!(
            s,
            "| {} | {} / {} | {} / {} | {} | {:.1} ms |",
            d.device,
            d.flash_needed,
            d.flash_bytes,
            d.ram_needed,
            d.ram_bytes,
            if d.fits { "yes" } else { "**no**" },
            d.latency_ms
        );
    }
}

/// `## Concat scales` (only when the graph has fused concats).
fn write_concat_options(s: &mut String, options: &[ConcatOption]) {
    if options.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Concat scales (`docs/int8-spec.md` §5)\n");
    let _ = writeln!(
        s,
        "SQNR (dB) of each fused concat + 1×1 output vs float, on the same int8 inputs: the blob's own output (emitted); (d) fused, one scale, one rounding (§5.1, the default); (a) fused, two scales, two roundings (§5, `ConcatScales::Two`); (a') two scales with a single rounding (no kernel); (b) shared input requantised to the own input's scale first; (c) both inputs requantised to one concat scale (a materialised int8 concat). (d) and (a) are f64 re-computations of their kernels.\n"
    );
    let _ = writeln!(
        s,
        "| layer | emitted | (d) one scale | (a) two scales | (a') one rounding | (b) shared → own scale | (c) common scale |\n|---|---|---|---|---|---|---|"
    );
    for c in options {
        let _ = writeln!(
            s,
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            c.layer,
            c.emitted_sqnr_db,
            c.one_scale_sqnr_db,
            c.fused_f64_model_sqnr_db,
            c.fused_single_rounding_sqnr_db,
            c.shared_requantised_to_own_sqnr_db,
            c.common_concat_scale_sqnr_db
        );
    }
}

/// `## Layers`: one row per graph node.
fn write_layers(s: &mut String, layers: &[LayerReport]) {
    let _ = writeln!(s, "\n## Layers\n");
    let _ = writeln!(
        s,
        "| layer | op | output | scale | zp | weights | calibration range | clip range | saturated | MACs | SQNR (dB) |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for l in layers {
        let [h, w, c] = l.output;
        let weights = l
            .weight_range
            .map_or_else(|| "–".to_string(), |(a, b)| format!("[{a:.3}, {b:.3}]"));
        let _ = writeln!(
            s,
            "| {} | {} | {h}×{w}×{c} | {:.3e} | {} | {} | [{:.3}, {:.3}] | [{:.3}, {:.3}] | {} / {} | {} | {:.1} |",
            l.name,
            l.op,
            l.scale,
            l.zero_point,
            weights,
            l.calibration_range.0,
            l.calibration_range.1,
            l.clip_range.0,
            l.clip_range.1,
            l.saturated,
            l.elements,
            l.macs,
            l.sqnr_db
        );
    }
}
