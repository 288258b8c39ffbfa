//! The one-call set-up, installed globally: one test per process, since a global subscriber can
//! be installed only once.
#![cfg(feature = "otlp")]

mod support;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::collector::{free_port, strip_ansi};
use tts_otel::pipeline::{Error, Pipeline, Protocol};

const SECRET: &str = "secret-api-key-value-0123";

/// A log writer into memory.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
    type Writer = Log;

    fn make_writer(&'a self) -> Log {
        self.clone()
    }
}

impl Log {
    fn text(&self) -> String {
        strip_ansi(&String::from_utf8_lossy(&self.0.lock().unwrap()))
    }
}

fn synthesise() {
    tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 1.0)
        .in_scope(|| std::thread::sleep(Duration::from_millis(1)));
}

/// The `name="..."` of each SDK warning or error line.
fn sdk_warnings(text: &str) -> Vec<String> {
    let is_sdk =
        |l: &&str| (l.contains(" WARN ") || l.contains(" ERROR ")) && l.contains(" opentelemetry");
    text.lines()
        .filter(is_sdk)
        .map(|l| {
            l.split("name=")
                .nth(1)
                .unwrap_or(l)
                .split(' ')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[test]
fn without_a_collector_the_service_runs_and_says_once_where_telemetry_would_go() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let log = Log::default();
    let mut guard = Pipeline::from_env()
        .with_service_name("init-test")
        .with_protocol(Protocol::Grpc)
        .with_endpoint(&endpoint)
        .with_header("x-api-key", SECRET)
        .with_metric_export_interval(Duration::from_millis(100))
        .with_export_timeout(Duration::from_millis(500))
        .with_shutdown_timeout(Duration::from_secs(2))
        .with_log_filter("debug")
        .with_log_writer(log.clone())
        .try_init()
        .expect("first set-up");

    for _ in 0..8 {
        synthesise();
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = guard.flush();
    let _ = guard.shutdown();
    let text = log.text();
    if std::env::var_os("SHOW_LOG").is_some() {
        eprintln!("{text}");
    }

    let told: Vec<_> = text
        .lines()
        .filter(|l| l.contains("no OpenTelemetry collector answered"))
        .collect();
    assert_eq!(told.len(), 1, "one start-up line:\n{text}");
    assert!(
        told[0].contains(" WARN ") && told[0].contains("tts_otel") && told[0].contains(&endpoint)
    );

    let failed: Vec<_> = text
        .lines()
        .filter(|l| l.contains("telemetry export failed"))
        .collect();
    assert!(failed.is_empty(), "the probe already said it:\n{text}");
    let sdk = sdk_warnings(&text);
    let mut distinct = sdk.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        sdk.len(),
        distinct.len(),
        "SDK warnings repeat: {sdk:?}\n{text}"
    );
    assert!(!text.contains(SECRET), "a header value was logged:\n{text}");

    let again = Pipeline::from_env().without_export().try_init();
    assert!(
        matches!(again, Err(Error::SubscriberInstalled(_))),
        "{again:?}"
    );
}
