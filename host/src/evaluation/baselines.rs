//! Trivial baselines a trained model must beat: the mean training landmarks
//! for every image, and each attribute's majority class in the training set.
use super::Prediction;
use crate::data::dataset::Dataset;
use crate::data::ATTRIBUTE_COUNT;

/// One prediction repeated for every image: the mean landmarks of `train`
/// (model pixels) and, per attribute, the majority label of `train` as a
/// ±1 logit (unknown labels ignored; ties → absent).
pub fn trivial_prediction(train: &Dataset) -> Prediction {
    let stats = train.label_statistics();
    let mut logits = [0f32; ATTRIBUTE_COUNT];
    for ((dst, &pos), &neg) in logits.iter_mut().zip(&stats.positives).zip(&stats.negatives) {
        *dst = if pos > neg { 1.0 } else { -1.0 };
    }
    Prediction {
        landmarks: stats.landmark_mean.map(|m| m as f32),
        logits,
    }
}

/// The trivial prediction for each image of `eval`.
pub fn trivial_predictions(train: &Dataset, eval: &Dataset) -> Vec<Prediction> {
    vec![trivial_prediction(train); eval.samples.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::Samples;
    use crate::data::transform::Affine;
    use crate::data::FaceSample;
    use crate::data::Rgb;
    use crate::data::LANDMARK_OUTPUTS;

    fn sample(x: f32, label: i8) -> FaceSample {
        let mut attributes = [0i8; ATTRIBUTE_COUNT];
        attributes[3] = label;
        FaceSample {
            image: Rgb::new(2, 2),
            landmarks: [x; LANDMARK_OUTPUTS],
            attributes,
        }
    }

    #[test]
    fn mean_landmarks_and_majority_labels() {
        let data = Dataset {
            samples: Samples::Memory(vec![sample(1.0, 1), sample(2.0, 1), sample(6.0, -1)]),
            size: 2,
            to_original: Affine::IDENTITY,
            known_attributes: vec![3],
            skipped: Vec::new(),
        };
        let p = trivial_prediction(&data);
        assert_eq!(p.landmarks, [3.0; LANDMARK_OUTPUTS]);
        assert_eq!(p.logits[3], 1.0);
        assert_eq!(p.logits[0], -1.0, "no labels: absent");
    }
}
