//! The OpenTelemetry sink: the contract's instruments, created once, recording each synthesis
//! through attribute sets prepared once per series.
//!
//! # Implementation details
//!
//! A series is one combination of voice, model, cache result and error type. The first
//! synthesis of a series binds every instrument to that series' attribute set (the SDK's bound
//! instruments), so later syntheses of the series skip sorting and hashing attributes: one map
//! look-up finds the bound handles, and each measurement is one update of an aggregation the SDK
//! already located. Labels are bounded, so series are too.
//!
//! Threads recording at once share no cache line they write, unless they record the same
//! series: the series map is read through an [`ArcSwap`] (no lock word, no reference count),
//! and syntheses in progress are counted on per-thread stripes summed by an observable
//! instrument at collection.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use opentelemetry::metrics::{
    BoundCounter, BoundHistogram, Counter, Histogram, Meter, ObservableUpDownCounter,
};
use opentelemetry::KeyValue;

use crate::labels::Label;
use crate::semconv::{attr, buckets, metric, unit};

/// Which cache outcome a synthesis had, if the span said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CacheResult {
    Unknown,
    Hit,
    Miss,
}

impl CacheResult {
    pub(crate) fn from_hit(hit: Option<bool>) -> Self {
        match hit {
            None => CacheResult::Unknown,
            Some(true) => CacheResult::Hit,
            Some(false) => CacheResult::Miss,
        }
    }

    fn attribute(self) -> Option<KeyValue> {
        match self {
            CacheResult::Unknown => None,
            CacheResult::Hit => Some(KeyValue::new(attr::CACHE_RESULT, attr::CACHE_HIT)),
            CacheResult::Miss => Some(KeyValue::new(attr::CACHE_RESULT, attr::CACHE_MISS)),
        }
    }
}

/// The labels that pick a series.
#[derive(Clone, Debug)]
pub(crate) struct SeriesLabels<'a> {
    pub(crate) voice: &'a Label,
    pub(crate) model: Option<&'a Label>,
    pub(crate) cache: CacheResult,
    pub(crate) error: Option<&'a Label>,
}

impl SeriesLabels<'_> {
    fn key(&self) -> SeriesKey {
        SeriesKey {
            voice: self.voice.id,
            model: self.model.map_or(0, |m| m.id + 1),
            cache: self.cache,
            error: self.error.map_or(0, |e| e.id + 1),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SeriesKey {
    voice: u32,
    model: u32,
    cache: CacheResult,
    error: u32,
}

/// Measured values of one synthesis, already validated.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Measurement {
    pub(crate) latency_seconds: f64,
    pub(crate) rtf: Option<f64>,
    pub(crate) time_to_first_audio: Option<f64>,
    pub(crate) audio_seconds: Option<f64>,
    pub(crate) text_chars: Option<u64>,
    /// The synthesis never finished: only the cancellation and cache look-up are counted.
    pub(crate) cancelled: bool,
}

/// Attribute sets of one series and the instruments bound to them, each bound on first use so
/// that a series never exports an empty data point for a value it never had.
#[derive(Debug)]
struct Series {
    by_voice: [KeyValue; 1],
    by_model: Vec<KeyValue>,
    by_cache: Vec<KeyValue>,
    cache_by_voice: Option<[KeyValue; 2]>,
    by_outcome: Vec<KeyValue>,
    duration: OnceLock<BoundHistogram<f64>>,
    rtf: OnceLock<BoundHistogram<f64>>,
    time_to_first_audio: OnceLock<BoundHistogram<f64>>,
    audio: OnceLock<BoundHistogram<f64>>,
    text_chars: OnceLock<BoundHistogram<u64>>,
    cache: OnceLock<BoundCounter<u64>>,
    unrated: OnceLock<BoundCounter<u64>>,
    cancelled: OnceLock<BoundCounter<u64>>,
}

/// The contract's instruments, created once from a [`Meter`].
#[derive(Debug)]
pub(crate) struct Instruments {
    duration: Histogram<f64>,
    rtf: Histogram<f64>,
    time_to_first_audio: Histogram<f64>,
    audio: Histogram<f64>,
    text_chars: Histogram<u64>,
    cache: Counter<u64>,
    unrated: Counter<u64>,
    cancelled: Counter<u64>,
    stage: Histogram<f64>,
    invalid: Counter<u64>,
    pub(crate) active: Arc<ActiveCount>,
    _active_instrument: ObservableUpDownCounter<i64>,
    series: SwapMap<SeriesKey, Arc<Series>>,
    stages: SwapMap<&'static str, Arc<BoundHistogram<f64>>>,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        let active = Arc::new(ActiveCount::default());
        let observed = Arc::clone(&active);
        Instruments {
            duration: seconds_histogram(
                meter,
                metric::SYNTHESIS_DURATION,
                buckets::DURATION_SECONDS,
            )
            .with_description("Wall time of a synthesis, from span creation to close.")
            .build(),
            rtf: meter
                .f64_histogram(metric::SYNTHESIS_RTF)
                .with_unit(unit::RATIO)
                .with_boundaries(buckets::RTF.to_vec())
                .with_description("Real-time factor: synthesis latency over audio seconds.")
                .build(),
            time_to_first_audio: seconds_histogram(
                meter,
                metric::TIME_TO_FIRST_AUDIO,
                buckets::TIME_TO_FIRST_AUDIO_SECONDS,
            )
            .with_description("Time from the start of a synthesis to its first audio chunk.")
            .build(),
            audio: seconds_histogram(meter, metric::AUDIO_DURATION, buckets::AUDIO_SECONDS)
                .with_description("Duration of the produced audio.")
                .build(),
            text_chars: meter
                .u64_histogram(metric::TEXT_CHARS)
                .with_unit(unit::CHAR)
                .with_boundaries(buckets::TEXT_CHARS.to_vec())
                .with_description("Characters of input text per synthesis.")
                .build(),
            cache: meter
                .u64_counter(metric::CACHE_REQUESTS)
                .with_unit(unit::REQUEST)
                .with_description("Synthesis cache look-ups by result.")
                .build(),
            unrated: meter
                .u64_counter(metric::SYNTHESIS_UNRATED)
                .with_unit(unit::SYNTHESIS)
                .with_description(
                    "Successful syntheses without a valid audio duration, so without RTF.",
                )
                .build(),
            cancelled: meter
                .u64_counter(metric::SYNTHESIS_CANCELLED)
                .with_unit(unit::SYNTHESIS)
                .with_description("Syntheses whose span closed before they finished.")
                .build(),
            stage: seconds_histogram(meter, metric::STAGE_DURATION, buckets::DURATION_SECONDS)
                .with_description("Wall time of one synthesis stage.")
                .build(),
            invalid: meter
                .u64_counter(metric::INVALID_VALUES)
                .with_unit(unit::VALUE)
                .with_description("Contract field values dropped because they were invalid.")
                .build(),
            _active_instrument: meter
                .i64_observable_up_down_counter(metric::SYNTHESIS_ACTIVE)
                .with_unit(unit::SYNTHESIS)
                .with_description("Syntheses in progress.")
                .with_callback(move |observer| observer.observe(observed.sum(), &[]))
                .build(),
            active,
            series: SwapMap::default(),
            stages: SwapMap::default(),
        }
    }

    /// Records one synthesis into its series.
    pub(crate) fn record(&self, labels: &SeriesLabels<'_>, m: &Measurement) {
        let key = labels.key();
        let map = self.series.map.load();
        match map.get(&key) {
            Some(series) => self.record_series(series, labels, m),
            None => {
                let series = self.series.insert(key, || Arc::new(self.bind(labels)));
                self.record_series(&series, labels, m);
            }
        }
    }

    fn record_series(&self, series: &Series, labels: &SeriesLabels<'_>, m: &Measurement) {
        if let Some(attrs) = &series.cache_by_voice {
            series.cache.get_or_init(|| self.cache.bind(attrs)).add(1);
        }
        if m.cancelled {
            let bound = series
                .cancelled
                .get_or_init(|| self.cancelled.bind(&series.by_voice));
            bound.add(1);
            return;
        }
        let duration = series
            .duration
            .get_or_init(|| self.duration.bind(&series.by_outcome));
        duration.record(m.latency_seconds);
        if let Some(rtf) = m.rtf {
            series
                .rtf
                .get_or_init(|| self.rtf.bind(&series.by_cache))
                .record(rtf);
        } else if labels.error.is_none() {
            let unrated = series
                .unrated
                .get_or_init(|| self.unrated.bind(&series.by_voice));
            unrated.add(1);
        }
        // TODO: failed syntheses that marked first audio are recorded here, while the monitor's
        // statistics keep successes only, so the two disagree when streams fail after their
        // first chunk; `error.type` on this histogram would let a query choose, at the cost of
        // more series.
        if let Some(ttfa) = m.time_to_first_audio {
            let bound = series
                .time_to_first_audio
                .get_or_init(|| self.time_to_first_audio.bind(&series.by_model));
            bound.record(ttfa);
        }
        if let Some(audio) = m.audio_seconds {
            let bound = series
                .audio
                .get_or_init(|| self.audio.bind(&series.by_voice));
            bound.record(audio);
        }
        if let Some(chars) = m.text_chars {
            let bound = series
                .text_chars
                .get_or_init(|| self.text_chars.bind(&series.by_voice));
            bound.record(chars);
        }
    }

    /// Records one stage's duration.
    pub(crate) fn record_stage(&self, stage: &'static str, seconds: f64) {
        if let Some(bound) = self.stages.map.load().get(stage) {
            bound.record(seconds);
            return;
        }
        let bind = || Arc::new(self.stage.bind(&[KeyValue::new(attr::STAGE, stage)]));
        self.stages.insert(stage, bind).record(seconds);
    }

    /// Counts one invalid value of a contract field.
    pub(crate) fn count_invalid(&self, field: &'static str) {
        self.invalid.add(1, &[KeyValue::new(attr::FIELD, field)]);
    }

    fn bind(&self, labels: &SeriesLabels<'_>) -> Series {
        let voice = KeyValue::new(attr::VOICE, labels.voice.name.to_string());
        let model = labels
            .model
            .map(|m| KeyValue::new(attr::MODEL, m.name.to_string()));
        let cache = labels.cache.attribute();
        let error = labels
            .error
            .map(|e| KeyValue::new(attr::ERROR_TYPE, e.name.to_string()));

        let by_voice = [voice.clone()];
        let by_model: Vec<KeyValue> = by_voice.iter().cloned().chain(model).collect();
        let by_cache: Vec<KeyValue> = by_model.iter().cloned().chain(cache.clone()).collect();
        let by_outcome: Vec<KeyValue> = by_cache.iter().cloned().chain(error).collect();

        Series {
            by_outcome,
            duration: OnceLock::new(),
            cache_by_voice: cache.map(|c| [voice, c]),
            by_voice,
            by_model,
            by_cache,
            rtf: OnceLock::new(),
            time_to_first_audio: OnceLock::new(),
            audio: OnceLock::new(),
            text_chars: OnceLock::new(),
            cache: OnceLock::new(),
            unrated: OnceLock::new(),
            cancelled: OnceLock::new(),
        }
    }
}

/// A map read without locking and copied on insert, for the few, long-lived entries of
/// bounded label combinations.
#[derive(Debug)]
struct SwapMap<K, V> {
    map: ArcSwap<HashMap<K, V>>,
    writer: Mutex<()>,
}

impl<K, V> Default for SwapMap<K, V> {
    fn default() -> Self {
        SwapMap {
            map: ArcSwap::default(),
            writer: Mutex::new(()),
        }
    }
}

impl<K: Clone + Eq + Hash, V: Clone> SwapMap<K, V> {
    /// The value of `key`, made by `make` and inserted if it is not there yet.
    fn insert(&self, key: K, make: impl FnOnce() -> V) -> V {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.map.load();
        if let Some(value) = current.get(&key) {
            return value.clone();
        }
        let value = make();
        let mut grown = HashMap::clone(&current);
        grown.insert(key, value.clone());
        self.map.store(Arc::new(grown));
        value
    }
}

/// Stripes of the count of syntheses in progress; more stripes than cores make it rare for
/// two threads to write the same cache line.
const ACTIVE_STRIPES: usize = 16;

/// Syntheses in progress, counted on per-thread stripes and summed when collected.
#[derive(Debug, Default)]
pub(crate) struct ActiveCount {
    stripes: [Stripe; ACTIVE_STRIPES],
}

/// One stripe, alone on its cache line (128 bytes covers adjacent-line prefetching).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicI64);

impl ActiveCount {
    /// Adds `delta` to the calling thread's stripe.
    pub(crate) fn add(&self, delta: i64) {
        self.stripes[stripe_index()]
            .0
            .fetch_add(delta, Ordering::Relaxed);
    }

    /// The count over all stripes; a synthesis opened on one thread and closed on another
    /// moves between stripes, so only the sum is meaningful.
    fn sum(&self) -> i64 {
        let sum: i64 = self
            .stripes
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum();
        sum.max(0)
    }
}

/// The calling thread's stripe, assigned round-robin on first use.
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % ACTIVE_STRIPES;
    }
    INDEX.with(|i| *i)
}

fn seconds_histogram<'a>(
    meter: &'a Meter,
    name: &'static str,
    boundaries: &[f64],
) -> opentelemetry::metrics::HistogramBuilder<'a, Histogram<f64>> {
    meter
        .f64_histogram(name)
        .with_unit(unit::SECONDS)
        .with_boundaries(boundaries.to_vec())
}
