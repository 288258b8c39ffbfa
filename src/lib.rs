//! Telemetry for text-to-speech services.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

mod instruments;
mod labels;
mod layer;
#[cfg(feature = "otlp")]
pub mod pipeline;
pub mod semconv;
mod synthesis;
pub mod system;

pub use layer::{first_audio, SynthesisLayer, SynthesisLayerBuilder};
pub use synthesis::{Outcome, Stage, Stages, Synthesis, SynthesisSink};
