//! Recent system samples: a bounded ring, and the latest and average readings drawn from it.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::system::{GpuSample, SystemSample};

use super::clock::{rfc3339, unix_micros, unix_secs_f64};
use super::stats::finite_mean;

/// System readings of the summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SystemSummary {
    /// Samples kept now.
    pub samples: u64,
    /// The most samples kept.
    pub max_samples: u64,
    /// Configured sampling interval in seconds; `null` when sampling is off.
    pub interval_seconds: Option<f64>,
    /// The newest sample; `null` before the first one.
    pub latest: Option<SystemReading>,
    /// Averages over the kept samples; `null` before the first one.
    pub average: Option<SystemAverage>,
}

/// One system sample, as the summary shows it.
// TODO: this mirrors `SystemSample` field by field because that type is not `Deserialize`;
// a field added there is not shown here until it is added by hand.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SystemReading {
    /// When the sample was taken, RFC 3339 in UTC.
    pub taken_at: String,
    /// When the sample was taken, seconds since the Unix epoch.
    pub taken_at_unix_seconds: f64,
    /// Whole-system CPU utilisation, 0–1.
    pub system_cpu_utilization: Option<f64>,
    /// Memory in use, bytes.
    pub system_memory_used_bytes: u64,
    /// Memory available, bytes.
    pub system_memory_free_bytes: u64,
    /// Memory in use as a fraction of the total, 0–1.
    pub system_memory_utilization: Option<f64>,
    /// This process's CPU utilisation over all CPUs, 0–1.
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
    /// Bytes received over the network since the sampler started.
    pub network_receive_bytes: u64,
    /// Bytes sent over the network since the sampler started.
    pub network_transmit_bytes: u64,
    /// Each GPU.
    pub gpus: Vec<GpuReading>,
}

/// One GPU in one sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GpuReading {
    /// Device index.
    pub index: u32,
    /// Device name.
    pub name: String,
    /// Busy fraction, 0–1.
    pub utilization: Option<f64>,
    /// Memory in use, bytes.
    pub memory_used_bytes: u64,
    /// Memory size, bytes.
    pub memory_limit_bytes: u64,
}

/// Averages over the kept samples. Each is `null` when no sample had a finite value for it.
///
/// I/O totals are counters, so they are shown as rates between the oldest and newest sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SystemAverage {
    /// Samples averaged.
    pub samples: u64,
    /// Seconds from the oldest to the newest sample.
    pub span_seconds: f64,
    /// Mean whole-system CPU utilisation, 0–1.
    pub system_cpu_utilization: Option<f64>,
    /// Mean memory in use, bytes.
    pub system_memory_used_bytes: Option<f64>,
    /// Mean memory utilisation, 0–1.
    pub system_memory_utilization: Option<f64>,
    /// Mean process CPU utilisation, 0–1.
    pub process_cpu_utilization: Option<f64>,
    /// Mean process resident set size, bytes.
    pub process_memory_usage_bytes: Option<f64>,
    /// Mean process thread count.
    pub process_thread_count: Option<f64>,
    /// Disk read rate, bytes per second.
    pub disk_read_bytes_per_second: Option<f64>,
    /// Disk write rate, bytes per second.
    pub disk_write_bytes_per_second: Option<f64>,
    /// Network receive rate, bytes per second.
    pub network_receive_bytes_per_second: Option<f64>,
    /// Network transmit rate, bytes per second.
    pub network_transmit_bytes_per_second: Option<f64>,
    /// Mean GPU utilisation per device index, for devices in the newest sample.
    pub gpus: Vec<GpuAverage>,
}

/// Averages of one GPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GpuAverage {
    /// Device index.
    pub index: u32,
    /// Device name, from the newest sample.
    pub name: String,
    /// Mean busy fraction, 0–1.
    pub utilization: Option<f64>,
    /// Mean memory in use, bytes.
    pub memory_used_bytes: Option<f64>,
}

/// A sample with the time the monitor filed it under.
#[derive(Clone, Debug)]
pub(crate) struct Kept {
    at_us: i64,
    sample: SystemSample,
}

/// The ring of recent samples.
#[derive(Debug)]
pub(crate) struct SampleRing {
    samples: VecDeque<Kept>,
    capacity: usize,
}

impl SampleRing {
    pub(crate) fn new(capacity: usize) -> Self {
        SampleRing {
            samples: VecDeque::with_capacity(capacity.min(4096)),
            capacity,
        }
    }

    /// Keeps a sample, dropping the oldest when full; `now_us` stamps one taken without time.
    pub(crate) fn push(&mut self, sample: SystemSample, now_us: i64) {
        if self.capacity == 0 {
            return;
        }
        if self.samples.len() >= self.capacity {
            self.samples.pop_front();
        }
        let at_us = sample.taken_at.map_or(now_us, unix_micros);
        self.samples.push_back(Kept { at_us, sample });
    }

    /// Copies the kept samples, oldest first.
    pub(crate) fn copy(&self) -> Vec<Kept> {
        self.samples.iter().cloned().collect()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The system part of a summary, from samples copied out of the ring.
pub(crate) fn summarize(kept: &[Kept], max_samples: usize, interval: Option<f64>) -> SystemSummary {
    SystemSummary {
        samples: kept.len() as u64,
        max_samples: max_samples as u64,
        interval_seconds: interval,
        latest: kept.last().map(reading),
        average: (!kept.is_empty()).then(|| average(kept)),
    }
}

fn unit(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

fn reading(kept: &Kept) -> SystemReading {
    let s = &kept.sample;
    SystemReading {
        taken_at: rfc3339(kept.at_us),
        taken_at_unix_seconds: unix_secs_f64(kept.at_us),
        system_cpu_utilization: unit(s.system_cpu_utilization),
        system_memory_used_bytes: s.system_memory_used_bytes,
        system_memory_free_bytes: s.system_memory_free_bytes,
        system_memory_utilization: unit(s.system_memory_utilization),
        process_cpu_utilization: unit(s.process_cpu_utilization),
        process_memory_usage_bytes: s.process_memory_usage_bytes,
        process_memory_virtual_bytes: s.process_memory_virtual_bytes,
        process_thread_count: s.process_thread_count,
        disk_read_bytes: s.disk_read_bytes,
        disk_write_bytes: s.disk_write_bytes,
        network_receive_bytes: s.network_receive_bytes,
        network_transmit_bytes: s.network_transmit_bytes,
        gpus: s.gpus.iter().map(gpu_reading).collect(),
    }
}

fn gpu_reading(g: &GpuSample) -> GpuReading {
    GpuReading {
        index: g.index,
        name: g.name.clone(),
        utilization: unit(g.utilization),
        memory_used_bytes: g.memory_used_bytes,
        memory_limit_bytes: g.memory_limit_bytes,
    }
}

fn average(kept: &[Kept]) -> SystemAverage {
    let avg =
        |f: fn(&SystemSample) -> Option<f64>| finite_mean(kept.iter().filter_map(|k| f(&k.sample)));
    SystemAverage {
        samples: kept.len() as u64,
        span_seconds: span_seconds(kept).unwrap_or(0.0),
        system_cpu_utilization: avg(|s| s.system_cpu_utilization),
        system_memory_used_bytes: avg(|s| Some(s.system_memory_used_bytes as f64)),
        system_memory_utilization: avg(|s| s.system_memory_utilization),
        process_cpu_utilization: avg(|s| s.process_cpu_utilization),
        process_memory_usage_bytes: avg(|s| Some(s.process_memory_usage_bytes as f64)),
        process_thread_count: avg(|s| s.process_thread_count.map(|t| t as f64)),
        disk_read_bytes_per_second: rate(kept, |s| s.disk_read_bytes),
        disk_write_bytes_per_second: rate(kept, |s| s.disk_write_bytes),
        network_receive_bytes_per_second: rate(kept, |s| s.network_receive_bytes),
        network_transmit_bytes_per_second: rate(kept, |s| s.network_transmit_bytes),
        gpus: gpu_averages(kept),
    }
}

fn span_seconds(kept: &[Kept]) -> Option<f64> {
    let (first, last) = (kept.first()?, kept.last()?);
    let span = unix_secs_f64(last.at_us) - unix_secs_f64(first.at_us);
    (span.is_finite() && span > 0.0).then_some(span)
}

/// Growth of a counter between the oldest and newest sample, per second; `null` when the
/// samples span no time or the counter went backwards (a restarted sampler).
fn rate(kept: &[Kept], counter: fn(&SystemSample) -> u64) -> Option<f64> {
    let span = span_seconds(kept)?;
    let (first, last) = (
        counter(&kept.first()?.sample),
        counter(&kept.last()?.sample),
    );
    let rate = last.checked_sub(first)? as f64 / span;
    rate.is_finite().then_some(rate)
}

fn gpu_averages(kept: &[Kept]) -> Vec<GpuAverage> {
    let Some(latest) = kept.last() else {
        return Vec::new();
    };
    latest
        .sample
        .gpus
        .iter()
        .map(|g| gpu_average(kept, g))
        .collect()
}

fn gpu_average(kept: &[Kept], gpu: &GpuSample) -> GpuAverage {
    let same = || {
        kept.iter()
            .flat_map(|k| &k.sample.gpus)
            .filter(|g| g.index == gpu.index)
    };
    GpuAverage {
        index: gpu.index,
        name: gpu.name.clone(),
        utilization: finite_mean(same().filter_map(|g| g.utilization)),
        memory_used_bytes: finite_mean(same().map(|g| g.memory_used_bytes as f64)),
    }
}
