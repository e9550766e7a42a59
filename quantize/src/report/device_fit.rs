//! Whether a blob fits a microcontroller class, and how fast it would run
//! there: every figure comes from firmware-core's simulated devices
//! (`smn_firmware_core::sim`), none is re-derived here.
use crate::error::QuantizeError;
use serde::Serialize;
use smn_firmware_core::sim::{ram_needed, DeviceProfile, SimError, SimulatedDevice};
use smn_firmware_core::Model;

/// Memory and speed on one device profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceFit {
    /// Profile name (`cortex-m4`, …).
    pub device: String,
    /// Blob + reserved flash.
    pub flash_needed: usize,
    /// Device flash.
    pub flash_bytes: usize,
    /// Arena + image + model struct + reserved RAM.
    pub ram_needed: usize,
    /// Device RAM.
    pub ram_bytes: usize,
    /// Both budgets hold.
    pub fits: bool,
    /// Estimated latency (firmware-core's per-op Cortex-M4 instruction rates ×
    /// the core's cycles per instruction / clock), milliseconds.
    pub latency_ms: f64,
}

impl DeviceFit {
    /// Flashes `blob` onto a [`SimulatedDevice`] of `profile` and runs a
    /// mid-grey image on it: `fits` is whether the simulated device accepts
    /// both; the needs are what its [`SimError`]s report (blob + reserved
    /// flash; [`ram_needed`] + reserved RAM), the latency is
    /// [`DeviceProfile::estimated_seconds`].
    pub(crate) fn simulate(profile: DeviceProfile, blob: &[u8]) -> Result<DeviceFit, QuantizeError> {
        let model = Model::from_bytes(blob)?;
        let mut device = SimulatedDevice::new(profile);
        let image = vec![128u8; model.input_len()];
        let fits = match device.flash(blob).and_then(|()| device.infer(&image)) {
            Ok(_) => true,
            Err(SimError::FlashTooSmall { .. } | SimError::RamTooSmall { .. }) => false,
            Err(SimError::Model(e)) => return Err(e.into()),
        };
        Ok(DeviceFit {
            device: profile.name.into(),
            flash_needed: blob.len() + profile.flash_reserved_bytes,
            flash_bytes: profile.flash_bytes,
            ram_needed: ram_needed(&model) + profile.ram_reserved_bytes,
            ram_bytes: profile.ram_bytes,
            fits,
            latency_ms: profile.estimated_seconds(&model) * 1e3,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smn_firmware_core::builder::{random_smn_blob, SmnShape};
    use smn_firmware_core::sim::{CORTEX_M4, PROFILES};

    fn blob() -> Vec<u8> {
        random_smn_blob(&SmnShape::micro(), 3).unwrap()
    }

    /// The needs are exactly what the simulated device refuses a blob with.
    #[test]
    fn needs_are_the_simulated_device_refusals() {
        let blob = blob();
        let small_flash = DeviceProfile {
            flash_bytes: 1024,
            ..CORTEX_M4
        };
        let fit = DeviceFit::simulate(small_flash, &blob).unwrap();
        assert!(!fit.fits);
        match SimulatedDevice::new(small_flash).flash(&blob) {
            Err(SimError::FlashTooSmall { needed, .. }) => assert_eq!(needed, fit.flash_needed),
            other => panic!("{other:?}"),
        }
        let small_ram = DeviceProfile {
            ram_bytes: 1024,
            ..CORTEX_M4
        };
        let fit = DeviceFit::simulate(small_ram, &blob).unwrap();
        assert!(!fit.fits);
        let mut device = SimulatedDevice::new(small_ram);
        device.flash(&blob).unwrap();
        match device.infer(&vec![0; Model::from_bytes(&blob).unwrap().input_len()]) {
            Err(SimError::RamTooSmall { needed, .. }) => assert_eq!(needed, fit.ram_needed),
            other => panic!("{other:?}"),
        }
    }

    /// A fitting device reports the simulated run's latency and RAM.
    #[test]
    fn a_fitting_device_matches_the_simulated_run() {
        let blob = blob();
        let model = Model::from_bytes(&blob).unwrap();
        for profile in PROFILES {
            let fit = DeviceFit::simulate(profile, &blob).unwrap();
            assert!(fit.fits, "{fit:?}");
            let mut device = SimulatedDevice::new(profile);
            device.flash(&blob).unwrap();
            let run = device.infer(&vec![128; model.input_len()]).unwrap();
            assert_eq!(run.ram_used + profile.ram_reserved_bytes, fit.ram_needed);
            assert_eq!(run.flash_used + profile.flash_reserved_bytes, fit.flash_needed);
            assert_eq!(run.estimated_seconds * 1e3, fit.latency_ms);
        }
    }
}
