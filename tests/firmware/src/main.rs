//! Cortex-M4 firmware for QEMU's `mps2-an386` machine: runs
//! `smn-firmware-core` on an embedded model blob and test image and prints,
//! over semihosting, the same transcript the host computes (`cargo xtask
//! firmware` compares the two line by line), followed by `icount …` and
//! `device …` lines (instruction counts, stack use) that are device-only.
//!
//! # No panic paths
//!
//! The panic handler calls an undefined external symbol. If any panic path
//! survives optimisation (LTO, `panic = "abort"`), the release link fails with
//! `undefined reference to smn_firmware_core_has_a_reachable_panic_path`, so a
//! successful link proves that neither firmware-core nor this file can panic.
//! That is also why nothing here uses `core::fmt`. `cargo xtask panic-paths`
//! builds the `locate-panics` variant (an ordinary handler, line tables) and
//! lists the source lines from which a panic is still reachable.
//!
//! # Instruction counting
//!
//! QEMU runs with `-icount shift=0`: the virtual clock advances exactly 1 ns
//! per executed guest instruction (and DWT.CYCCNT is not emulated: it reads
//! 0). SysTick, clocked from the processor clock (CLKSOURCE = 1, 25 MHz on
//! mps2-an386), is derived from that virtual clock, so its count is
//! deterministic and proportional to the number of instructions executed. A
//! 24-bit SysTick with reload 0xFF_FFFF plus a wrap counter (incremented by
//! the SysTick exception) gives a 64-bit tick count. We calibrate it with an
//! inline-asm loop of known length (`subs; bne` = 2 instructions per
//! iteration): the difference between 3,000,000 and 1,000,000 iterations,
//! i.e. exactly 4,000,000 instructions, cancels the fixed cost of reading the
//! counter. Instructions per inference = inference ticks × calibration
//! instructions / calibration ticks (rounded), resolution ±1 tick.
#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use core::sync::atomic::{compiler_fence, AtomicBool, AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};
use smn_firmware_core::kernel_cases;
use smn_firmware_core::transcript::Transcript;
use smn_firmware_core::Model;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/arena.rs"));
}
use generated::ARENA_BYTES;

/// The model blob, read in place from flash.
static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.smnq"));
/// The RGB test image (`input_height × input_width × 3` bytes).
static IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/image.rgb"));

// ---------------------------------------------------------------------------
// Arena: a zero-initialised static in .bss, handed out once as `&'static mut`.

struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: the only access is the single `&mut` that `take_arena` hands out.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));
static ARENA_TAKEN: AtomicBool = AtomicBool::new(false);

fn take_arena() -> Option<&'static mut [u8]> {
    if ARENA_TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: ARENA_TAKEN guarantees this runs at most once, so the returned
    // reference is the only one ever created.
    Some(unsafe { &mut *ARENA.0.get() })
}

// ---------------------------------------------------------------------------
// Output: semihosting stdout, buffered per line (one host call per line).

struct Console {
    stream: Option<hio::HostStream>,
    buf: [u8; 256],
    len: usize,
}

impl Console {
    fn new() -> Self {
        Console {
            stream: hio::hstdout().ok(),
            buf: [0; 256],
            len: 0,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len >= self.buf.len() {
                self.flush();
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
            if b == b'\n' {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        if let (Some(stream), Some(data)) = (self.stream.as_mut(), self.buf.get(..self.len)) {
            // Nothing sensible to do if the host refuses output.
            let _ = stream.write_all(data);
        }
        self.len = 0;
    }
}

/// Prints `error <what>` and ends the QEMU run with a failure status.
fn fail(what: &[u8]) -> ! {
    let mut console = Console::new();
    console.write(b"error ");
    console.write(what);
    console.write(b"\n");
    console.flush();
    exit(debug::EXIT_FAILURE)
}

fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    loop {
        cortex_m::asm::udf();
    }
}

// ---------------------------------------------------------------------------
// Instruction counting with SysTick (see the crate documentation).

const SYST_RELOAD: u32 = 0x00FF_FFFF;
static SYST_WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    SYST_WRAPS.fetch_add(1, Ordering::SeqCst);
}

fn start_systick(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYST_RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
    // The current value reads 0 until the first clock edge loads the reload
    // value (that load is not a wrap); start measuring after it.
    let mut spins = 0u32;
    while SYST::get_current() == 0 && spins < 1_000_000 {
        spins += 1;
    }
}

/// 64-bit SysTick count since `start_systick` (counts up).
#[inline(never)]
fn ticks() -> u64 {
    compiler_fence(Ordering::SeqCst);
    let t = loop {
        let before = SYST_WRAPS.load(Ordering::SeqCst);
        let current = SYST::get_current();
        let pending = SCB::is_pendst_pending();
        if SYST_WRAPS.load(Ordering::SeqCst) != before {
            continue;
        }
        // A wrap that happened but whose exception has not run yet.
        let wraps = u64::from(before) + u64::from(pending && current > SYST_RELOAD / 2);
        break wraps
            .wrapping_mul(u64::from(SYST_RELOAD) + 1)
            .wrapping_add(u64::from(SYST_RELOAD.wrapping_sub(current)));
    };
    compiler_fence(Ordering::SeqCst);
    t
}

/// Executes exactly `2 * iterations` instructions (`iterations` ≥ 1).
#[inline(never)]
fn spin(iterations: u32) {
    // SAFETY: register-only loop, no memory or stack access.
    unsafe {
        core::arch::asm!(
            "1:",
            "subs {n}, {n}, #1",
            "bne 1b",
            n = inout(reg) iterations => _,
            options(nomem, nostack),
        );
    }
}

/// Returns `(instructions, ticks)` of the calibration loop.
fn calibrate() -> (u64, u64) {
    const SHORT: u32 = 1_000_000;
    const LONG: u32 = 3_000_000;
    let measure = |n: u32| {
        let start = ticks();
        spin(n);
        ticks().wrapping_sub(start)
    };
    let short = measure(SHORT);
    let long = measure(LONG);
    (2 * u64::from(LONG - SHORT), long.wrapping_sub(short))
}

// ---------------------------------------------------------------------------
// Stack high-water mark: paint the free stack, look for the deepest change.

const STACK_PAINT: u32 = 0x5A5A_A5A5;

extern "C" {
    static _stack_start: u32; // top of the stack (end of RAM)
    static _stack_end: u32; // lowest address the stack may grow to (end of .bss)
}

fn stack_bounds() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken (no read).
    (
        core::ptr::addr_of!(_stack_end) as usize,
        core::ptr::addr_of!(_stack_start) as usize,
    )
}

fn paint_stack() {
    let (bottom, _) = stack_bounds();
    // Leave 256 bytes below the current stack pointer untouched.
    let limit = (cortex_m::register::msp::read() as usize).saturating_sub(256);
    let mut p = bottom;
    while p + 4 <= limit {
        // SAFETY: [bottom, limit) is free stack memory: below the live frames,
        // above .bss/.uninit (cortex-m-rt's `_stack_end`), word aligned.
        unsafe { core::ptr::write_volatile(p as *mut u32, STACK_PAINT) };
        p += 4;
    }
}

fn stack_high_water() -> u64 {
    let (bottom, top) = stack_bounds();
    let mut p = bottom;
    // SAFETY: reads of word-aligned RAM inside the stack region.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == STACK_PAINT {
        p += 4;
    }
    (top - p) as u64
}

// ---------------------------------------------------------------------------

/// Op types in `Op::name` order of [`OP_TYPES`]; the two heads run after the
/// last tensor-writing op and are timed together.
const OP_TYPES: [&str; 8] = [
    "Conv2d",
    "Conv2dMaxPool",
    "ConcatConv1x1",
    "MaxPool2d",
    "AvgPool2d",
    "GlobalAvgPool",
    "FullyConnected",
    "Heads",
];
/// Transcript keys of [`OP_TYPES`].
const OP_KEYS: [&str; 8] = [
    "icount op Conv2d",
    "icount op Conv2dMaxPool",
    "icount op ConcatConv1x1",
    "icount op MaxPool2d",
    "icount op AvgPool2d",
    "icount op GlobalAvgPool",
    "icount op FullyConnected",
    "icount op Heads",
];
const HEADS: usize = 7;
const MAX_PROFILED_OPS: usize = 256;

/// `icount layer <op_index>`, the key of a per-op line, built in `buf`
/// without `core::fmt`.
fn layer_key(buf: &mut [u8; 32], op_index: usize) -> &str {
    const PREFIX: &[u8] = b"icount layer ";
    let mut digits = [0u8; 20];
    let mut n = 0;
    let mut v = op_index;
    for slot in digits.iter_mut() {
        *slot = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let text = PREFIX.iter().chain(digits.iter().take(n).rev());
    let mut len = 0;
    for (slot, &b) in buf.iter_mut().zip(text) {
        *slot = b;
        len += 1;
    }
    buf.get(..len)
        .and_then(|key| core::str::from_utf8(key).ok())
        .unwrap_or("icount layer")
}

/// A third pass with an observer that reads SysTick after every op and
/// charges the ticks since the previous op to that op's type (the input
/// conversion goes to the first op; the observer's own cost, a few dozen
/// instructions per op, is included). Writes `icount layer <op> <ticks>`
/// per tensor-writing op as it goes (printing is not counted: the next
/// interval starts after it), then `icount op <type> <ticks>`.
fn profile_op_types<W: FnMut(&[u8])>(
    model: &Model<'_>,
    arena: &mut [u8],
    t: &mut Transcript<W>,
) -> Result<(), &'static [u8]> {
    let mut kinds = [HEADS as u8; MAX_PROFILED_OPS];
    for (kind, op) in kinds.iter_mut().zip(model.ops()) {
        let name = op.map_err(|_| b"Model::ops".as_slice())?.name();
        *kind = OP_TYPES.iter().position(|&n| n == name).unwrap_or(HEADS) as u8;
    }
    let mut per_type = [0u64; OP_TYPES.len()];
    let start = ticks();
    let mut last = start;
    let mut key = [0u8; 32];
    let result = model.run_observed(IMAGE, arena, &mut |trace| {
        let now = ticks();
        let op_ticks = now.wrapping_sub(last);
        let kind = kinds.get(trace.op_index).copied().unwrap_or(HEADS as u8);
        if let Some(acc) = per_type.get_mut(usize::from(kind)) {
            *acc += op_ticks;
        }
        t.line(layer_key(&mut key, trace.op_index), op_ticks);
        last = ticks();
    });
    if let Some(heads) = per_type.get_mut(HEADS) {
        *heads += ticks().wrapping_sub(last);
    }
    result.map_err(|_| b"Model::run_observed (profile)".as_slice())?;
    for (key, &ticks) in OP_KEYS.iter().zip(&per_type) {
        if ticks > 0 {
            t.line(key, ticks);
        }
    }
    Ok(())
}

/// The parity script; keep in sync with `parity_transcript` in
/// `xtask/src/firmware.rs`. Returns what failed, if anything.
fn session(console: &mut Console, calibration: (u64, u64)) -> Result<(), &'static [u8]> {
    let arena = take_arena().ok_or(b"arena already taken".as_slice())?;
    let model = Model::from_bytes(MODEL).map_err(|_| b"Model::from_bytes".as_slice())?;
    let mut t = Transcript::new(|bytes: &[u8]| console.write(bytes));
    t.line("blob_bytes", MODEL.len() as u64);
    t.line("arena_bytes", model.arena_bytes() as u64);
    t.line("macs", model.macs());
    let observed = model
        .run_observed(IMAGE, arena, &mut |trace| t.op(&trace))
        .map_err(|_| b"Model::run_observed".as_slice())?;
    t.outputs(&observed);

    // The timed pass: plain `run`, no observer, no output while it runs.
    let start = ticks();
    let timed = model.run(IMAGE, arena);
    let inference_ticks = ticks().wrapping_sub(start);
    let timed = timed.map_err(|_| b"Model::run".as_slice())?;
    t.line("run_matches_run_observed", u64::from(timed == observed));
    t.line("done", 1);
    // Random shapes of the MAC kernels, hashed (the arena is free again).
    kernel_cases::run(&mut t, arena).map_err(|_| b"kernel_cases::run".as_slice())?;
    profile_op_types(&model, arena, &mut t)?;

    let (cal_instructions, cal_ticks) = calibration;
    let inference_instructions = inference_ticks
        .saturating_mul(cal_instructions)
        .saturating_add(cal_ticks / 2)
        .checked_div(cal_ticks)
        .unwrap_or(0);
    t.line("icount calibration_instructions", cal_instructions);
    t.line("icount calibration_ticks", cal_ticks);
    t.line("icount inference_ticks", inference_ticks);
    t.line("icount inference_instructions", inference_instructions);
    t.line("device stack_bytes", stack_high_water());
    t.line("device stack_budget_bytes", {
        let (bottom, top) = stack_bounds();
        (top - bottom) as u64
    });
    Ok(())
}

#[entry]
fn main() -> ! {
    paint_stack();
    let Some(mut cp) = cortex_m::Peripherals::take() else {
        fail(b"cortex_m::Peripherals::take")
    };
    start_systick(&mut cp.SYST);
    let calibration = calibrate();

    let mut console = Console::new();
    let result = session(&mut console, calibration);
    console.flush();
    match result {
        Ok(()) => exit(debug::EXIT_SUCCESS),
        Err(what) => fail(what),
    }
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    fail(b"HardFault")
}

#[exception]
unsafe fn DefaultHandler(_irqn: i16) {
    fail(b"unexpected exception or interrupt")
}

#[cfg(not(feature = "locate-panics"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        fn smn_firmware_core_has_a_reachable_panic_path() -> !;
    }
    // SAFETY: the symbol does not exist: linking fails if this is reachable.
    unsafe { smn_firmware_core_has_a_reachable_panic_path() }
}

/// Diagnostic build (`cargo xtask panic-paths`): links, and reports a panic
/// at run time.
#[cfg(feature = "locate-panics")]
#[panic_handler]
#[inline(never)]
fn panic(_: &core::panic::PanicInfo) -> ! {
    fail(b"panic")
}
