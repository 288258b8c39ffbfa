//! The smallest integration: one attribute on the synthesis function, one call at start-up,
//! and a guard that flushes at exit. Traces and metrics go over OTLP/HTTP to
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4318`); without a collector the
//! program runs on and says once where telemetry would have gone.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

/// Stands in for a real engine: 22.05 kHz silence, about one second per 15 characters.
#[tracing::instrument(
    name = "tts.synthesize",
    skip_all,
    fields(tts.voice = %voice, tts.text.chars = text.chars().count() as i64, tts.audio.seconds),
    err
)]
fn synthesize(voice: &str, text: &str) -> Result<Vec<i16>, std::io::Error> {
    let samples = vec![0i16; 22_050 * text.len() / 15];
    tracing::Span::current().record("tts.audio.seconds", samples.len() as f64 / 22_050.0);
    Ok(samples)
}

fn main() -> Result<(), std::io::Error> {
    let monitor = tts_otel::Monitor::default(); // optional: local summary, trend, export
    let _telemetry = tts_otel::Pipeline::from_env()
        .with_service_name("quickstart")
        .with_monitor(monitor.clone())
        .init();

    for voice in ["en-us", "en-gb"] {
        synthesize(voice, "Hello from the quick start.")?;
    }
    println!("{} syntheses", monitor.summary().requests.total);
    Ok(())
} // `_telemetry` drops here: everything recorded is flushed, within a bounded time
