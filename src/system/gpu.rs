//! GPU readings through NVML (feature `gpu`).
//!
//! NVML is loaded at run time on the sampler thread, at the first reading, so a binary built
//! with the feature starts and runs on a machine without an NVIDIA driver: there the reader
//! logs once at debug level and reads nothing from then on. Without the feature the reader is
//! an empty stand-in.

use super::GpuSample;

/// Reads every GPU that NVML reports.
#[derive(Debug, Default)]
pub(crate) struct GpuReader {
    #[cfg(feature = "gpu")]
    state: nvml::State,
}

#[cfg(not(feature = "gpu"))]
impl GpuReader {
    /// Reads nothing: the crate was built without the `gpu` feature.
    pub(crate) fn read(&mut self) -> Vec<GpuSample> {
        Vec::new()
    }
}

#[cfg(feature = "gpu")]
impl GpuReader {
    /// Reads each device's utilisation and memory; empty without NVML or without a GPU.
    ///
    /// Costs, per device, three NVML queries (a few microseconds each on a local driver).
    pub(crate) fn read(&mut self) -> Vec<GpuSample> {
        match self.state.ready() {
            Some(gpus) => gpus.read(),
            None => Vec::new(),
        }
    }
}

#[cfg(feature = "gpu")]
mod nvml {
    use nvml_wrapper::Nvml;

    use super::GpuSample;
    use crate::semconv::DIAGNOSTICS_TARGET;

    /// NVML, once tried: loaded with its devices' fixed identity, or known to be missing.
    #[derive(Debug, Default)]
    pub(super) enum State {
        #[default]
        Untried,
        // Boxed: the library handle holds thousands of bytes of function pointers.
        Ready(Box<Gpus>),
        Unavailable,
    }

    impl State {
        /// The loaded library, loading it on first use.
        pub(super) fn ready(&mut self) -> Option<&Gpus> {
            if matches!(self, State::Untried) {
                *self =
                    Gpus::load().map_or(State::Unavailable, |gpus| State::Ready(Box::new(gpus)));
            }

            match self {
                State::Ready(gpus) => Some(gpus),
                _ => None,
            }
        }
    }

    /// The library handle and each device's identifier and name, read once.
    #[derive(Debug)]
    pub(super) struct Gpus {
        nvml: Nvml,
        devices: Vec<(String, String)>,
    }

    impl Gpus {
        fn load() -> Option<Self> {
            let nvml = match Nvml::init() {
                Ok(nvml) => nvml,
                Err(error) => {
                    tracing::debug!(
                        target: DIAGNOSTICS_TARGET,
                        %error,
                        "NVML unavailable; GPU readings disabled"
                    );
                    return None;
                }
            };

            let devices = identify(&nvml);
            tracing::debug!(target: DIAGNOSTICS_TARGET, gpus = devices.len(), "NVML loaded");
            Some(Self { nvml, devices })
        }

        // TODO: this path has only run where NVML is missing; readings from a real driver,
        // and from MIG devices, whose utilisation NVML does not report, are unverified.
        pub(super) fn read(&self) -> Vec<GpuSample> {
            let devices = self.devices.iter().zip(0u32..);
            devices
                .map(|((id, name), index)| self.read_device(index, id, name))
                .collect()
        }

        fn read_device(&self, index: u32, id: &str, name: &str) -> GpuSample {
            let device = self.nvml.device_by_index(index).ok();
            let utilization = device.as_ref().and_then(|d| d.utilization_rates().ok());
            let memory = device.as_ref().and_then(|d| d.memory_info().ok());

            GpuSample {
                index,
                id: id.to_owned(),
                name: name.to_owned(),
                utilization: utilization.map(|u| f64::from(u.gpu.min(100)) / 100.0),
                memory_used_bytes: memory.as_ref().map_or(0, |m| m.used),
                memory_limit_bytes: memory.as_ref().map_or(0, |m| m.total),
            }
        }
    }

    /// Each device's UUID (or `gpu<index>`) and model name.
    fn identify(nvml: &Nvml) -> Vec<(String, String)> {
        // TODO: devices are listed once, when NVML loads; a GPU added or removed while the
        // process runs is not noticed until it restarts.
        let count = nvml.device_count().unwrap_or(0);
        let identity = |index: u32| {
            let device = nvml.device_by_index(index).ok();
            let id = device.as_ref().and_then(|d| d.uuid().ok());
            let name = device.as_ref().and_then(|d| d.name().ok());
            (
                id.unwrap_or_else(|| format!("gpu{index}")),
                name.unwrap_or_default(),
            )
        };

        (0..count).map(identity).collect()
    }
}
