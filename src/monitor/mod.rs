//! The local performance monitor: a bounded in-process store of recent syntheses that answers
//! summary, trend and export questions without any backend.
//!
//! It is the Rust successor of the LiteTTS `PerformanceMonitor`:
//!
//! | LiteTTS | here |
//! |---|---|
//! | `PerformanceMonitor(max_history, …)` | [`Monitor::new`] with a [`MonitorConfig`] |
//! | `record_tts_performance(data)` | [`Monitor::record`], or the synthesis layer through [`SynthesisSink`] |
//! | `get_performance_summary()` | [`Monitor::summary`] |
//! | `get_rtf_trend(minutes)` | [`Monitor::rtf_trend`], [`Monitor::recent_rtf_trend`] |
//! | `export_metrics(path)` | [`Monitor::export_json`] |
//!
//! # Implementation details
//!
//! Recording holds one mutex for roughly 0.1 µs (uncontended, release build): it looks the
//! voice up in a table of at most 64, pushes a 72-byte record into a ring allocated up front,
//! dropping the oldest, and adds the RTF to the trend slot the synthesis ended in. It never
//! allocates except when a new voice, error type or trend slot first appears, never does I/O
//! and never panics (a poisoned lock is recovered, since every update leaves the store
//! consistent).
//!
//! [`Monitor::summary`] copies the ring under the lock (one memcpy of at most
//! `max_records × 72` bytes) and computes everything after releasing it; see
//! [the statistics method](Stats). Memory is bounded whatever the rate or run time: the ring
//! by `max_records`, the trend by `retention / granularity` slots, system samples by
//! `max_system_samples`, label tables by the label limit.
//!
//! # Schema
//!
//! Summary and export are strict JSON: every number is finite, a statistic of an empty set is
//! `null`, times are given twice, as RFC 3339 in UTC and as seconds since the Unix epoch
//! (`*_unix_seconds`). Units are in the key names (`_seconds`, `_bytes`, `_per_second`);
//! `rtf`, `hit_rate` and `*_utilization` are ratios. Schema version
//! [`SCHEMA_VERSION`] is 1.
//!
//! A *stats* object is `{count, mean, min, p50, p90, p95, p99, max}` (exact, nearest rank).
//!
//! - `summary` ([`Summary`]):
//!   - `schema_version`, `generated_at`, `generated_at_unix_seconds`
//!   - `window`: `first_ended_at`, `last_ended_at` (and `_unix_seconds`), `records`,
//!     `max_records`, `max_age_seconds`, `trend_retention_seconds`, `recorded_total`,
//!     `dropped_stages`
//!   - `requests`: `total`, `succeeded`, `failed`, `cancelled`, `without_rtf`,
//!     `invalid_audio_seconds`,
//!     `failed_by_error_type` (name → count)
//!   - `latency_seconds`, `rtf`: `{all, cache_miss, cache_hit}`, each a stats object
//!   - `time_to_first_audio_seconds`: stats
//!   - `cache`: `hits`, `misses`, `unknown`, `hit_rate`
//!   - `efficiency`: `audio_seconds_total`, `processing_seconds_total`,
//!     `audio_seconds_per_processing_second`
//!   - `voices`: voice → `{requests, succeeded, failed, cancelled, without_rtf, cache_hits,
//!     cache_misses, latency_seconds, rtf, cache_miss_latency_seconds, cache_miss_rtf}`
//!   - `text_length`: `short` (0–50 chars), `medium` (51–200), `long` (201–500),
//!     `very_long` (501+), `unknown`, each shaped like a voice
//!   - `stages_seconds`: stage name → stats
//!   - `system`: `samples`, `max_samples`, `interval_seconds`, `latest` (one reading, with
//!     `taken_at`, utilisations, `*_bytes` and `gpus`), `average` (means, and I/O as
//!     `*_bytes_per_second`)
//! - `rtf_trend` ([`RtfTrend`]): `end`, `end_unix_seconds`, `window_seconds`,
//!   `resolution_seconds`, `buckets`: `[{start, start_unix_seconds, requests, rtf_count,
//!   rtf_mean, rtf_p95, rtf_min, rtf_max}]`
//! - the export ([`Export`]) is `{schema_version, generated_at, generated_at_unix_seconds,
//!   summary, rtf_trend, records}`, with `records`: `[{ended_at, ended_at_unix_seconds, voice,
//!   latency_seconds, audio_seconds, rtf, time_to_first_audio_seconds, text_chars, cache_hit,
//!   error_type, cancelled, stages_seconds}]`
//!
//! Latency, time to first audio and stage statistics cover successful syntheses; RTF covers
//! successful syntheses with a valid audio duration, from a microsecond to 10^9 seconds
//! ([`Synthesis::valid_audio_seconds`]).

mod clock;
mod config;
mod export;
#[cfg(feature = "system")]
mod sampling;
mod stats;
mod store;
mod summary;
mod system;
mod trend;

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use clock::{Clock, SystemClock};
pub use config::MonitorConfig;
pub use export::{Export, ExportError, ExportedRecord};
pub use stats::Stats;
pub use summary::{
    ByCache, CacheCounts, Efficiency, GroupSummary, LengthClasses, RequestCounts, Summary, Window,
};
pub use system::{GpuAverage, GpuReading, SystemAverage, SystemReading, SystemSummary};
pub use trend::{RtfTrend, TrendBucket};

use crate::semconv::limits::LABEL_LIMIT;
use crate::semconv::monitor::SCHEMA_VERSION;
use crate::semconv::DIAGNOSTICS_TARGET;
use crate::system::{SampleSink, SystemSample};
use crate::{Synthesis, SynthesisSink};

use clock::{rfc3339, unix_micros, unix_secs_f64};
use store::{Snapshot, Store};
use system::SampleRing;
use trend::TrendStore;

/// Bytes one synthesis takes in the record ring, whose memory is this times
/// [`MonitorConfig::max_records`], allocated when the monitor is made.
pub const RECORD_SIZE_BYTES: usize = std::mem::size_of::<store::Record>();

/// A cloneable handle to one local performance monitor; clones share the same store.
///
/// ```
/// use std::time::Duration;
/// use tts_otel::{Monitor, Synthesis};
///
/// let monitor = Monitor::default();
/// monitor.record(
///     Synthesis::new("af_heart", Duration::from_millis(300))
///         .with_audio_seconds(2.0)
///         .with_text_chars(42)
///         .with_cache_hit(false),
/// );
///
/// let summary = monitor.summary();
/// assert_eq!(summary.requests.total, 1);
/// assert_eq!(summary.rtf.cache_miss.p50, Some(0.15));
/// assert_eq!(summary.text_length.short.requests, 1);
/// ```
#[derive(Clone)]
pub struct Monitor {
    shared: Arc<Shared>,
}

struct Shared {
    config: MonitorConfig,
    history: Mutex<History>,
    samples: Mutex<SampleRing>,
    #[cfg(feature = "system")]
    sampler: Mutex<Option<crate::system::SystemSampler>>,
}

/// Records and trend slots, updated together under one lock.
struct History {
    store: Store,
    trend: TrendStore,
}

/// Locks `mutex`, recovering from poisoning: every update leaves its data consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new(MonitorConfig::default())
    }
}

impl Monitor {
    /// A monitor with `config`; allocates the record ring at its full size.
    pub fn new(config: MonitorConfig) -> Self {
        let history = History {
            store: Store::new(config.max_records()),
            trend: TrendStore::new(config.trend_retention(), config.trend_granularity()),
        };
        let samples = SampleRing::new(config.max_system_samples());
        Monitor {
            shared: Arc::new(Shared {
                config,
                history: Mutex::new(history),
                samples: Mutex::new(samples),
                #[cfg(feature = "system")]
                sampler: Mutex::new(None),
            }),
        }
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &MonitorConfig {
        &self.shared.config
    }

    /// Interval the system sampler should honour; `None` when sampling is off.
    pub fn system_interval(&self) -> Option<Duration> {
        self.shared.config.system_interval()
    }

    /// Records a synthesis directly, as LiteTTS's `record_tts_performance` did. Cheap (well
    /// under a microsecond), never blocks on I/O, never panics.
    pub fn record(&self, synthesis: Synthesis) {
        self.record_synthesis(&synthesis);
    }

    /// Records a synthesis by reference; what the synthesis layer calls through
    /// [`SynthesisSink`].
    pub fn record_synthesis(&self, synthesis: &Synthesis) {
        let clock = self.shared.config.clock();
        let record = store::measure(synthesis);
        let overflow = {
            let mut history = lock(&self.shared.history);
            let pushed = history.store.push(record, synthesis);
            let (ended_at_us, rtf) = (pushed.record.ended_at_us, pushed.record.rtf());
            history
                .trend
                .add(ended_at_us, rtf, || unix_micros(clock.now()));
            pushed.first_overflow
        };
        if let Some(table) = overflow {
            tracing::debug!(
                target: DIAGNOSTICS_TARGET,
                table,
                limit = LABEL_LIMIT,
                "monitor label limit reached; further values are summed under `other`"
            );
        }
    }

    /// The summary of the syntheses in the window and of recent system samples.
    ///
    /// Costs one copy of the ring under the lock and, after it, a sort per measure: a few
    /// milliseconds for a full window of 10,000.
    pub fn summary(&self) -> Summary {
        let now_us = self.now_us();
        let snapshot = self.snapshot(now_us);
        self.summarize(&snapshot, now_us)
    }

    /// RTF over the last `window` (clamped to the trend retention), in buckets of
    /// `resolution` (rounded up to whole trend slots, a minute by default), oldest first.
    ///
    /// Each synthesis counts in the bucket of its own end time. Buckets are aligned to
    /// multiples of their width since the Unix epoch, so the first and last may be partial;
    /// every bucket from the one holding `now − window` to the one holding "now" is
    /// returned, empty ones with a zero count. A clock that jumps backwards only moves the
    /// window: buckets stay in time order.
    pub fn rtf_trend(&self, window: Duration, resolution: Duration) -> RtfTrend {
        self.rtf_trend_at(self.now_us(), window, resolution)
    }

    fn rtf_trend_at(&self, now_us: i64, window: Duration, resolution: Duration) -> RtfTrend {
        let (plan, slots) = {
            let history = lock(&self.shared.history);
            let plan = history.trend.plan(now_us, window, resolution);
            let slots = history.trend.slots_for(&plan);
            (plan, slots)
        };
        plan.build(&slots)
    }

    /// RTF over the last `window` at a resolution that suits it: a minute up to an hour, five
    /// minutes up to six hours, a quarter hour up to a day, an hour beyond.
    pub fn recent_rtf_trend(&self, window: Duration) -> RtfTrend {
        self.rtf_trend(window, trend::default_resolution(window))
    }

    /// The export document: summary, trend over the whole retention and every record of the
    /// window, from one snapshot.
    pub fn export(&self) -> Export {
        let now_us = self.now_us();
        let snapshot = self.snapshot(now_us);
        let retention = self.shared.config.trend_retention();
        Export {
            schema_version: SCHEMA_VERSION,
            generated_at: rfc3339(now_us),
            generated_at_unix_seconds: unix_secs_f64(now_us),
            summary: self.summarize(&snapshot, now_us),
            rtf_trend: self.rtf_trend_at(now_us, retention, trend::default_resolution(retention)),
            records: export::records(&snapshot),
        }
    }

    /// Writes [`export`](Self::export) as pretty, strict JSON to `path`, atomically: the
    /// parent folders are created, the document is written to a temporary file in the same
    /// folder, flushed to disk, and renamed over `path`. A reader never sees a partial file.
    ///
    /// # Errors
    ///
    /// [`ExportError`] when the folder cannot be created, the temporary file cannot be
    /// written, or the rename fails. Any earlier file at `path` is then left as it was.
    pub fn export_json(&self, path: impl AsRef<Path>) -> Result<(), ExportError> {
        export::write_json(path.as_ref(), &self.export())
    }

    fn now_us(&self) -> i64 {
        unix_micros(self.shared.config.clock().now())
    }

    /// Copies the records, filtered to the window, and the label tables.
    fn snapshot(&self, now_us: i64) -> Snapshot {
        let mut snapshot = Snapshot::default();
        // Reserved before the lock is taken, so a window of usual size is copied under it
        // without allocating.
        let expected = self.shared.config.max_records();
        snapshot
            .records
            .reserve(expected.min(store::PREALLOCATED_RECORDS));
        lock(&self.shared.history)
            .store
            .snapshot_into(&mut snapshot);

        if let Some(cutoff) = self.cutoff_us(now_us) {
            snapshot.records.retain(|r| r.ended_at_us >= cutoff);
        }
        snapshot
    }

    fn cutoff_us(&self, now_us: i64) -> Option<i64> {
        let max_age = self.shared.config.max_age()?;
        let age_us = i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX);
        Some(now_us.saturating_sub(age_us))
    }

    fn summarize(&self, snapshot: &Snapshot, now_us: i64) -> Summary {
        let context = summary::Context {
            now_us,
            window: self.window_limits(snapshot),
            system: self.system_summary(),
        };
        summary::build(snapshot, context)
    }

    fn window_limits(&self, snapshot: &Snapshot) -> Window {
        let config = &self.shared.config;
        Window {
            max_records: config.max_records() as u64,
            max_age_seconds: config.max_age().map(|a| a.as_secs_f64()),
            trend_retention_seconds: config.trend_retention().as_secs_f64(),
            recorded_total: snapshot.recorded_total,
            dropped_stages: snapshot.dropped_stages,
            ..Window::default()
        }
    }

    fn system_summary(&self) -> SystemSummary {
        let (kept, capacity) = {
            let samples = lock(&self.shared.samples);
            (samples.copy(), samples.capacity())
        };
        let interval = self.system_interval().map(|i| i.as_secs_f64());
        system::summarize(&kept, capacity, interval)
    }
}

impl SynthesisSink for Monitor {
    fn record(&self, synthesis: &Synthesis) {
        self.record_synthesis(synthesis);
    }
}

impl SampleSink for Monitor {
    /// Keeps the sample for the summary's latest and average readings; a sample without
    /// `taken_at` is filed under the monitor's "now".
    fn record_sample(&self, sample: &SystemSample) {
        self.keep_sample(sample);
    }
}

impl Monitor {
    fn keep_sample(&self, sample: &SystemSample) {
        let now_us = match sample.taken_at {
            Some(_) => 0,
            None => self.now_us(),
        };
        let sample = sample.clone();
        lock(&self.shared.samples).push(sample, now_us);
    }
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}
