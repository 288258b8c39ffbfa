//! The smallest integration: one attribute on the synthesis function, one call at start-up,
//! one flush at exit. Metrics go over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (default `http://localhost:4318`).
//!
//! ```sh
//! cargo run --example quickstart
//! ```
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tracing_subscriber::prelude::*;

/// Stands in for a real engine: 22.05 kHz silence, about one second per 15 characters.
#[tracing::instrument(
    name = "tts.synthesize",
    skip(text),
    fields(tts.voice = %voice, tts.text.chars = text.chars().count(), tts.audio.seconds),
    err
)]
fn synthesize(voice: &str, text: &str) -> Result<Vec<i16>, std::io::Error> {
    let samples = vec![0i16; 22_050 * text.len() / 15];
    tracing::Span::current().record("tts.audio.seconds", samples.len() as f64 / 22_050.0);
    Ok(samples)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .build()?;
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter)
        .build();
    let layer = tts_otel::SynthesisLayer::new(&provider.meter(tts_otel::semconv::SCOPE_NAME));
    tracing_subscriber::registry().with(layer).init();

    for voice in ["en-us", "en-gb"] {
        synthesize(voice, "Hello from the quick start.")?;
    }

    // Flushes what was recorded; without a collector listening, says so and exits normally.
    if let Err(error) = provider.shutdown() {
        eprintln!("metrics were not delivered: {error}");
    }
    Ok(())
}
