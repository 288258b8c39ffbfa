//! The RTF trend: compact per-slot aggregates over the retention time, merged into buckets on
//! demand.
//!
//! Each synthesis lands in the slot of its own `ended_at`, a period of the configured
//! granularity (a minute by default) aligned to the Unix epoch. A slot keeps a request count,
//! the count and exact running mean of RTFs, their exact minimum and maximum, and a
//! [DDSketch](sketches_ddsketch) of them with 1 % relative accuracy. At most
//! `retention / granularity + 1` slots are kept, each with at most
//! [`TREND_SKETCH_MAX_BINS`] eight-byte bins (about 1.6 KB a slot with its bookkeeping), so
//! 24 hours of trend at one-minute granularity stays near 2.3 MB whatever the request rate.
//!
//! A bucket's p95 is the sketch's estimate of the nearest-rank 95th percentile (the rule the
//! summary uses) over the merged slots, clamped to the bucket's exact minimum and maximum.
//! Counts, means, minima and maxima are exact.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};

use crate::semconv::monitor::{TREND_RELATIVE_ACCURACY, TREND_SKETCH_MAX_BINS};

use super::clock::{rfc3339, rfc3339_secs, unix_secs, unix_secs_f64};

/// Smallest RTF the sketch tells apart from zero.
const SKETCH_MIN_VALUE: f64 = 1e-9;

/// RTF over time, oldest bucket first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RtfTrend {
    /// "Now" as the monitor's clock gave it, RFC 3339 in UTC.
    pub end: String,
    /// "Now", seconds since the Unix epoch.
    pub end_unix_seconds: f64,
    /// The window looked back over, after clamping to the trend retention, in seconds.
    pub window_seconds: u64,
    /// Width of each bucket in seconds: the requested resolution rounded up to a whole number
    /// of slots.
    pub resolution_seconds: u64,
    /// Every bucket that overlaps the window, empty ones included, in time order.
    pub buckets: Vec<TrendBucket>,
}

/// Syntheses that ended within one bucket of the trend.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrendBucket {
    /// Start of the bucket, RFC 3339 in UTC; buckets are aligned to multiples of their width
    /// since the Unix epoch.
    pub start: String,
    /// Start of the bucket, seconds since the Unix epoch.
    pub start_unix_seconds: i64,
    /// Syntheses that ended in the bucket, failed ones and ones without RTF included.
    pub requests: u64,
    /// Syntheses with an RTF.
    pub rtf_count: u64,
    /// Mean RTF, exact.
    pub rtf_mean: Option<f64>,
    /// 95th percentile of RTF, nearest rank, estimated within 1 % relative error.
    // TODO: exact only through the sketch's 1 % bound; a bucket whose syntheses are all still
    // in the record ring could be computed exactly from them, at the cost of a second path.
    pub rtf_p95: Option<f64>,
    /// Smallest RTF, exact.
    pub rtf_min: Option<f64>,
    /// Largest RTF, exact.
    pub rtf_max: Option<f64>,
}

/// One slot's aggregate.
#[derive(Clone)]
pub(crate) struct Slot {
    index: i64,
    requests: u64,
    rated: u64,
    mean: f64,
    min: f64,
    max: f64,
    sketch: DDSketch,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("index", &self.index)
            .field("requests", &self.requests)
            .field("rated", &self.rated)
            .field("bins", &self.sketch.length())
            .finish_non_exhaustive()
    }
}

impl Slot {
    fn new(index: i64, config: Config) -> Self {
        Slot {
            index,
            requests: 0,
            rated: 0,
            mean: 0.0,
            min: f64::MAX,
            max: 0.0,
            sketch: DDSketch::new(config),
        }
    }

    fn add(&mut self, rtf: Option<f64>) {
        self.requests = self.requests.saturating_add(1);
        let Some(rtf) = rtf.filter(|r| r.is_finite() && *r >= 0.0) else {
            return;
        };
        self.rated += 1;
        self.mean += (rtf - self.mean) / self.rated as f64;
        self.min = self.min.min(rtf);
        self.max = self.max.max(rtf);
        self.sketch.add(rtf);
    }

    /// Folds `other` in; the running mean is combined by weight, so it cannot overflow.
    fn merge(&mut self, other: &Slot) {
        self.requests = self.requests.saturating_add(other.requests);
        if other.rated == 0 {
            return;
        }
        let rated = self.rated + other.rated;
        self.mean += (other.mean - self.mean) * (other.rated as f64 / rated as f64);
        self.rated = rated;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        // Sketches of one store share one config, the only reason a merge can fail.
        let _ = self.sketch.merge(&other.sketch);
    }

    fn bucket(&self, start_s: i64) -> TrendBucket {
        let rated = self.rated > 0;
        let q = nearest_rank_quantile(self.rated, 95);
        let p95 = self.sketch.quantile(q).ok().flatten();
        TrendBucket {
            start: rfc3339_secs(start_s),
            start_unix_seconds: start_s,
            requests: self.requests,
            rtf_count: self.rated,
            rtf_mean: rated.then(|| self.mean.clamp(self.min, self.max)),
            rtf_p95: p95.filter(|_| rated).map(|p| p.clamp(self.min, self.max)),
            rtf_min: rated.then_some(self.min),
            rtf_max: rated.then_some(self.max),
        }
    }
}

/// The quantile to ask the sketch for so that it estimates the nearest-rank percentile the
/// summary uses: the sketch reads rank `⌊q·(n−1)⌋` (from zero), so `q` aims at the middle of
/// the wanted rank `⌈p·n/100⌉ − 1`; the top rank asks for 1, which the sketch answers exactly.
fn nearest_rank_quantile(n: u64, percent: u64) -> f64 {
    let rank = (percent * n).div_ceil(100).max(1) - 1;
    if n <= 1 {
        return 1.0;
    }
    ((rank as f64 + 0.5) / (n - 1) as f64).min(1.0)
}

/// The slots of the retention time, ordered by index, with no two of one index.
#[derive(Debug)]
pub(crate) struct TrendStore {
    slots: VecDeque<Slot>,
    granularity_s: i64,
    max_slots: usize,
    config: Config,
}

impl TrendStore {
    pub(crate) fn new(retention: Duration, granularity: Duration) -> Self {
        let granularity_s = granularity.as_secs().clamp(1, u64::from(u32::MAX));
        let max_slots = retention
            .as_secs()
            .div_ceil(granularity_s)
            .saturating_add(1);
        TrendStore {
            slots: VecDeque::new(),
            granularity_s: granularity_s as i64,
            max_slots: usize::try_from(max_slots)
                .unwrap_or(usize::MAX)
                .min(1 << 20),
            config: Config::new(
                TREND_RELATIVE_ACCURACY,
                TREND_SKETCH_MAX_BINS,
                SKETCH_MIN_VALUE,
            ),
        }
    }

    /// Adds a synthesis that ended at `ended_at_us`. `now_us` is asked only when a new slot is
    /// needed, to drop slots older than the retention.
    pub(crate) fn add(&mut self, ended_at_us: i64, rtf: Option<f64>, now_us: impl FnOnce() -> i64) {
        let index = self.slot_of(ended_at_us);
        if let Some(slot) = self.slots.back_mut().filter(|s| s.index == index) {
            return slot.add(rtf);
        }
        let pos = self.slots.partition_point(|s| s.index < index);
        if let Some(slot) = self.slots.get_mut(pos).filter(|s| s.index == index) {
            return slot.add(rtf);
        }
        let oldest = self
            .slot_of(now_us())
            .saturating_sub(self.max_slots as i64 - 1);
        if index < oldest {
            return;
        }
        self.insert(index, rtf, oldest);
    }

    fn insert(&mut self, index: i64, rtf: Option<f64>, oldest: i64) {
        while self.slots.front().is_some_and(|s| s.index < oldest) {
            self.slots.pop_front();
        }
        let mut slot = Slot::new(index, self.config);
        slot.add(rtf);
        let pos = self.slots.partition_point(|s| s.index < index);
        self.slots.insert(pos, slot);
        while self.slots.len() > self.max_slots {
            self.slots.pop_front();
        }
    }

    fn slot_of(&self, micros: i64) -> i64 {
        unix_secs(micros).div_euclid(self.granularity_s)
    }

    /// Lays out the buckets of a query; see [`TrendPlan`].
    pub(crate) fn plan(&self, now_us: i64, window: Duration, resolution: Duration) -> TrendPlan {
        let g = self.granularity_s;
        let retention_s = (self.max_slots as i64 - 1).saturating_mul(g);
        let window_s = i64::try_from(window.as_secs())
            .unwrap_or(i64::MAX)
            .min(retention_s);
        let steps = i64::try_from(resolution.as_secs().div_ceil(g as u64)).unwrap_or(i64::MAX);
        let bucket_s = steps.clamp(1, (retention_s / g).max(1)) * g;

        let now_s = unix_secs(now_us);
        TrendPlan {
            now_us,
            window_s,
            bucket_s,
            first_s: now_s.saturating_sub(window_s).div_euclid(bucket_s) * bucket_s,
            last_s: now_s.div_euclid(bucket_s) * bucket_s,
            granularity_s: g,
            config: self.config,
        }
    }

    /// Copies the slots a plan covers.
    pub(crate) fn slots_for(&self, plan: &TrendPlan) -> Vec<Slot> {
        let first = plan.first_s.div_euclid(self.granularity_s);
        let end = plan
            .last_s
            .saturating_add(plan.bucket_s)
            .div_euclid(self.granularity_s);
        let from = self.slots.partition_point(|s| s.index < first);
        let to = self.slots.partition_point(|s| s.index < end);
        self.slots.range(from..to.max(from)).cloned().collect()
    }

    /// Slots kept now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }
}

/// Where the buckets of one trend query lie: from the bucket holding `now − window` to the
/// bucket holding `now`, each `bucket_s` wide and aligned to the Unix epoch. Since the window
/// is clamped to the retention and a bucket is at least one slot wide, a plan never has more
/// buckets than the store has slots, plus one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TrendPlan {
    now_us: i64,
    window_s: i64,
    bucket_s: i64,
    first_s: i64,
    last_s: i64,
    granularity_s: i64,
    config: Config,
}

impl TrendPlan {
    /// Merges `slots` (from [`TrendStore::slots_for`]) into the buckets; needs no lock.
    pub(crate) fn build(&self, slots: &[Slot]) -> RtfTrend {
        let count = (self.last_s - self.first_s) / self.bucket_s + 1;
        let mut merged: Vec<Slot> = (0..count).map(|_| Slot::new(0, self.config)).collect();
        for slot in slots {
            let start_s = slot.index.saturating_mul(self.granularity_s);
            let bucket = start_s
                .saturating_sub(self.first_s)
                .div_euclid(self.bucket_s);
            if let Some(into) = usize::try_from(bucket).ok().and_then(|b| merged.get_mut(b)) {
                into.merge(slot);
            }
        }
        RtfTrend {
            end: rfc3339(self.now_us),
            end_unix_seconds: unix_secs_f64(self.now_us),
            window_seconds: self.window_s.unsigned_abs(),
            resolution_seconds: self.bucket_s.unsigned_abs(),
            buckets: self
                .starts()
                .zip(&merged)
                .map(|(s, m)| m.bucket(s))
                .collect(),
        }
    }

    fn starts(&self) -> impl Iterator<Item = i64> {
        let TrendPlan {
            first_s, bucket_s, ..
        } = *self;
        (0..).map(move |i| first_s.saturating_add(i * bucket_s))
    }
}

/// A resolution that gives a readable number of buckets for a window: a minute up to an
/// hour, five minutes up to six hours, a quarter hour up to a day, and an hour beyond.
pub(crate) fn default_resolution(window: Duration) -> Duration {
    const HOUR: u64 = 60 * 60;
    let minutes = match window.as_secs() {
        s if s <= HOUR => 1,
        s if s <= 6 * HOUR => 5,
        s if s <= 24 * HOUR => 15,
        _ => 60,
    };
    Duration::from_secs(minutes * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE_US: i64 = 60_000_000;

    #[test]
    fn slots_stay_ordered_when_syntheses_arrive_out_of_order() {
        let mut store = TrendStore::new(Duration::from_secs(3600), Duration::from_secs(60));
        for minute in [5, 2, 9, 2, 7, 0] {
            store.add(minute * MINUTE_US, Some(0.5), || 10 * MINUTE_US);
        }
        let indexes: Vec<i64> = store.slots.iter().map(|s| s.index).collect();
        assert_eq!(indexes, [0, 2, 5, 7, 9]);
    }

    #[test]
    fn slots_older_than_the_retention_are_dropped() {
        let mut store = TrendStore::new(Duration::from_secs(600), Duration::from_secs(60));
        store.add(0, Some(0.5), || 0);
        store.add(30 * MINUTE_US, Some(0.5), || 30 * MINUTE_US);
        store.add(MINUTE_US, Some(0.5), || 30 * MINUTE_US);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn extreme_rtfs_in_any_order_give_finite_buckets() {
        let extremes = [1e-300, 1e308, 5e-324, 0.0, f64::MAX, 1.0, -0.0, 1e-12];
        for rotation in 0..extremes.len() {
            let mut store = TrendStore::new(Duration::from_secs(3600), Duration::from_secs(60));
            for (i, rtf) in extremes.iter().cycle().skip(rotation).take(40).enumerate() {
                store.add((i as i64 % 3) * MINUTE_US, Some(*rtf), || 0);
            }
            let plan = store.plan(3 * MINUTE_US, Duration::from_secs(600), Duration::ZERO);
            let trend = plan.build(&store.slots_for(&plan));
            assert_eq!(trend.buckets.iter().map(|b| b.rtf_count).sum::<u64>(), 40);
            for b in trend.buckets.iter().filter(|b| b.rtf_count > 0) {
                let (p95, min, max) = (b.rtf_p95.unwrap(), b.rtf_min.unwrap(), b.rtf_max.unwrap());
                assert!(p95.is_finite() && min <= p95 && p95 <= max);
                assert!(b.rtf_mean.unwrap().is_finite());
            }
        }
    }

    #[test]
    fn the_sketch_quantile_aims_at_the_nearest_rank() {
        assert_eq!(nearest_rank_quantile(1, 95), 1.0);
        assert_eq!(nearest_rank_quantile(2, 95), 1.0);
        assert_eq!(nearest_rank_quantile(100, 95), 94.5 / 99.0);
        assert_eq!(((94.5 / 99.0) * 99.0f64).floor(), 94.0);
    }

    #[test]
    fn default_resolution_grows_with_the_window() {
        assert_eq!(default_resolution(Duration::from_secs(3600)).as_secs(), 60);
        assert_eq!(default_resolution(Duration::from_secs(3601)).as_secs(), 300);
        assert_eq!(
            default_resolution(Duration::from_secs(86_400)).as_secs(),
            900
        );
        assert_eq!(default_resolution(Duration::MAX).as_secs(), 3600);
    }
}
