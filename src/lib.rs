//! Telemetry for text-to-speech services.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

pub mod monitor;
pub mod semconv;
mod synthesis;
pub mod system;

pub use monitor::{ExportError, Monitor, MonitorConfig, RtfTrend, Summary};
pub use synthesis::{Outcome, Stage, Stages, Synthesis, SynthesisSink};
