//! The serialisable summary and how it is computed from a snapshot of the store.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clock::{rfc3339, unix_secs_f64};
use super::stats::{mean, sum, Sorted, Stats};
use super::store::{LengthClass, Record, Snapshot};
use super::system::SystemSummary;

/// Everything the monitor knows about the syntheses in its window, at one moment.
///
/// Keys carry their unit (`_seconds`, `_bytes`) or are dimensionless ratios (`rtf`,
/// `hit_rate`). Every number is finite; a statistic of an empty set is `null`. See the
/// [module documentation](crate::monitor) for the full schema.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Summary {
    /// Version of this schema.
    pub schema_version: u32,
    /// When the summary was taken, RFC 3339 in UTC, by the monitor's clock.
    pub generated_at: String,
    /// When the summary was taken, seconds since the Unix epoch.
    pub generated_at_unix_seconds: f64,
    /// The records the summary covers and the limits that bound them.
    pub window: Window,
    /// How many syntheses ended, and how.
    pub requests: RequestCounts,
    /// Latency of successful syntheses, in seconds.
    pub latency_seconds: ByCache,
    /// Real-time factor (latency over audio seconds; lower is faster) of syntheses with one.
    pub rtf: ByCache,
    /// Time to first audio of successful syntheses that reported one, in seconds.
    pub time_to_first_audio_seconds: Stats,
    /// Cache look-ups.
    pub cache: CacheCounts,
    /// Audio produced against time spent.
    pub efficiency: Efficiency,
    /// Per voice; voices beyond the label limit are summed under `other`.
    pub voices: BTreeMap<String, GroupSummary>,
    /// Per class of input text length.
    pub text_length: LengthClasses,
    /// Time a synthesis spent in each named stage, in seconds: a stage that ran more than once
    /// in one synthesis (per sentence, say) counts once, with its durations added.
    pub stages_seconds: BTreeMap<String, Stats>,
    /// Recent system readings.
    pub system: SystemSummary,
}

/// The records a summary covers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Window {
    /// Earliest end time in the window, RFC 3339; `null` when empty.
    pub first_ended_at: Option<String>,
    /// Earliest end time, seconds since the Unix epoch.
    pub first_ended_at_unix_seconds: Option<f64>,
    /// Latest end time in the window, RFC 3339; `null` when empty.
    pub last_ended_at: Option<String>,
    /// Latest end time, seconds since the Unix epoch.
    pub last_ended_at_unix_seconds: Option<f64>,
    /// Records in the window.
    pub records: u64,
    /// The most records kept.
    pub max_records: u64,
    /// Age beyond which a record leaves the window, in seconds; `null` for no limit.
    pub max_age_seconds: Option<f64>,
    /// Time the trend reaches back, in seconds.
    pub trend_retention_seconds: f64,
    /// Syntheses recorded since the monitor was made, kept or not.
    pub recorded_total: u64,
    /// Stages dropped since the monitor was made, beyond the six distinct names a record
    /// keeps or the limit of distinct stage names.
    pub dropped_stages: u64,
}

/// Syntheses by outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestCounts {
    /// Every synthesis in the window.
    pub total: u64,
    /// Syntheses without an error.
    pub succeeded: u64,
    /// Syntheses with an error.
    pub failed: u64,
    /// Syntheses cancelled before they finished (their span declared `tts.audio.seconds` and
    /// closed without it, and without an error).
    pub cancelled: u64,
    /// Successful syntheses without a valid audio duration (from a microsecond to 10^9
    /// seconds), hence without RTF.
    pub without_rtf: u64,
    /// Syntheses whose audio duration was given but not valid (NaN, infinite, zero, negative,
    /// under a microsecond or over 10^9 seconds); they are among `without_rtf` when they
    /// succeeded.
    pub invalid_audio_seconds: u64,
    /// Failed syntheses per error type.
    pub failed_by_error_type: BTreeMap<String, u64>,
}

/// One measure for all syntheses and for cache misses and hits apart. Syntheses that did not
/// say whether they hit the cache are only in `all`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ByCache {
    /// Every synthesis with the measure.
    pub all: Stats,
    /// Syntheses that ran the engine.
    pub cache_miss: Stats,
    /// Syntheses served from the cache.
    pub cache_hit: Stats,
}

/// Cache look-ups among the syntheses of the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CacheCounts {
    /// Served from the cache.
    pub hits: u64,
    /// Ran the engine.
    pub misses: u64,
    /// Did not say.
    pub unknown: u64,
    /// `hits / (hits + misses)`; `null` without hits or misses.
    pub hit_rate: Option<f64>,
}

/// Audio produced against processing time, over the syntheses with an RTF.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Efficiency {
    /// Audio produced, in seconds; `null` when empty or when the sum overflows.
    pub audio_seconds_total: Option<f64>,
    /// Time spent producing it, in seconds; `null` when empty or when the sum overflows.
    pub processing_seconds_total: Option<f64>,
    /// Audio seconds per processing second, the inverse of the overall RTF (Riva's RTFX);
    /// `null` without processing time.
    pub audio_seconds_per_processing_second: Option<f64>,
}

/// Counts and statistics of one group of syntheses (a voice or a length class).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupSummary {
    /// Syntheses in the group.
    pub requests: u64,
    /// Syntheses without an error.
    pub succeeded: u64,
    /// Syntheses with an error.
    pub failed: u64,
    /// Syntheses cancelled before they finished.
    pub cancelled: u64,
    /// Successful syntheses without RTF.
    pub without_rtf: u64,
    /// Served from the cache.
    pub cache_hits: u64,
    /// Ran the engine.
    pub cache_misses: u64,
    /// Latency of successful syntheses, in seconds.
    pub latency_seconds: Stats,
    /// RTF of syntheses with one.
    pub rtf: Stats,
    /// Latency of the successful cache misses alone, the syntheses that ran the engine.
    #[serde(default)]
    pub cache_miss_latency_seconds: Stats,
    /// RTF of the cache misses alone.
    #[serde(default)]
    pub cache_miss_rtf: Stats,
}

impl GroupSummary {
    fn count(&mut self, r: &Record) {
        self.requests += 1;
        if r.failed() {
            self.failed += 1;
        } else if r.cancelled() {
            self.cancelled += 1;
        } else {
            self.succeeded += 1;
            self.without_rtf += u64::from(r.rtf().is_none());
        }
        match r.cache_hit() {
            Some(true) => self.cache_hits += 1,
            Some(false) => self.cache_misses += 1,
            None => {}
        }
    }
}

/// Groups by input text length, in characters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LengthClasses {
    /// 0–50 characters.
    pub short: GroupSummary,
    /// 51–200 characters.
    pub medium: GroupSummary,
    /// 201–500 characters.
    pub long: GroupSummary,
    /// 501 characters or more.
    pub very_long: GroupSummary,
    /// Length not recorded.
    pub unknown: GroupSummary,
}

/// What a summary needs besides the snapshot.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) now_us: i64,
    pub(crate) window: Window,
    pub(crate) system: SystemSummary,
}

/// Computes a summary from records already filtered to the window.
pub(crate) fn build(snapshot: &Snapshot, context: Context) -> Summary {
    let records = &snapshot.records;
    let latency = Sorted::new(records, |r| r.succeeded().then_some(r.latency_s));
    let rtf = Sorted::new(records, Record::rtf);
    let ttfa = Sorted::new(records, |r| {
        r.time_to_first_audio().filter(|_| r.succeeded())
    });

    Summary {
        schema_version: crate::semconv::monitor::SCHEMA_VERSION,
        generated_at: rfc3339(context.now_us),
        generated_at_unix_seconds: unix_secs_f64(context.now_us),
        window: window(records, context.window),
        requests: requests(snapshot),
        latency_seconds: by_cache(records, &latency),
        rtf: by_cache(records, &rtf),
        time_to_first_audio_seconds: ttfa.stats(),
        cache: cache(records),
        efficiency: efficiency(records),
        voices: voices(snapshot, &latency, &rtf),
        text_length: length_classes(records, &latency, &rtf),
        stages_seconds: stages(snapshot),
        system: context.system,
    }
}

fn window(records: &[Record], limits: Window) -> Window {
    let first = records.iter().map(|r| r.ended_at_us).min();
    let last = records.iter().map(|r| r.ended_at_us).max();
    Window {
        first_ended_at: first.map(rfc3339),
        first_ended_at_unix_seconds: first.map(unix_secs_f64),
        last_ended_at: last.map(rfc3339),
        last_ended_at_unix_seconds: last.map(unix_secs_f64),
        records: records.len() as u64,
        ..limits
    }
}

fn requests(snapshot: &Snapshot) -> RequestCounts {
    let mut counts = RequestCounts::default();
    let mut by_error = vec![0u64; snapshot.errors.len()];
    for r in &snapshot.records {
        counts.total += 1;
        counts.invalid_audio_seconds += u64::from(r.audio_invalid());
        match r.error() {
            Some(error) => {
                counts.failed += 1;
                if let Some(n) = by_error.get_mut(usize::from(error)) {
                    *n += 1;
                }
            }
            None if r.cancelled() => counts.cancelled += 1,
            None => {
                counts.succeeded += 1;
                counts.without_rtf += u64::from(r.rtf().is_none());
            }
        }
    }
    counts.failed_by_error_type = named_counts(&snapshot.errors, &by_error);
    counts
}

fn named_counts(names: &[std::sync::Arc<str>], counts: &[u64]) -> BTreeMap<String, u64> {
    let pairs = names.iter().zip(counts).filter(|(_, n)| **n > 0);
    pairs.map(|(name, n)| (name.to_string(), *n)).collect()
}

fn cache_group(records: &[Record], index: usize) -> Option<usize> {
    records[index].cache_hit().map(usize::from)
}

fn by_cache(records: &[Record], sorted: &Sorted) -> ByCache {
    let mut split = sorted.split(2, |i| cache_group(records, i)).into_iter();
    let cache_miss = split.next().unwrap_or_default();
    let cache_hit = split.next().unwrap_or_default();
    ByCache {
        all: sorted.stats(),
        cache_miss,
        cache_hit,
    }
}

fn cache(records: &[Record]) -> CacheCounts {
    let mut counts = CacheCounts::default();
    for r in records {
        match r.cache_hit() {
            Some(true) => counts.hits += 1,
            Some(false) => counts.misses += 1,
            None => counts.unknown += 1,
        }
    }
    let looked_up = counts.hits + counts.misses;
    counts.hit_rate = (looked_up > 0).then(|| counts.hits as f64 / looked_up as f64);
    counts
}

fn efficiency(records: &[Record]) -> Efficiency {
    let rated: Vec<&Record> = records.iter().filter(|r| r.rtf().is_some()).collect();
    let audio: Vec<f64> = rated.iter().filter_map(|r| r.audio_seconds()).collect();
    let latency: Vec<f64> = rated.iter().map(|r| r.latency_s).collect();

    let ratio = match (mean(&audio), mean(&latency)) {
        (Some(a), Some(l)) if l > 0.0 => Some(a / l).filter(|x| x.is_finite()),
        _ => None,
    };
    Efficiency {
        audio_seconds_total: sum(audio.iter().copied()),
        processing_seconds_total: sum(latency.iter().copied()),
        audio_seconds_per_processing_second: ratio,
    }
}

fn voices(snapshot: &Snapshot, latency: &Sorted, rtf: &Sorted) -> BTreeMap<String, GroupSummary> {
    let records = &snapshot.records;
    let n = snapshot.voices.len();
    let mut groups = vec![GroupSummary::default(); n];
    for r in records {
        if let Some(group) = groups.get_mut(usize::from(r.voice)) {
            group.count(r);
        }
    }
    fill_stats(&mut groups, records, latency, rtf, |r| usize::from(r.voice));

    let named = snapshot
        .voices
        .iter()
        .zip(groups)
        .filter(|(_, g)| g.requests > 0);
    named
        .map(|(name, group)| (name.to_string(), group))
        .collect()
}

/// Fills each group's statistics, for all its syntheses and for its cache misses alone.
fn fill_stats(
    groups: &mut [GroupSummary],
    records: &[Record],
    latency: &Sorted,
    rtf: &Sorted,
    group_of: impl Fn(&Record) -> usize,
) {
    let n = groups.len();
    let all = |i: usize| Some(group_of(&records[i]));
    let miss = |i: usize| (records[i].cache_hit() == Some(false)).then(|| group_of(&records[i]));
    let columns = [
        latency.split(n, all),
        rtf.split(n, all),
        latency.split(n, miss),
        rtf.split(n, miss),
    ];
    let [latency, rtf, miss_latency, miss_rtf] = columns.map(Vec::into_iter);
    let stats = latency.zip(rtf).zip(miss_latency.zip(miss_rtf));
    for (group, ((latency, rtf), (miss_latency, miss_rtf))) in groups.iter_mut().zip(stats) {
        group.latency_seconds = latency;
        group.rtf = rtf;
        group.cache_miss_latency_seconds = miss_latency;
        group.cache_miss_rtf = miss_rtf;
    }
}

fn length_classes(records: &[Record], latency: &Sorted, rtf: &Sorted) -> LengthClasses {
    let mut groups = vec![GroupSummary::default(); LengthClass::COUNT];
    for r in records {
        groups[r.length_class().index()].count(r);
    }
    fill_stats(&mut groups, records, latency, rtf, |r| {
        r.length_class().index()
    });

    let mut groups = groups.into_iter();
    let mut next = || groups.next().unwrap_or_default();
    LengthClasses {
        short: next(),
        medium: next(),
        long: next(),
        very_long: next(),
        unknown: next(),
    }
}

fn stages(snapshot: &Snapshot) -> BTreeMap<String, Stats> {
    let mut values = vec![Vec::new(); snapshot.stages.len()];
    for r in snapshot.records.iter().filter(|r| r.succeeded()) {
        for (id, seconds) in r.stages() {
            if let Some(v) = values.get_mut(usize::from(id)) {
                v.push(seconds);
            }
        }
    }
    let named = snapshot
        .stages
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_empty());
    named
        .map(|(name, v)| (name.to_string(), Stats::from_unsorted(v)))
        .collect()
}
