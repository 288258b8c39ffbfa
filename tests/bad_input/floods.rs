//! Floods of distinct attribute values: series and memory stay bounded.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use opentelemetry_sdk::metrics::Temporality;
use tts_otel::semconv::{attr, limits, metric};

use crate::support::{points, resident_bytes, Point, TEMPORALITIES};
use crate::{exclusive, totals, Rig};

/// Distinct names of each flood.
const FLOOD: usize = 100_000;
/// Resident-set growth allowed over a whole flood.
const MAX_GROWTH_BYTES: u64 = 16 << 20;

/// Distinct attribute sets of each metric.
fn series_per_metric(all: &[Point]) -> BTreeMap<&str, BTreeSet<&BTreeMap<String, String>>> {
    let mut series: BTreeMap<&str, BTreeSet<_>> = BTreeMap::new();
    for point in all {
        series.entry(&point.name).or_default().insert(&point.attrs);
    }
    series
}

/// Closes a synthesis of `voice` and `model`, with the first audio marked.
fn synthesis(voice: &str, model: &str) {
    let span = tracing::info_span!(
        "tts.synthesize",
        tts.voice = voice,
        tts.model = model,
        tts.text.chars = 40_u64,
        tts.audio.seconds = 1.0,
        tts.cache.hit = false,
    );
    span.in_scope(tts_otel::first_audio);
}

/// Closes `FLOOD` syntheses, each with a distinct voice or a distinct model named
/// `flooded-<n>`; the other attribute is `voice` or `model`.
fn flood(rig: &Rig, distinct: &str) {
    rig.run(|| {
        for i in 0..FLOOD {
            let name = format!("flooded-{i:06}");
            match distinct {
                attr::VOICE => synthesis(&name, "model"),
                _ => synthesis("voice", &name),
            }
        }
    });
}

#[test]
fn floods_of_distinct_voices_and_models_keep_series_and_memory_bounded() {
    let _alone = exclusive();
    for temporality in TEMPORALITIES {
        for distinct in [attr::VOICE, attr::MODEL] {
            let rig = Rig::without_collecting(temporality);
            rig.run(|| synthesis("voice", "model"));
            let _ = rig.collect();
            let before = resident_bytes();
            let began = Instant::now();
            flood(&rig, distinct);
            let all = rig.collect();
            let summary = rig.summary();
            let after = resident_bytes();
            let growth = after.zip(before).map(|(a, b)| a.saturating_sub(b));
            println!(
                "{FLOOD} distinct {distinct} values ({temporality:?}): {:.1} s, resident bytes \
                 {before:?} -> {after:?}, growth {growth:?}",
                began.elapsed().as_secs_f64(),
            );

            for (name, series) in series_per_metric(&all) {
                let n = series.len();
                assert!(
                    n <= limits::LABEL_LIMIT + 1,
                    "{name}: {n} series, {distinct} flood"
                );
            }
            let durations = points(&all, metric::SYNTHESIS_DURATION);
            let value_of = |p: &Point| p.attr(distinct).unwrap_or_default().to_owned();
            let named = durations
                .iter()
                .filter(|p| value_of(p).starts_with("flooded-"));
            assert_eq!(named.count(), limits::LABEL_LIMIT - 1, "{distinct}");
            let overflow = durations
                .iter()
                .find(|p| value_of(p) == attr::OVERFLOW_VALUE)
                .expect("the rest are reported as `other`");
            assert_eq!(overflow.count(), (FLOOD + 1 - limits::LABEL_LIMIT) as u64);
            // A delta export counts from the previous one, which held the warm-up.
            let exported = FLOOD as u64 + u64::from(temporality == Temporality::Cumulative);
            let total: u64 = durations.iter().map(|p| p.count()).sum();
            assert_eq!(total, exported, "nothing is lost");
            assert_eq!(totals(&all, metric::TIME_TO_FIRST_AUDIO).0, exported);

            assert_eq!(
                summary.requests.total, 10_000,
                "the window holds the newest"
            );
            assert_eq!(summary.window.recorded_total, FLOOD as u64 + 1);
            assert!(summary.voices.len() <= limits::LABEL_LIMIT + 1);
            if let Some(growth) = growth {
                assert!(
                    growth < MAX_GROWTH_BYTES,
                    "resident set grew by {growth} bytes"
                );
            }
        }
    }
}

#[test]
fn a_flood_of_distinct_error_types_keeps_series_bounded_and_every_failure_counted() {
    const FAILURES: usize = 5_000;
    let _shared = crate::shared();
    for temporality in TEMPORALITIES {
        let rig = Rig::without_collecting(temporality);
        rig.run(|| {
            for i in 0..FAILURES {
                let kind = format!("error-{i}");
                tracing::info_span!("tts.synthesize", tts.voice = "v")
                    .in_scope(|| tracing::error!(error.type = kind.as_str(), "failed"));
            }
        });
        let all = rig.collect();
        for (name, series) in series_per_metric(&all) {
            let n = series.len();
            assert!(n <= limits::LABEL_LIMIT + 1, "{name}: {n} series");
        }
        let durations = points(&all, metric::SYNTHESIS_DURATION);
        let total: u64 = durations.iter().map(|p| p.count()).sum();
        assert_eq!(total, FAILURES as u64, "{temporality:?}");
        let other = durations
            .iter()
            .find(|p| p.attr(attr::ERROR_TYPE) == Some(attr::OVERFLOW_VALUE))
            .expect("the rest are reported as `other`");
        assert_eq!(other.count(), (FAILURES - limits::LABEL_LIMIT) as u64);

        let requests = rig.summary().requests;
        assert_eq!(requests.failed, FAILURES as u64);
        assert!(requests.failed_by_error_type.len() <= limits::LABEL_LIMIT + 1);
        let by_type: u64 = requests.failed_by_error_type.values().sum();
        assert_eq!(by_type, FAILURES as u64);
    }
}
