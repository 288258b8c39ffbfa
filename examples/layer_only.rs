//! The synthesis layer and the local monitor on a meter provider of your own, here one that
//! exports over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`).
//!
//! ```sh
//! cargo run --example layer_only
//! ```

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use tracing_subscriber::prelude::*;

#[tracing::instrument(
    name = "tts.synthesize",
    fields(tts.voice = %voice, tts.audio.seconds, tts.cache.hit = false)
)]
fn synthesize(voice: &str) {
    tracing::info_span!("tts.stage.inference").in_scope(|| {});
    tracing::Span::current().record("tts.audio.seconds", 1.5);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .build()?;
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter).build())
        .build();
    let monitor = tts_otel::Monitor::default();
    let layer = tts_otel::SynthesisLayer::builder(&provider.meter(tts_otel::semconv::SCOPE_NAME))
        .with_sink(monitor.clone())
        .build();
    tracing_subscriber::registry().with(layer).init();

    synthesize("en-us");
    let summary = monitor.summary();
    println!("{}", serde_json::to_string_pretty(&summary.rtf)?);

    // Without a collector the final export fails, and says so; nothing else waits on it.
    let _ = provider.shutdown();
    Ok(())
}
