//! Synthetic faces (being written).
