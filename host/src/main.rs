//! `smn`: command-line tools for Separation Multi-task Networks.
fn main() {}
