//! What telemetry costs per synthesis, measured in the demo's own process: spans shaped like
//! the server's (the contract's fields and three stage spans) timed through the same layer
//! composition as the server's, against the same spans on a registry without it.
//!
//! The measurement runs on its own thread under a scoped subscriber with a meter provider and
//! a monitor of its own, so none of its spans reach the server's instruments or monitor.

use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use tracing::field::Empty;
use tracing::info_span;
use tracing_subscriber::prelude::*;
use tts_otel::semconv::{field, SCOPE_NAME};
use tts_otel::{Monitor, MonitorConfig, SynthesisLayer};

const VOICES: [&str; 4] = ["en-us", "en-gb", "de", "fr"];

/// Cost of one synthesis's telemetry: with the layer and a monitor, and on a bare registry.
#[derive(Clone, Copy, Debug)]
pub struct Overhead {
    pub with_layer: Duration,
    pub bare: Duration,
}

impl Overhead {
    /// What the layer adds per synthesis.
    pub fn added(&self) -> Duration {
        self.with_layer.saturating_sub(self.bare)
    }
}

/// Times `n` synthesis spans each way, best of three runs.
pub fn measure(n: u32) -> Overhead {
    std::thread::spawn(move || {
        let provider = SdkMeterProvider::builder()
            .with_reader(ManualReader::builder().build())
            .build();
        let monitor = Monitor::new(MonitorConfig::default().with_system_interval(None));
        let layer = SynthesisLayer::builder(&provider.meter(SCOPE_NAME))
            .with_sink(monitor)
            .build();
        let with_layer = || tracing_subscriber::registry().with(layer.clone());
        let overhead = Overhead {
            with_layer: best_of(3, || {
                tracing::subscriber::with_default(with_layer(), || run(n))
            }),
            bare: best_of(3, || {
                tracing::subscriber::with_default(tracing_subscriber::registry(), || run(n))
            }),
        };
        let _ = provider.shutdown();
        overhead
    })
    .join()
    .unwrap_or(Overhead {
        with_layer: Duration::ZERO,
        bare: Duration::ZERO,
    })
}

fn best_of(runs: u32, mut time: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| time()).min().unwrap_or_default()
}

/// Mean time of one span-shaped synthesis over `n`.
fn run(n: u32) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        let span = info_span!(
            "tts.synthesize",
            tts.voice = VOICES[i as usize % VOICES.len()],
            tts.model = "espeak-ng",
            tts.text.chars = 120_i64,
            tts.audio.seconds = Empty,
            tts.cache.hit = Empty,
            tts.format = "wav",
            tts.speed = 1.0,
            tts.streaming = false,
        );
        let _entered = span.enter();
        info_span!("tts.stage.normalize").in_scope(|| {});
        span.record(field::CACHE_HIT, i % 3 == 0);
        info_span!("tts.stage.engine").in_scope(|| {});
        info_span!("tts.stage.encode").in_scope(|| {});
        span.record(field::AUDIO_SECONDS, 2.5);
    }
    start.elapsed() / n.max(1)
}
