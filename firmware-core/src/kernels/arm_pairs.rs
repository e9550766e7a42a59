//! The hand-written channel-pair loop shared by the Arm MAC engines
//! (`Dsp`: `SXTB16`/`SMLAD`; `Scalar`: `LDRSB`/`LDRSH`/`MLA`, Armv7-M base
//! instructions only): both run [`MacEngine::tile_2x2_rows`]'s whole-group
//! pairs as one assembly loop and differ only in their group of four
//! values, which each engine defines as a `group!` macro:
//!
//! * `group!()` adds one group's 16 products (two pixels × two channels ×
//!   four values) to r0–r3 and advances r4 (patch, 16 bytes), r5 and r8
//!   (the pair's two weight rows, 4 bytes each); r6, r7, r10–r12 and lr are
//!   scratch;
//! * `group!(first)` does the same for a tile's first group, whose first
//!   product into each accumulator overwrites it (no zeroing).
//!
//! [`MacEngine::tile_2x2_rows`]: super::mac::MacEngine::tile_2x2_rows

/// `r9 ≥ 0` more groups: one alone when the count is odd, then two per
/// iteration (the loop branch costs one instruction per 32 MACs). Clobbers
/// r9 and the flags.
macro_rules! groups_loop {
    ($group:ident) => {
        concat!(
            "lsrs r9, r9, #1\n",
            "bcc 4f\n",
            $group!(),
            "4:\n",
            // Z is still the `LSRS` result: groups set no flags.
            "beq 5f\n",
            "2:\n",
            $group!(),
            $group!(),
            "subs r9, r9, #1\n",
            "bne 2b\n",
            "5:\n",
        )
    };
}
pub(crate) use groups_loop;

/// Defines `pub fn tile_2x2_pairs(pp, w, stride, groups, out)` on the
/// engine's `group!`: for `out.len()` consecutive pairs of weight rows (rows
/// `stride` bytes apart, the first at `w`) the four sums of `groups` whole
/// groups, stored to `out[p]`. The loop over pairs is in assembly too, about
/// 16 instructions per pair besides the groups; its state lives in a
/// 24-byte stack frame, since the group loop needs every register.
///
/// The caller checks that `16 · groups` bytes of `pp` and, for pair `p`,
/// `4 · groups` bytes at `w + 2p · stride` and at `w + (2p + 1) · stride`
/// lie inside the slices, that `groups ≥ 1`, `out.len() ≥ 1`, and that `pp`
/// is 4-byte aligned.
macro_rules! tile_2x2_pairs {
    ($group:ident) => {
        /// See `kernels::arm_pairs` (the shared pair loop) and this
        /// module's `group!`.
        #[inline(always)]
        pub fn tile_2x2_pairs(pp: &[i16], w: &[i8], stride: usize, groups: usize, out: &mut [[i32; 4]]) {
            // From the end of one pair's first row to the start of the next pair.
            let skip = (2 * stride).wrapping_sub(4 * groups);
            let end = out.as_mut_ptr_range().end;
            // SAFETY: the wrapper in the engine checked the lengths (every
            // load stays inside `pp` and `w`, the stores inside `out`), the
            // counts and the alignment of `pp`. The stack frame and r6, r7
            // are restored before the block ends.
            unsafe {
                core::arch::asm!(
                    "push {{r6, r7}}",
                    "sub sp, sp, #24",
                    "str r4, [sp]",
                    "str r8, [sp, #4]",
                    "subs r9, r9, #1",
                    "str r9, [sp, #8]",
                    "str r11, [sp, #12]",
                    "str r10, [sp, #16]",
                    "str r12, [sp, #20]",
                    "3:",
                    "ldr r4, [sp]",
                    "ldr r8, [sp, #4]",
                    "add r8, r5, r8",
                    "ldr r9, [sp, #8]",
                    $group!(first),
                    $crate::kernels::arm_pairs::groups_loop!($group),
                    "ldr r10, [sp, #16]",
                    "stmia r10!, {{r0, r1, r2, r3}}",
                    "str r10, [sp, #16]",
                    "ldr r8, [sp, #20]",
                    "add r5, r5, r8",
                    "ldr r11, [sp, #12]",
                    "cmp r10, r11",
                    "bne 3b",
                    "add sp, sp, #24",
                    "pop {{r6, r7}}",
                    // Explicit registers: with the `reg` class LLVM may place
                    // an operand in r6 (it reserves r6 only in frames that need
                    // a base pointer), which the push/pop above would clobber.
                    inout("r4") pp.as_ptr() => _,
                    inout("r5") w.as_ptr() => _,
                    inout("r8") stride => _,
                    inout("r9") groups => _,
                    inout("r10") out.as_mut_ptr() => _,
                    inout("r11") end => _,
                    inout("r12") skip => _,
                    out("r0") _,
                    out("r1") _,
                    out("r2") _,
                    out("r3") _,
                    out("lr") _,
                );
            }
        }
    };
}
pub(crate) use tile_2x2_pairs;
