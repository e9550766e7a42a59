//! A font for chart text. plotters draws text through `ab_glyph` from font
//! bytes we register once: `SMN_FONT` (a `.ttf`/`.otf` path) or the first
//! common system sans-serif font found. Without one, charts are drawn without
//! text (and [`ensure_font`] says so).
use plotters::style::FontStyle;
use std::sync::OnceLock;

/// Font files tried in order when `SMN_FONT` is not set.
const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// The family name charts use.
pub const FAMILY: &str = "sans-serif";

/// Registers a font once; returns the path used, or `None` when no font was
/// found (charts then have no text).
pub fn ensure_font() -> Option<&'static str> {
    static FONT: OnceLock<Option<String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let env = std::env::var("SMN_FONT").ok();
        let paths = env.iter().map(String::as_str).chain(CANDIDATES.iter().copied());
        for path in paths {
            let Ok(bytes) = std::fs::read(path) else { continue };
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
                return Some(path.to_string());
            }
        }
        None
    })
    .as_deref()
}
