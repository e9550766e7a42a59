//! Malformed model blobs: every one must give a specific `Err` from
//! `Model::from_bytes` (never `Ok`, never a panic), and every blob that does
//! validate must run.
//!
//! Structural tests decode a valid tiny SMN blob (helpers in
//! `smn_tests::blob_edit`) into its records (header,
//! tensor table, ops), edit one field, re-encode with postcard and re-seal the
//! preamble (length + CRC-32), so that each check is reached on its own.
//!
//! Layout of the tiny SMN (`SmnShape::tiny()`, seed 1) that the tests rely on
//! (asserted by `tiny_layout_is_what_these_tests_assume`):
//!
//! ```text
//! t0 16×16×3 input
//! op0  Conv2d   t0 → t1 16×16×4      op1  MaxPool t1 → t2 8×8×4   (shared level 1)
//! op2  Conv2d   t2 → t3 8×8×8        op3  MaxPool t3 → t4 4×4×8   (shared level 2)
//! op4  Conv2d   t0 → t5   op5 MaxPool t5 → t6   op6 ConcatConv1x1 (t6, t2) → t7
//! op7  Conv2d   t7 → t8   op8 MaxPool t8 → t9   op9 ConcatConv1x1 (t9, t4) → t10
//! op10 FullyConnected t10 → t11 (8)   op11 FullyConnected t11 → t12 (10)
//! op12..op19: the same for the attribute branch, t13..t20 (t20: 40 values)
//! op20 LandmarkHead t12              op21 AttributeHead t20
//! ```

mod corruption;
mod heads_and_run;
mod op_graph;
mod op_params;
mod preamble_and_header;
mod tensors;
