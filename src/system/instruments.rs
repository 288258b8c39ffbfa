//! Observable instruments that report the latest system sample.
//!
//! They are registered once, when the sampler is built. Their callbacks run on whichever
//! thread collects metrics (a periodic reader, a Prometheus scrape) and only clone an `Arc`
//! out of the shared latest sample: they never refresh sysinfo, never wait for a refresh,
//! allocate only for GPU attributes, and need no async runtime. While the sampler is stopped
//! they observe nothing, so a stale reading is never reported as current.
//!
//! Instrument kinds follow the semantic conventions: utilisations are gauges, sizes and
//! counts (memory, threads, GPU memory) are up-down counters, I/O totals are monotonic
//! counters.

use opentelemetry::metrics::{AsyncInstrument, Meter};
use opentelemetry::KeyValue;

use super::latest::Latest;
use super::{SamplerConfig, SystemSample};
use crate::semconv::{system_attr as attr, system_metric as metric, unit};

/// Registers the instruments for the parts that `config` reads.
pub(crate) fn register(meter: &Meter, config: &SamplerConfig, latest: &Latest) {
    if config.system_cpu {
        register_system_cpu(meter, latest);
    }
    if config.system_memory {
        register_memory(meter, latest);
    }
    if config.process {
        register_process(meter, latest);
    }
    if config.disks {
        register_disk_io(meter, latest);
    }
    if config.networks {
        register_network_io(meter, latest);
    }
    if config.reads_gpus() {
        register_gpus(meter, latest);
    }
}

/// Wraps a reading function into a callback over the latest live sample.
fn observe<T>(
    latest: &Latest,
    read: impl Fn(&SystemSample, &dyn AsyncInstrument<T>) + Send + Sync + 'static,
) -> impl Fn(&dyn AsyncInstrument<T>) + Send + Sync + 'static {
    let latest = latest.clone();
    move |observer| {
        if let Some(sample) = latest.observed() {
            read(&sample, observer);
        }
    }
}

/// Clamps a byte count into the `i64` range of up-down counters.
fn signed(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

fn register_system_cpu(meter: &Meter, latest: &Latest) {
    meter
        .f64_observable_gauge(metric::CPU_UTILIZATION)
        .with_unit(unit::RATIO)
        .with_description("Fraction of CPU time spent busy across all CPUs")
        .with_callback(observe(latest, |sample, observer| {
            if let Some(value) = sample.system_cpu_utilization {
                observer.observe(value, &[]);
            }
        }))
        .build();
}

fn register_memory(meter: &Meter, latest: &Latest) {
    let used = [KeyValue::new(attr::MEMORY_STATE, attr::MEMORY_USED)];
    let free = [KeyValue::new(attr::MEMORY_STATE, attr::MEMORY_FREE)];
    let used_ratio = used.clone();

    meter
        .i64_observable_up_down_counter(metric::MEMORY_USAGE)
        .with_unit(unit::BYTES)
        .with_description("System memory in use (total less available) and available")
        .with_callback(observe(latest, move |sample, observer| {
            observer.observe(signed(sample.system_memory_used_bytes), &used);
            observer.observe(signed(sample.system_memory_free_bytes), &free);
        }))
        .build();

    meter
        .f64_observable_gauge(metric::MEMORY_UTILIZATION)
        .with_unit(unit::RATIO)
        .with_description("Fraction of system memory in use")
        .with_callback(observe(latest, move |sample, observer| {
            if let Some(value) = sample.system_memory_utilization {
                observer.observe(value, &used_ratio);
            }
        }))
        .build();
}

fn register_process(meter: &Meter, latest: &Latest) {
    meter
        .f64_observable_gauge(metric::PROCESS_CPU_UTILIZATION)
        .with_unit(unit::RATIO)
        .with_description("Fraction of the available CPUs' time this process spent busy")
        .with_callback(observe(latest, |sample, observer| {
            if let Some(value) = sample.process_cpu_utilization {
                observer.observe(value, &[]);
            }
        }))
        .build();

    meter
        .i64_observable_up_down_counter(metric::PROCESS_MEMORY_USAGE)
        .with_unit(unit::BYTES)
        .with_description("Resident set size of this process")
        .with_callback(observe(latest, |sample, observer| {
            observer.observe(signed(sample.process_memory_usage_bytes), &[]);
        }))
        .build();

    meter
        .i64_observable_up_down_counter(metric::PROCESS_MEMORY_VIRTUAL)
        .with_unit(unit::BYTES)
        .with_description("Virtual memory size of this process")
        .with_callback(observe(latest, |sample, observer| {
            observer.observe(signed(sample.process_memory_virtual_bytes), &[]);
        }))
        .build();

    meter
        .i64_observable_up_down_counter(metric::PROCESS_THREAD_COUNT)
        .with_unit(unit::THREAD)
        .with_description("Threads of this process")
        .with_callback(observe(latest, |sample, observer| {
            if let Some(count) = sample.process_thread_count {
                observer.observe(signed(count), &[]);
            }
        }))
        .build();
}

fn register_disk_io(meter: &Meter, latest: &Latest) {
    let read = [KeyValue::new(attr::DISK_IO_DIRECTION, attr::DISK_READ)];
    let write = [KeyValue::new(attr::DISK_IO_DIRECTION, attr::DISK_WRITE)];

    meter
        .u64_observable_counter(metric::DISK_IO)
        .with_unit(unit::BYTES)
        .with_description("Disk bytes read and written since the sampler started")
        .with_callback(observe(latest, move |sample, observer| {
            observer.observe(sample.disk_read_bytes, &read);
            observer.observe(sample.disk_write_bytes, &write);
        }))
        .build();
}

fn register_network_io(meter: &Meter, latest: &Latest) {
    let receive = [KeyValue::new(
        attr::NETWORK_IO_DIRECTION,
        attr::NETWORK_RECEIVE,
    )];
    let transmit = [KeyValue::new(
        attr::NETWORK_IO_DIRECTION,
        attr::NETWORK_TRANSMIT,
    )];

    meter
        .u64_observable_counter(metric::NETWORK_IO)
        .with_unit(unit::BYTES)
        .with_description("Network bytes received and transmitted since the sampler started")
        .with_callback(observe(latest, move |sample, observer| {
            observer.observe(sample.network_receive_bytes, &receive);
            observer.observe(sample.network_transmit_bytes, &transmit);
        }))
        .build();
}

/// `hw.id`, `hw.name` and `hw.type` of one GPU.
fn gpu_attributes(gpu: &super::GpuSample) -> [KeyValue; 3] {
    [
        KeyValue::new(attr::HW_ID, gpu.id.clone()),
        KeyValue::new(attr::HW_NAME, gpu.name.clone()),
        KeyValue::new(attr::HW_TYPE, attr::HW_TYPE_GPU),
    ]
}

fn register_gpus(meter: &Meter, latest: &Latest) {
    meter
        .f64_observable_gauge(metric::GPU_UTILIZATION)
        .with_unit(unit::RATIO)
        .with_description("Fraction of time a GPU was running kernels")
        .with_callback(observe(latest, |sample, observer| {
            for gpu in &sample.gpus {
                if let Some(value) = gpu.utilization {
                    observer.observe(value, &gpu_attributes(gpu));
                }
            }
        }))
        .build();

    register_gpu_memory(meter, latest, metric::GPU_MEMORY_USAGE, |gpu| {
        gpu.memory_used_bytes
    });
    register_gpu_memory(meter, latest, metric::GPU_MEMORY_LIMIT, |gpu| {
        gpu.memory_limit_bytes
    });
}

/// A GPU memory instrument; a device whose memory could not be read (size 0) is skipped.
fn register_gpu_memory(
    meter: &Meter,
    latest: &Latest,
    name: &'static str,
    bytes: fn(&super::GpuSample) -> u64,
) {
    meter
        .i64_observable_up_down_counter(name)
        .with_unit(unit::BYTES)
        .with_description("GPU memory, per device")
        .with_callback(observe(latest, move |sample, observer| {
            let readable = sample.gpus.iter().filter(|gpu| gpu.memory_limit_bytes > 0);
            for gpu in readable {
                observer.observe(signed(bytes(gpu)), &gpu_attributes(gpu));
            }
        }))
        .build();
}
