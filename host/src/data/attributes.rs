//! Names and order of CelebA's landmarks and attributes.

/// Number of CelebA attributes.
pub use smn_firmware_core::ATTRIBUTE_COUNT;
/// Landmark coordinates per face: `x, y` of each of the 5 landmarks (one
/// definition, with the float model file's head width).
pub use smn_quantize::float_model::LANDMARK_OUTPUTS;

/// CelebA attributes in the column order of `list_attr_celeba.txt`.
pub const ATTRIBUTE_NAMES: [&str; ATTRIBUTE_COUNT] = [
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
];

/// Landmarks in the column order of `list_landmarks_align_celeba.txt`.
pub const LANDMARK_NAMES: [&str; 5] = ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth"];

/// Column names of `list_landmarks_align_celeba.txt`.
pub const LANDMARK_COLUMNS: [&str; LANDMARK_OUTPUTS] = [
    "lefteye_x",
    "lefteye_y",
    "righteye_x",
    "righteye_y",
    "nose_x",
    "nose_y",
    "leftmouth_x",
    "leftmouth_y",
    "rightmouth_x",
    "rightmouth_y",
];

/// Index of an attribute by name.
pub fn attribute_index(name: &str) -> Option<usize> {
    ATTRIBUTE_NAMES.iter().position(|&n| n == name)
}
