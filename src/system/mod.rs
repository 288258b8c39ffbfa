//! System and process resources.

mod sample;

pub use sample::{GpuSample, SampleSink, SystemSample};
