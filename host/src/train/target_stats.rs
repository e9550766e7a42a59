//! The fixed output maps of the stage-1 heads, from the training targets.
//!
//! * **Landmarks**: per coordinate, the mean `μ` and standard deviation `σ`
//!   of the normalised training targets (`σ` floored at [`MIN_STD`]). The
//!   head predicts `μ + σ ⊙ fc2(h)`: an untrained head starts at the mean
//!   landmarks (the trivial baseline) and its layers learn in units of the
//!   target spread. Without this, aligned faces whose eyes vary by ~1 % of
//!   the image leave the raw-unit regression at the optimiser's noise floor
//!   (measured in docs/results.md: stage 1 did not beat the mean predictor).
//! * **Attributes**: scale 1, offset = the prior log-odds
//!   `ln((pos + 1) / (neg + 1))` of each known attribute (0 when unknown), so
//!   an untrained head starts at the class frequencies.
use crate::data::dataset::Dataset;
use crate::model::arch::ATTRIBUTE_OUTPUTS;
use crate::model::batch::normalise_coordinate;
use crate::model::net::OutputAffine;

/// Smallest landmark standard deviation used (normalised units, 0.1 % of the side).
pub const MIN_STD: f32 = 1e-3;

/// `[landmarks, attributes]` output maps of `data`'s targets.
pub fn output_affines(data: &Dataset) -> [OutputAffine; 2] {
    let stats = data.label_statistics();
    // Normalisation is affine with slope 1 / size: the mean maps through it,
    // the spread scales by 1 / size.
    let offset = stats
        .landmark_mean
        .iter()
        .map(|&m| normalise_coordinate(m as f32, data.size))
        .collect();
    let scale = stats
        .landmark_std
        .iter()
        .map(|&s| ((s / data.size as f64) as f32).max(MIN_STD))
        .collect();
    let log_odds = stats
        .positives
        .iter()
        .zip(&stats.negatives)
        .map(|(&p, &q)| {
            if p + q == 0 {
                0.0
            } else {
                ((p as f64 + 1.0) / (q as f64 + 1.0)).ln() as f32
            }
        })
        .collect();
    [
        OutputAffine { scale, offset },
        OutputAffine {
            scale: vec![1.0; ATTRIBUTE_OUTPUTS],
            offset: log_odds,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::Samples;
    use crate::data::transform::Affine;
    use crate::data::{FaceSample, Rgb};
    use crate::model::arch::LANDMARK_OUTPUTS;

    fn sample(x: f32, attribute: i8) -> FaceSample {
        let mut attributes = [0i8; ATTRIBUTE_OUTPUTS];
        attributes[3] = attribute;
        FaceSample {
            image: Rgb::new(4, 4),
            landmarks: [x; LANDMARK_OUTPUTS],
            attributes,
        }
    }

    #[test]
    fn mean_std_and_log_odds_match_hand_values() {
        // Pixel x → (x + 0.5) / 4: 0.5 → 0.25, 2.5 → 0.75, and twice 1.5 → 0.5.
        let samples = vec![sample(0.5, 1), sample(2.5, -1), sample(1.5, -1), sample(1.5, -1)];
        let data = Dataset {
            samples: Samples::Memory(samples),
            size: 4,
            to_original: Affine::IDENTITY,
            known_attributes: vec![3],
            skipped: Vec::new(),
        };
        let [lm, attr] = output_affines(&data);
        // mean 0.5; variance (0.0625 + 0.0625 + 0 + 0) / 4 = 0.03125.
        for k in 0..LANDMARK_OUTPUTS {
            assert!((lm.offset[k] - 0.5).abs() < 1e-6);
            assert!((lm.scale[k] - 0.03125f32.sqrt()).abs() < 1e-6);
        }
        assert!(attr.scale.iter().all(|&s| s == 1.0));
        assert!(
            (attr.offset[3] - (2.0f32 / 4.0).ln()).abs() < 1e-6,
            "{}",
            attr.offset[3]
        );
        assert_eq!(attr.offset[0], 0.0, "unknown attributes start at 0");
    }

    #[test]
    fn constant_landmarks_get_the_floor_not_zero() {
        let data = Dataset {
            samples: Samples::Memory(vec![sample(1.0, 0), sample(1.0, 0)]),
            size: 4,
            to_original: Affine::IDENTITY,
            known_attributes: Vec::new(),
            skipped: Vec::new(),
        };
        let [lm, _] = output_affines(&data);
        assert!(lm.scale.iter().all(|&s| s == MIN_STD));
    }
}
