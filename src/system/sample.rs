//! One reading of system and process resources: a plain value, independent of how it was read.

use std::time::SystemTime;

use serde::Serialize;

/// System and process resources at one moment.
///
/// Utilisations are fractions in `[0, 1]`. A CPU utilisation is `None` until two refreshes far
/// enough apart have been taken, since a single refresh cannot tell how busy a CPU was. I/O
/// totals are monotonic byte counts since the sampler started, never since boot.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SystemSample {
    /// When the reading was taken.
    #[serde(skip)]
    pub taken_at: Option<SystemTime>,
    /// Whole-system CPU utilisation, 0–1.
    pub system_cpu_utilization: Option<f64>,
    /// Memory in use, bytes.
    pub system_memory_used_bytes: u64,
    /// Memory free (available), bytes.
    pub system_memory_free_bytes: u64,
    /// Memory in use as a fraction of the total, 0–1.
    pub system_memory_utilization: Option<f64>,
    /// This process's CPU utilisation, normalised by the number of CPUs, 0–1.
    pub process_cpu_utilization: Option<f64>,
    /// This process's resident set size, bytes.
    pub process_memory_usage_bytes: u64,
    /// This process's virtual memory size, bytes.
    pub process_memory_virtual_bytes: u64,
    /// This process's thread count.
    pub process_thread_count: Option<u64>,
    /// Bytes read from disks since the sampler started.
    pub disk_read_bytes: u64,
    /// Bytes written to disks since the sampler started.
    pub disk_write_bytes: u64,
    /// Bytes received over network interfaces since the sampler started.
    pub network_receive_bytes: u64,
    /// Bytes transmitted over network interfaces since the sampler started.
    pub network_transmit_bytes: u64,
    /// Readings of each GPU, empty without a GPU or without the `gpu` feature.
    pub gpus: Vec<GpuSample>,
}

/// One GPU at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct GpuSample {
    /// Device index as the management library numbers it.
    pub index: u32,
    /// Identifier unique within the host and stable across restarts (the device UUID where
    /// the management library reports one, otherwise `gpu<index>`); reported as `hw.id`.
    pub id: String,
    /// Device name.
    pub name: String,
    /// Busy fraction, 0–1.
    pub utilization: Option<f64>,
    /// Memory in use, bytes.
    pub memory_used_bytes: u64,
    /// Memory size, bytes.
    pub memory_limit_bytes: u64,
}

/// A consumer of system samples, such as the local performance monitor.
///
/// `record_sample` runs on the sampler's thread; it must be cheap and must not panic.
pub trait SampleSink: Send + Sync + 'static {
    /// Takes one sample.
    fn record_sample(&self, sample: &SystemSample);
}
