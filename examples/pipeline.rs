//! One-call set-up: run a few syntheses and export them over OTLP.
//!
//! Start a collector (for instance `docker compose -f otel-collector/compose.yaml up -d`), then:
//!
//! ```sh
//! OTEL_SERVICE_NAME=tts-example cargo run --example pipeline
//! ```
//!
//! Without a collector the example runs all the same, and says once where telemetry would go.

use std::time::Duration;

use tts_otel::pipeline::Pipeline;

/// A stand-in engine: 10 ms of work per 50 characters, 24 kHz audio.
fn engine(text: &str) -> Vec<f32> {
    std::thread::sleep(Duration::from_millis(10 * (text.len() as u64 / 50 + 1)));
    vec![0.0; text.len() * 240]
}

#[tracing::instrument(
    name = "tts.synthesize",
    skip_all,
    fields(
        tts.voice = voice,
        tts.text.chars = text.chars().count() as i64,
        tts.audio.seconds = tracing::field::Empty,
        tts.cache.hit = false,
    )
)]
fn synthesize(text: &str, voice: &str) -> Vec<f32> {
    let phonemes = tracing::info_span!("tts.stage.phonemize").in_scope(|| text.to_lowercase());
    let audio = tracing::info_span!("tts.stage.inference").in_scope(|| engine(&phonemes));
    tts_otel::first_audio();
    tracing::Span::current().record("tts.audio.seconds", audio.len() as f64 / 24_000.0);
    audio
}

fn main() {
    let telemetry = Pipeline::from_env()
        .with_service_name("tts-example")
        .with_service_version(env!("CARGO_PKG_VERSION"))
        .with_metric_export_interval(Duration::from_secs(5))
        .init();

    for (i, voice) in ["af_heart", "am_adam", "af_heart"].iter().enumerate() {
        let text = "Hello from the text to speech example. ".repeat(i + 1);
        let audio = synthesize(&text, voice);
        tracing::info!(voice, samples = audio.len(), "synthesised");
    }

    drop(telemetry); // flushes traces and metrics, within 5 seconds
}
