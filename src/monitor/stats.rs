//! Exact statistics over the retained window.
//!
//! # Method
//!
//! Quantiles are exact, by the *nearest-rank* rule: over `n` values sorted ascending, the
//! `p`-th percentile is the value at 1-based rank `⌈p·n/100⌉`, the smallest value such that
//! at least `p` % of the values are less than or equal to it. It is always one of the observed
//! values, never an interpolation. Ranks are computed in integers, so no rounding moves them.
//!
//! # Cost
//!
//! Each measure (latency, RTF, time to first audio, each stage) is copied once out of the
//! snapshot as `(value, record index)` pairs (16 bytes each), sorted once in
//! `O(n log n)`, and then split into its groups (cache result, voice, length class) in one
//! pass that keeps every group sorted. For the default window of 10,000 records this is a few
//! hundred kilobytes of short-lived memory and well under ten milliseconds, spent after the
//! store's lock is released.

use serde::{Deserialize, Serialize};

use super::store::Record;

/// Distribution of one measure over a set of syntheses.
///
/// Quantiles are exact over the retained window, by the nearest-rank rule: over `n` values
/// sorted ascending, `pXX` is the value at 1-based rank `⌈XX·n/100⌉`, always an observed
/// value. Computing them sorts a copy of the window's values: 16 bytes per value, short-lived,
/// after the store's lock is released.
///
/// Every field but `count` is `null` when the set is empty. Values are finite: non-finite
/// inputs are dropped before they get here, and the mean is computed so that it cannot
/// overflow (it always lies between `min` and `max`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// Number of values.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// Median, nearest rank.
    pub p50: Option<f64>,
    /// 90th percentile, nearest rank.
    pub p90: Option<f64>,
    /// 95th percentile, nearest rank.
    pub p95: Option<f64>,
    /// 99th percentile, nearest rank.
    pub p99: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

impl Stats {
    /// Statistics of values already sorted ascending, all finite.
    pub(crate) fn from_sorted(sorted: &[f64]) -> Stats {
        let (Some(min), Some(max)) = (sorted.first(), sorted.last()) else {
            return Stats::default();
        };
        Stats {
            count: sorted.len() as u64,
            mean: mean(sorted).map(|m| m.clamp(*min, *max)),
            min: Some(*min),
            p50: Some(nearest_rank(sorted, 50)),
            p90: Some(nearest_rank(sorted, 90)),
            p95: Some(nearest_rank(sorted, 95)),
            p99: Some(nearest_rank(sorted, 99)),
            max: Some(*max),
        }
    }

    /// Statistics of values in any order; non-finite ones are dropped.
    pub(crate) fn from_unsorted(mut values: Vec<f64>) -> Stats {
        values.retain(|v| v.is_finite());
        values.sort_unstable_by(f64::total_cmp);
        Stats::from_sorted(&values)
    }
}

/// The `percent`-th percentile of a non-empty sorted slice, by nearest rank.
pub(crate) fn nearest_rank(sorted: &[f64], percent: u64) -> f64 {
    let n = sorted.len() as u64;
    let rank = (percent * n).div_ceil(100).clamp(1, n);
    sorted[(rank - 1) as usize]
}

/// Sum of finite values, `None` when empty or when the sum overflows.
pub(crate) fn sum(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut total = 0.0;
    let mut any = false;
    for v in values {
        total += v;
        any = true;
    }
    (any && total.is_finite()).then_some(total)
}

/// Mean of finite values that cannot overflow: the plain sum when it stays finite, otherwise
/// the sum of each value divided by the count, kept between the smallest and largest value.
pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let total: f64 = values.iter().sum();
    if total.is_finite() {
        return Some(total / n);
    }
    let scaled: f64 = values.iter().map(|v| v / n).sum();
    let largest = values.iter().copied().fold(f64::MIN, f64::max);
    let smallest = values.iter().copied().fold(f64::MAX, f64::min);
    scaled
        .is_finite()
        .then_some(scaled.clamp(smallest, largest))
        .or(Some(largest))
}

/// Mean of the finite values among `values`; `None` when there are none.
pub(crate) fn finite_mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let kept: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    mean(&kept)
}

/// One measure of the records, as `(value, record index)` pairs sorted by value.
#[derive(Debug)]
pub(crate) struct Sorted(Vec<(f64, u32)>);

impl Sorted {
    /// The finite values `value` gives for `records`, sorted.
    pub(crate) fn new(records: &[Record], value: impl Fn(&Record) -> Option<f64>) -> Self {
        let mut pairs: Vec<(f64, u32)> = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| value(r).filter(|v| v.is_finite()).map(|v| (v, i as u32)))
            .collect();
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        Sorted(pairs)
    }

    /// Statistics over every value.
    pub(crate) fn stats(&self) -> Stats {
        let values: Vec<f64> = self.0.iter().map(|(v, _)| *v).collect();
        Stats::from_sorted(&values)
    }

    /// Statistics per group: `group` maps a record index to one of `groups` groups, or to
    /// none. One pass keeps every group sorted.
    pub(crate) fn split(
        &self,
        groups: usize,
        group: impl Fn(usize) -> Option<usize>,
    ) -> Vec<Stats> {
        let mut split: Vec<Vec<f64>> = vec![Vec::new(); groups];
        for (value, index) in &self.0 {
            if let Some(values) = group(*index as usize).and_then(|g| split.get_mut(g)) {
                values.push(*value);
            }
        }
        split
            .iter()
            .map(|values| Stats::from_sorted(values))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_of_one_to_a_hundred_is_the_percent_itself() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&values, 50), 50.0);
        assert_eq!(nearest_rank(&values, 95), 95.0);
        assert_eq!(nearest_rank(&values, 99), 99.0);
    }

    #[test]
    fn nearest_rank_of_one_value_is_that_value() {
        assert_eq!(nearest_rank(&[7.0], 1), 7.0);
        assert_eq!(nearest_rank(&[7.0], 99), 7.0);
    }

    #[test]
    fn mean_of_huge_values_stays_finite() {
        let values = [f64::MAX, f64::MAX, f64::MAX];
        assert_eq!(mean(&values), Some(f64::MAX));
        assert_eq!(sum(values.into_iter()), None);
    }

    #[test]
    fn empty_stats_are_all_null() {
        let stats = Stats::from_sorted(&[]);
        assert_eq!(stats.count, 0);
        assert_eq!(stats.mean, None);
        assert_eq!(stats.p99, None);
    }
}
