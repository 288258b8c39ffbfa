//! Telemetry for text-to-speech services.
//!
//! `tts-otel` turns synthesis spans into OpenTelemetry metrics: latency and real-time-factor
//! (RTF) histograms, time to first audio, stage timings and cache counters, each with a small,
//! bounded attribute set and bucket boundaries that fit seconds and ratios.
//!
//! # Quick start
//!
//! Put `#[tracing::instrument]` on the synthesis function, naming the span `tts.synthesize` and
//! declaring the contract's fields; install [`SynthesisLayer`] over a meter:
//!
//! ```
//! use opentelemetry::metrics::MeterProvider as _;
//! use opentelemetry_sdk::metrics::SdkMeterProvider;
//! use tracing_subscriber::prelude::*;
//!
//! #[tracing::instrument(
//!     name = "tts.synthesize",
//!     skip_all,
//!     fields(tts.voice = %voice, tts.text.chars = text.chars().count(), tts.audio.seconds)
//! )]
//! fn synthesize(voice: &str, text: &str) -> Vec<f32> {
//!     let samples = vec![0.0; 24_000]; // the engine runs here
//!     tracing::Span::current().record("tts.audio.seconds", samples.len() as f64 / 24_000.0);
//!     samples
//! }
//!
//! let provider = SdkMeterProvider::builder().build(); // add an OTLP or Prometheus reader
//! let layer = tts_otel::SynthesisLayer::new(&provider.meter(tts_otel::semconv::SCOPE_NAME));
//! tracing_subscriber::registry().with(layer).init();
//!
//! synthesize("en-us", "Hello, world.");
//! ```
//!
//! # The parts
//!
//! - [`SynthesisLayer`]: notices synthesis spans and measures each into a [`Synthesis`].
//! - The instruments it records into, named in [`semconv`].
//! - [`SynthesisSink`]: anything else that wants each finished synthesis.
//! - [`system`]: system and process resources.
//! - `http` (feature `http`): an `axum` router with a Prometheus scrape endpoint and the
//!   monitor's endpoints.
//!
//! The telemetry contract, what a span must carry and what is recorded, is described on
//! [`SynthesisLayer`]'s module and in the README.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

#[cfg(feature = "http")]
pub mod http;
mod instruments;
mod labels;
mod layer;
pub mod monitor;
// TODO: the pipeline needs the `otlp` feature even where nothing is exported (a log and local
// sinks only); splitting the exporters out would let such builds skip tonic and reqwest.
#[cfg(feature = "otlp")]
pub mod pipeline;
pub mod semconv;
mod synthesis;
pub mod system;

pub use layer::{first_audio, SynthesisLayer, SynthesisLayerBuilder};
pub use monitor::{ExportError, Monitor, MonitorConfig, RtfTrend, Summary};
#[cfg(feature = "otlp")]
pub use pipeline::{Pipeline, TelemetryGuard};
pub use synthesis::{Outcome, Stage, Stages, Synthesis, SynthesisSink};
