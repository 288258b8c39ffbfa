//! What the system sampler reads, how often, and what can go wrong when it starts.

use std::time::Duration;

/// Configuration of a [`SystemSampler`](super::SystemSampler): the interval between readings
/// and which parts of the system to read.
///
/// Every part is on by default; turning one off saves its reading cost and leaves its
/// instruments unregistered, so no zero is ever reported for something that was not read.
///
/// ```
/// use std::time::Duration;
/// use tts_otel::system::SamplerConfig;
///
/// let config = SamplerConfig::default()
///     .with_interval(Duration::from_secs(10))
///     .with_disks(false);
/// assert_eq!(config.interval, Duration::from_secs(10));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SamplerConfig {
    /// Time between two readings; [`SamplerConfig::DEFAULT_INTERVAL`] unless set. CPU
    /// utilisations need two readings at least 200 ms apart, so with a shorter interval they
    /// are updated less often than the rest.
    pub interval: Duration,
    /// Read whole-system CPU utilisation.
    pub system_cpu: bool,
    /// Read system memory.
    pub system_memory: bool,
    /// Read this process's CPU utilisation, memory and thread count.
    pub process: bool,
    /// Read disk I/O.
    pub disks: bool,
    /// Read network I/O (loopback interfaces excluded).
    pub networks: bool,
    /// Read GPUs through NVML; needs the `gpu` feature, otherwise ignored.
    pub gpus: bool,
}

impl SamplerConfig {
    /// Interval between readings unless configured: five seconds.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

    /// Sets the interval between readings.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Turns reading whole-system CPU utilisation on or off.
    pub fn with_system_cpu(mut self, on: bool) -> Self {
        self.system_cpu = on;
        self
    }

    /// Turns reading system memory on or off.
    pub fn with_system_memory(mut self, on: bool) -> Self {
        self.system_memory = on;
        self
    }

    /// Turns reading this process's CPU, memory and threads on or off.
    pub fn with_process(mut self, on: bool) -> Self {
        self.process = on;
        self
    }

    /// Turns reading disk I/O on or off.
    pub fn with_disks(mut self, on: bool) -> Self {
        self.disks = on;
        self
    }

    /// Turns reading network I/O on or off.
    pub fn with_networks(mut self, on: bool) -> Self {
        self.networks = on;
        self
    }

    /// Turns reading GPUs on or off (only effective with the `gpu` feature).
    pub fn with_gpus(mut self, on: bool) -> Self {
        self.gpus = on;
        self
    }

    /// Whether GPUs are both asked for and compiled in.
    #[cfg(feature = "system")]
    pub(crate) fn reads_gpus(&self) -> bool {
        self.gpus && cfg!(feature = "gpu")
    }
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            interval: Self::DEFAULT_INTERVAL,
            system_cpu: true,
            system_memory: true,
            process: true,
            disks: true,
            networks: true,
            gpus: true,
        }
    }
}

/// Why a [`SystemSampler`](super::SystemSampler) could not be created or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SamplerError {
    /// The configured interval is zero.
    #[error("the sampling interval must be longer than zero")]
    ZeroInterval,
    /// System readings are not available on this platform.
    #[error("system readings are unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The operating system refused to start the sampler thread.
    #[error("could not start the sampler thread: {0}")]
    Spawn(#[source] std::io::Error),
}
