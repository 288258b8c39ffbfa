//! Values whose formatting logs: the layer formats a user's `Debug` values while it records
//! them, and an event emitted from inside that formatting reaches the same layer again. Under
//! a global subscriber, which has no re-entrancy guard of its own, the layer must neither
//! deadlock nor lose the value.
//!
//! One test binary with one test, since the subscriber is global to the process.

use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tracing::field::{debug, Empty};
use tracing_subscriber::prelude::*;
use tts_otel::{Monitor, MonitorConfig, SynthesisLayer};

/// A value whose `Debug` form logs an error, as a lazily formatted error type might.
struct Noisy(&'static str);

impl fmt::Debug for Noisy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::error!(error.type = "formatting", "formatting {}", self.0);
        f.write_str(self.0)
    }
}

/// Runs `work` on a thread of its own; fails the test when it does not return in time.
fn within_seconds(seconds: u64, work: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        work();
        let _ = done.send(());
    });
    let returned = finished.recv_timeout(Duration::from_secs(seconds));
    assert!(
        returned.is_ok(),
        "the layer deadlocked on a value that logs"
    );
}

#[test]
fn values_that_log_while_formatted_neither_deadlock_nor_get_lost() {
    let provider = SdkMeterProvider::builder().build();
    let monitor = Monitor::new(MonitorConfig::default().with_system_interval(None));
    let layer = SynthesisLayer::builder(&provider.meter("reentry"))
        .with_sink(monitor.clone())
        .build();
    tracing_subscriber::registry().with(layer).init();

    within_seconds(10, || {
        // Recorded later, at creation, and as an event's error type.
        let span = tracing::info_span!("tts.synthesize", tts.voice = Empty);
        let entered = span.enter();
        span.record("tts.voice", debug(Noisy("recorded-later")));
        drop(entered);
        drop(span);

        let span = tracing::info_span!("tts.synthesize", tts.voice = debug(Noisy("at-creation")));
        drop(span);

        let span = tracing::info_span!("tts.synthesize", tts.voice = "by-event");
        span.in_scope(|| tracing::error!(error.type = debug(Noisy("engine")), "failed"));
    });

    let summary = monitor.summary();
    assert_eq!(summary.requests.total, 3);
    let voices: Vec<&str> = summary.voices.keys().map(String::as_str).collect();
    assert_eq!(voices, ["at-creation", "by-event", "recorded-later"]);
    // The error logged while the voice was formatted inside the entered span fails that
    // synthesis, as any ERROR event inside a synthesis does; so does the explicit one.
    assert_eq!(summary.requests.failed, 2, "{:?}", summary.requests);
}
