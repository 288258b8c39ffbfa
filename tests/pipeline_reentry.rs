//! Values whose formatting logs, under the one-call pipeline: the printing layer formats a
//! span's fields while it holds the span's extensions, so an event emitted from inside that
//! formatting must reach no layer that takes them again. One test per process, since the
//! pipeline installs a global subscriber.
#![cfg(feature = "otlp")]

mod support;

use std::fmt;
use std::sync::mpsc;
use std::time::Duration;

use support::collector::free_port;
use tracing::field::{debug, Empty};
use tts_otel::{Monitor, MonitorConfig, Pipeline};

/// A value whose `Debug` form logs an error, as a lazily formatted error type might.
struct Noisy(&'static str);

impl fmt::Debug for Noisy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tracing::error!(error.type = "formatting", "formatting {}", self.0);
        f.write_str(self.0)
    }
}

#[test]
fn values_that_log_while_printed_or_exported_never_deadlock_the_pipeline() {
    let monitor = Monitor::new(MonitorConfig::default().with_system_interval(None));
    let guard = Pipeline::from_env()
        .with_service_name("reentry")
        .with_endpoint(format!("http://127.0.0.1:{}", free_port()))
        .with_monitor(monitor.clone())
        .with_log_writer(std::io::sink)
        .with_log_filter("trace")
        .with_shutdown_timeout(Duration::from_millis(500))
        .init();

    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let span = tracing::info_span!("tts.synthesize", tts.voice = Empty);
        let entered = span.enter();
        span.record("tts.voice", debug(Noisy("recorded-later")));
        drop(entered);
        drop(span);

        let span = tracing::info_span!("tts.synthesize", tts.voice = debug(Noisy("at-creation")));
        span.in_scope(|| tracing::info!(detail = ?Noisy("in-an-event"), "working"));
        drop(span);
        let _ = done.send(());
    });
    let returned = finished.recv_timeout(Duration::from_secs(10));
    assert!(
        returned.is_ok(),
        "the pipeline deadlocked on a value that logs"
    );

    let summary = monitor.summary();
    assert_eq!(summary.requests.total, 2, "{:?}", summary.requests);
    let voices: Vec<&str> = summary.voices.keys().map(String::as_str).collect();
    assert_eq!(voices, ["at-creation", "recorded-later"]);
    drop(guard);
}
