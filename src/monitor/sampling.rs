//! Starting and stopping the system sampler that feeds a monitor's system readings.

use std::sync::{Arc, Weak};

use opentelemetry::metrics::Meter;

use super::{lock, Monitor, Shared};
use crate::semconv::SCOPE_NAME;
use crate::system::{SampleSink, SamplerConfig, SamplerError, SystemSample, SystemSampler};

/// Hands samples to a monitor without keeping it alive, so a monitor whose last handle is
/// dropped also stops and drops its sampler.
struct WeakMonitor(Weak<Shared>);

impl SampleSink for WeakMonitor {
    fn record_sample(&self, sample: &SystemSample) {
        if let Some(shared) = self.0.upgrade() {
            Monitor { shared }.keep_sample(sample);
        }
    }
}

impl Monitor {
    /// Starts sampling system and process resources at the configured interval
    /// ([`MonitorConfig::with_system_interval`](super::MonitorConfig::with_system_interval)),
    /// on a thread of its own, reporting the observable instruments through the global meter
    /// provider (a no-op until one is installed). What LiteTTS's `start_monitoring` did.
    ///
    /// Does nothing when sampling is turned off in the config or already running; after
    /// [`stop_monitoring`](Self::stop_monitoring) it resumes the same sampler, so instruments
    /// are registered once and one sampler thread runs at most.
    ///
    /// # Errors
    ///
    /// [`SamplerError`] when the system cannot be read or the thread cannot be started.
    pub fn start_monitoring(&self) -> Result<(), SamplerError> {
        self.start_monitoring_with(&opentelemetry::global::meter(SCOPE_NAME))
    }

    /// As [`start_monitoring`](Self::start_monitoring), reporting through `meter`. The meter
    /// of the first start is kept for later starts.
    ///
    /// # Errors
    ///
    /// [`SamplerError`] when the system cannot be read or the thread cannot be started.
    pub fn start_monitoring_with(&self, meter: &Meter) -> Result<(), SamplerError> {
        let Some(interval) = self.shared.config.system_interval() else {
            return Ok(());
        };
        let mut slot = lock(&self.shared.sampler);
        if let Some(sampler) = slot.as_ref() {
            return sampler.resume();
        }
        let sink: Arc<dyn SampleSink> = Arc::new(WeakMonitor(Arc::downgrade(&self.shared)));
        let config = SamplerConfig::default().with_interval(interval);
        *slot = Some(SystemSampler::start(meter, config, vec![sink])?);
        Ok(())
    }

    /// Stops the system sampler, joining its thread within about a second. Idempotent; the
    /// readings already kept stay in the summary.
    pub fn stop_monitoring(&self) {
        if let Some(sampler) = lock(&self.shared.sampler).as_ref() {
            sampler.stop();
        }
    }

    /// Whether the system sampler is running.
    pub fn is_monitoring(&self) -> bool {
        lock(&self.shared.sampler)
            .as_ref()
            .is_some_and(SystemSampler::is_running)
    }
}
