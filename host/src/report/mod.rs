//! Figures and reports: CED and training curves (PNG), landmark overlays,
//! feature-map grids, Markdown metric tables.
pub mod charts;
pub mod feature_maps;
pub mod figures;
pub mod font;
pub mod markdown;
pub mod overlay;
pub mod png;
pub mod study;
pub mod text;
