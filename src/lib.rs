//! Telemetry for text-to-speech services.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

mod instruments;
mod labels;
mod layer;
// TODO: the pipeline needs the `otlp` feature even where nothing is exported (a log and local
// sinks only); splitting the exporters out would let such builds skip tonic and reqwest.
#[cfg(feature = "otlp")]
pub mod pipeline;
pub mod semconv;
mod synthesis;
pub mod system;

pub use layer::{first_audio, SynthesisLayer, SynthesisLayerBuilder};
#[cfg(feature = "otlp")]
pub use pipeline::{Pipeline, TelemetryGuard};
pub use synthesis::{Outcome, Stage, Stages, Synthesis, SynthesisSink};
