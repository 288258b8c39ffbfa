//! Bad input through the synthesis layer and the local monitor, one test per kind of input:
//! awkward numbers, spans that end in every possible way, floods of distinct names, events
//! and spans out of order, a wall clock that jumps, and arbitrary field records.
//!
//! Each asserts what a user would check: exported counts and sums through the SDK's in-memory
//! exporter (under both temporalities where they differ), the monitor's summary counts, and
//! that no exported number and no number of the monitor's JSON is NaN or infinite.

mod support;

#[path = "bad_input/floods.rs"]
mod floods;
#[path = "bad_input/lifecycle.rs"]
mod lifecycle;
#[path = "bad_input/numbers.rs"]
mod numbers;
#[path = "bad_input/properties.rs"]
mod properties;
#[path = "bad_input/time.rs"]
mod time;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use opentelemetry_sdk::metrics::Temporality;
use serde_json::Value;
use tracing::Span;
use tts_otel::monitor::Export;
use tts_otel::semconv::attr;
use tts_otel::{Monitor, MonitorConfig, Summary};

use support::{points, Collected, Harness, Point, PointValue};

/// Tests take it shared; the memory test takes it alone, so no other test's allocations land
/// in its resident-set readings.
static MEMORY: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    MEMORY.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    MEMORY.write().unwrap_or_else(|e| e.into_inner())
}

/// A value as a span field can be recorded, of every kind `tracing` carries.
#[derive(Clone, Copy, Debug)]
enum Num {
    U64(u64),
    I64(i64),
    F64(f64),
    U128(u128),
    I128(i128),
    Bool(bool),
    Str(&'static str),
    /// Recorded through `tracing::field::debug`, as `?value` would.
    Debug(f64),
}

impl Num {
    fn record(self, span: &Span, field: &str) {
        match self {
            Num::U64(v) => span.record(field, v),
            Num::I64(v) => span.record(field, v),
            Num::F64(v) => span.record(field, v),
            Num::U128(v) => span.record(field, v),
            Num::I128(v) => span.record(field, v),
            Num::Bool(v) => span.record(field, v),
            Num::Str(v) => span.record(field, v),
            Num::Debug(v) => span.record(field, tracing::field::debug(v)),
        };
    }
}

/// The layer over the in-memory exporter, with a monitor and a collecting sink attached.
struct Rig {
    harness: Harness,
    monitor: Monitor,
    sink: Collected,
}

impl Rig {
    fn new(temporality: Temporality) -> Self {
        Self::with_monitor(temporality, quiet_monitor(MonitorConfig::default()))
    }

    fn with_monitor(temporality: Temporality, monitor: Monitor) -> Self {
        let sink = Collected::default();
        let harness = Harness::with(temporality, |b| {
            b.with_sink(monitor.clone()).with_sink(sink.clone())
        });
        Rig {
            harness,
            monitor,
            sink,
        }
    }

    /// A rig whose `sink` collects nothing, for runs too long to keep every synthesis.
    fn without_collecting(temporality: Temporality) -> Self {
        let monitor = quiet_monitor(MonitorConfig::default());
        let harness = Harness::with(temporality, |b| b.with_sink(monitor.clone()));
        let sink = Collected::default();
        Rig {
            harness,
            monitor,
            sink,
        }
    }

    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.harness.run(f)
    }

    /// The latest export, checked to hold only finite numbers.
    fn collect(&self) -> Vec<Point> {
        let all = self.harness.collect();
        assert_points_finite(&all);
        all
    }

    /// The monitor's summary, checked to be strict, finite JSON that reads back unchanged.
    fn summary(&self) -> Summary {
        assert_monitor_finite(&self.monitor)
    }
}

/// A monitor that samples nothing and reads a clock fixed a minute from now, so that two
/// summaries taken one after the other are equal.
fn quiet_monitor(config: MonitorConfig) -> Monitor {
    let now = SystemTime::now() + Duration::from_secs(60);
    Monitor::new(config.with_system_interval(None).with_clock(move || now))
}

/// Fails unless every exported value is finite.
fn assert_points_finite(all: &[Point]) {
    for point in all {
        let finite = match &point.value {
            PointValue::Histogram { sum, bounds, .. } => {
                sum.is_finite() && bounds.iter().all(|b| b.is_finite())
            }
            PointValue::Sum(v) | PointValue::Gauge(v) => v.is_finite(),
        };
        assert!(finite, "a non-finite exported value: {point:?}");
    }
}

/// Fails unless the monitor's summary and export are JSON of finite numbers that read back into
/// the very values they were written from (a NaN would be written as `null` and read back as
/// something else). Returns the summary.
fn assert_monitor_finite(monitor: &Monitor) -> Summary {
    let summary = monitor.summary();
    let text = serde_json::to_string(&summary).expect("a summary serialises");
    assert_json_finite(&serde_json::from_str(&text).expect("strict JSON"));
    let read: Summary = serde_json::from_str(&text).expect("the summary reads back");
    assert_eq!(read, summary, "the summary changed through JSON");

    let export = monitor.export();
    let text = serde_json::to_string(&export).expect("an export serialises");
    assert_json_finite(&serde_json::from_str(&text).expect("strict JSON"));
    let read: Export = serde_json::from_str(&text).expect("the export reads back");
    assert_eq!(read, export, "the export changed through JSON");
    summary
}

/// Fails unless every number in `value` is finite.
fn assert_json_finite(value: &Value) {
    match value {
        Value::Number(n) => assert!(n.as_f64().is_some_and(f64::is_finite), "{n}"),
        Value::Array(items) => items.iter().for_each(assert_json_finite),
        Value::Object(map) => map.values().for_each(assert_json_finite),
        _ => {}
    }
}

/// Data points summed over every series of `name`: (count, sum) for a histogram, (0, value)
/// for a counter; (0, 0) when nothing was exported.
fn totals(all: &[Point], name: &str) -> (u64, f64) {
    let found = points(all, name);
    let count = found
        .iter()
        .map(|p| match p.value {
            PointValue::Histogram { count, .. } => count,
            _ => 0,
        })
        .sum();
    (count, found.iter().map(|p| p.sum()).sum())
}

/// Invalid values counted for one contract field.
fn invalid_of(all: &[Point], field: &str) -> f64 {
    let invalid = points(all, tts_otel::semconv::metric::INVALID_VALUES);
    let of_field = invalid
        .iter()
        .filter(|p| p.attr(attr::FIELD) == Some(field));
    of_field.map(|p| p.sum()).sum()
}

/// The sum of a counter's series whose voice is `voice`.
fn by_voice(all: &[Point], name: &str, voice: &str) -> f64 {
    let found = points(all, name);
    let of_voice = found.iter().filter(|p| p.attr(attr::VOICE) == Some(voice));
    of_voice.map(|p| p.sum()).sum()
}
