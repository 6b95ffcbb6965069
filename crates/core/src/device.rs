//! Device set-up: choosing a device's float dtype once per process.

use crate::{Error, Result};
use burn::tensor::{Device, FloatDType};

/// Sets `device`'s default float dtype, or checks that it already has it.
///
/// Burn fixes a device's dtype once per process (the first `configure`, or the first tensor made on
/// it, wins). Calling this twice with the same dtype is fine; asking for another dtype after the
/// device was configured is an error naming both.
pub fn with_float_dtype(mut device: Device, dtype: FloatDType) -> Result<Device> {
    if device.configure(dtype).is_err() {
        let current = device.settings().float_dtype;
        if current != dtype {
            return Err(Error::Device(format!(
                "{device:?} already uses {current:?} in this process; cannot switch to {dtype:?} \
                 (use one dtype per device per process)"
            )));
        }
    }
    Ok(device)
}
