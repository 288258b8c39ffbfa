//! System and process resources.
//!
//! A [`SystemSampler`] reads CPU, memory, this process, disk and network I/O and, with the
//! `gpu` feature, NVIDIA GPUs, on its own thread at a configured interval (five seconds by
//! default). Observable instruments with the OpenTelemetry semantic-convention names (see
//! [`semconv::system_metric`](crate::semconv::system_metric)) report the latest reading, and
//! each reading is handed to the [`SampleSink`]s given at construction, such as the local
//! performance monitor.
//!
//! One line enables it:
//!
//! ```
//! # use opentelemetry::metrics::MeterProvider as _;
//! # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
//! # let meter = provider.meter(tts_otel::semconv::SCOPE_NAME);
//! use tts_otel::system::{SamplerConfig, SystemSampler};
//!
//! let sampler = SystemSampler::start(&meter, SamplerConfig::default(), vec![])?;
//! # Ok::<(), tts_otel::system::SamplerError>(())
//! ```
//!
//! The sampler stops when dropped; keep it alive as long as the service runs.
//!
//! # What is reported
//!
//! | metric | instrument | unit | attributes |
//! |---|---|---|---|
//! | `system.cpu.utilization` | gauge | `1` | — |
//! | `system.memory.usage` | up-down counter | `By` | `system.memory.state` = `used` \| `free` |
//! | `system.memory.utilization` | gauge | `1` | `system.memory.state` = `used` |
//! | `process.cpu.utilization` | gauge | `1` | — |
//! | `process.memory.usage` | up-down counter | `By` | — |
//! | `process.memory.virtual` | up-down counter | `By` | — |
//! | `process.thread.count` | up-down counter | `{thread}` | — |
//! | `system.disk.io` | counter | `By` | `disk.io.direction` = `read` \| `write` |
//! | `system.network.io` | counter | `By` | `network.io.direction` = `receive` \| `transmit` |
//! | `hw.gpu.utilization` | gauge | `1` | `hw.id`, `hw.name`, `hw.type` = `gpu` |
//! | `hw.gpu.memory.usage`, `hw.gpu.memory.limit` | up-down counter | `By` | as above |
//!
//! CPU utilisations appear only once two readings at least 200 ms apart exist; before that
//! no data point is reported rather than a false zero. Process CPU is normalised by the CPUs
//! available to the process, so it lies in `[0, 1]`. I/O counters count bytes since the
//! sampler first read them, summed over devices (loopback network interfaces excluded), and
//! never decrease.

mod config;
#[cfg(feature = "system")]
mod gpu;
#[cfg(feature = "system")]
mod instruments;
#[cfg(feature = "system")]
mod latest;
#[cfg(feature = "system")]
mod reader;
mod sample;
#[cfg(feature = "system")]
mod sampler;

pub use config::{SamplerConfig, SamplerError};
pub use sample::{GpuSample, SampleSink, SystemSample};
#[cfg(feature = "system")]
pub use sampler::SystemSampler;
