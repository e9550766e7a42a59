//! Folding batch norm into the preceding conv:
//! `w' = w · γ / √(σ² + ε)`, `b' = (b − μ) · γ / √(σ² + ε) + β` (computed in `f64`).
use crate::error::{ModelFileError, ModelFileProblem};
use crate::float_model::{FloatModel, FloatTensor};

/// The same network with every batch norm folded into its conv; the result
/// has `arch.batch_norm = false` and no `*.bn.*` tensors. Models without
/// batch norm are returned unchanged.
pub fn fold_batch_norm(model: &FloatModel) -> Result<FloatModel, ModelFileError> {
    model.validate()?;
    if !model.arch.batch_norm {
        return Ok(model.clone());
    }
    let prefixes: Vec<String> = model
        .tensors
        .keys()
        .filter_map(|k| k.strip_suffix(".bn.running_var").map(str::to_string))
        .collect();
    let mut out = model.clone();
    out.arch.batch_norm = false;
    for prefix in prefixes {
        let get = |s: &str| model.tensor(&format!("{prefix}.{s}")).map(|t| &t.data);
        let (gamma, beta, mean, var) = (
            get("bn.weight")?,
            get("bn.bias")?,
            get("bn.running_mean")?,
            get("bn.running_var")?,
        );
        let w = model.tensor(&format!("{prefix}.conv.weight"))?;
        let b = get("conv.bias")?;
        let cout = b.len();
        let per_out = w.data.len() / cout.max(1);
        let eps = f64::from(model.bn_epsilon);
        let factors: Vec<f64> = gamma
            .iter()
            .zip(var)
            .map(|(&g, &v)| f64::from(g) / (f64::from(v) + eps).sqrt())
            .collect();
        if let Some(c) = factors.iter().position(|f| !f.is_finite()) {
            return Err(ModelFileError::new(
                "float model",
                ModelFileProblem::NonFinite {
                    tensor: format!("{prefix}.bn.running_var (γ/√(σ²+ε))"),
                    index: c,
                },
            ));
        }
        let weight: Vec<f32> = w
            .data
            .chunks_exact(per_out.max(1))
            .zip(&factors)
            .flat_map(|(row, &f)| row.iter().map(move |&v| (f64::from(v) * f) as f32))
            .collect();
        let bias: Vec<f32> = b
            .iter()
            .zip(&factors)
            .zip(mean.iter().zip(beta))
            .map(|((&b0, &f), (&m, &be))| ((f64::from(b0) - f64::from(m)) * f + f64::from(be)) as f32)
            .collect();
        out.tensors.insert(
            format!("{prefix}.conv.weight"),
            FloatTensor {
                shape: w.shape.clone(),
                data: weight,
            },
        );
        out.tensors.insert(
            format!("{prefix}.conv.bias"),
            FloatTensor {
                shape: vec![cout],
                data: bias,
            },
        );
        for s in ["weight", "bias", "running_mean", "running_var"] {
            out.tensors.remove(&format!("{prefix}.bn.{s}"));
        }
    }
    out.validate()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::float_forward::forward_all;
    use crate::float_model::{Arch, Variant};
    use crate::graph::FloatGraph;
    use smn_firmware_core::builder::synthetic_test_image;

    #[test]
    fn folded_forward_equals_unfolded_forward() {
        for variant in Variant::ALL {
            let model = FloatModel::random(&Arch::tiny(), variant, 11);
            let folded = fold_batch_norm(&model).unwrap();
            assert!(!folded.arch.batch_norm);
            assert!(folded.tensors.keys().all(|k| !k.contains(".bn.")));
            let (g0, g1) = (FloatGraph::new(&model).unwrap(), FloatGraph::new(&folded).unwrap());
            assert_eq!(g0.nodes.len(), g1.nodes.len());
            for seed in 0..3 {
                let img = synthetic_test_image(32, 32, seed);
                let (v0, v1) = (forward_all(&g0, &img).unwrap(), forward_all(&g1, &img).unwrap());
                for ((a, b), node) in v0.iter().zip(&v1).zip(&g0.nodes) {
                    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
                    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
                    assert!(
                        worst <= 1e-4 * scale,
                        "{variant:?} {}: {worst} vs scale {scale}",
                        node.name
                    );
                }
                // And the BN is not a no-op: the folded conv weights differ.
                let w0 = &model.tensors["shared.0.conv.weight"].data;
                let w1 = &folded.tensors["shared.0.conv.weight"].data;
                assert!(w0.iter().zip(w1).any(|(a, b)| (a - b).abs() > 1e-3));
            }
        }
    }
}
