//! Every awkward number, and every wrong kind of value, for each numeric field of the contract.

use tracing::field::Empty;
use tts_otel::semconv::{field, metric};

use crate::support::TEMPORALITIES;
use crate::{invalid_of, shared, totals, Num, Rig};

/// What the layer makes of a value recorded for `tts.audio.seconds`.
#[derive(Clone, Copy, Debug)]
enum Audio {
    /// A duration with an RTF.
    Rated(f64),
    /// A duration recorded in `tts.audio.duration`, too short for an RTF.
    Unrated(f64),
    /// Dropped and counted in `tts.telemetry.invalid_values`; no RTF.
    Invalid,
}

/// One value and what each field makes of it: the text length kept (or `None`: invalid), the
/// audio duration, and the speed handed to sinks (or `None`: invalid).
struct Case {
    value: Num,
    chars: Option<u64>,
    audio: Audio,
    speed: Option<f64>,
}

const fn case(value: Num, chars: Option<u64>, audio: Audio, speed: Option<f64>) -> Case {
    Case {
        value,
        chars,
        audio,
        speed,
    }
}

/// Zero, negatives, NaN, infinities, subnormals, huge values, integer extremes beyond `u64`,
/// and values of the wrong kind, with a few ordinary values among them.
const CASES: &[Case] = {
    use Audio::{Invalid, Rated, Unrated};
    use Num::*;
    &[
        case(U64(0), Some(0), Unrated(0.0), None),
        case(F64(-0.0), Some(0), Unrated(0.0), None),
        case(I64(-1), None, Invalid, None),
        case(F64(-2.5), None, Invalid, None),
        case(F64(f64::NAN), None, Invalid, None),
        case(F64(f64::INFINITY), None, Invalid, None),
        case(F64(f64::NEG_INFINITY), None, Invalid, None),
        case(F64(5e-324), None, Unrated(5e-324), Some(5e-324)),
        case(F64(1e-310), None, Unrated(1e-310), Some(1e-310)),
        case(F64(1e-7), None, Unrated(1e-7), Some(1e-7)),
        case(F64(f64::MAX), None, Invalid, Some(f64::MAX)),
        case(F64(1e300), None, Invalid, Some(1e300)),
        case(F64(1e10), None, Invalid, Some(1e10)),
        case(U64(1_000_000), Some(1_000_000), Rated(1e6), Some(1e6)),
        case(U64(u64::MAX), None, Invalid, Some(u64::MAX as f64)),
        case(I64(i64::MIN), None, Invalid, None),
        case(I64(i64::MAX), None, Invalid, Some(i64::MAX as f64)),
        case(
            U128(u64::MAX as u128 + 1),
            None,
            Invalid,
            Some(u64::MAX as f64),
        ),
        case(U128(u128::MAX), None, Invalid, Some(u128::MAX as f64)),
        case(I128(i128::MIN), None, Invalid, None),
        case(I128(-(u64::MAX as i128) - 1), None, Invalid, None),
        case(Str("2.5"), None, Invalid, None),
        case(Bool(true), None, Invalid, None),
        case(Debug(2.5), None, Invalid, None),
        case(F64(2.5), None, Rated(2.5), Some(2.5)),
        case(F64(120.0), Some(120), Rated(120.0), Some(120.0)),
        case(U64(120), Some(120), Rated(120.0), Some(120.0)),
        case(I64(42), Some(42), Rated(42.0), Some(42.0)),
        case(U128(7), Some(7), Rated(7.0), Some(7.0)),
        case(I128(7), Some(7), Rated(7.0), Some(7.0)),
    ]
};

/// Each case is recorded on this many spans, so that sums of huge values would overflow.
const SPANS_PER_CASE: u64 = 3;

/// Closes `SPANS_PER_CASE` syntheses per case with the case's value recorded for `under_test`
/// and ordinary values for the other numeric fields.
fn record_cases(rig: &Rig, under_test: &str) {
    rig.run(|| {
        for case in CASES {
            for _ in 0..SPANS_PER_CASE {
                let span = tracing::info_span!(
                    "tts.synthesize",
                    tts.voice = "v",
                    tts.text.chars = Empty,
                    tts.audio.seconds = Empty,
                    tts.speed = Empty,
                );
                for (name, ordinary) in [
                    (field::TEXT_CHARS, Num::U64(10)),
                    (field::AUDIO_SECONDS, Num::F64(1.0)),
                    (field::SPEED, Num::F64(1.0)),
                ] {
                    let value = if name == under_test {
                        case.value
                    } else {
                        ordinary
                    };
                    value.record(&span, name);
                }
            }
        }
    });
}

#[test]
fn every_awkward_text_length_is_kept_exactly_or_dropped_and_counted() {
    let _shared = shared();
    for temporality in TEMPORALITIES {
        let rig = Rig::new(temporality);
        record_cases(&rig, field::TEXT_CHARS);

        let kept: Vec<u64> = CASES.iter().filter_map(|c| c.chars).collect();
        let invalid = (CASES.len() - kept.len()) as u64 * SPANS_PER_CASE;
        let all = rig.collect();
        let (count, sum) = totals(&all, metric::TEXT_CHARS);
        assert_eq!(count, kept.len() as u64 * SPANS_PER_CASE, "{temporality:?}");
        assert_eq!(sum, kept.iter().sum::<u64>() as f64 * SPANS_PER_CASE as f64);
        assert_eq!(invalid_of(&all, field::TEXT_CHARS), invalid as f64);

        let n = CASES.len() as u64 * SPANS_PER_CASE;
        assert_eq!(
            totals(&all, metric::SYNTHESIS_RTF).0,
            n,
            "every one is rated"
        );
        let summary = rig.summary();
        assert_eq!((summary.requests.total, summary.requests.succeeded), (n, n));
        assert_eq!(summary.text_length.unknown.requests, invalid);
        let very_long = summary.text_length.very_long.requests;
        assert_eq!(very_long, SPANS_PER_CASE, "only the million");
    }
}

#[test]
fn every_awkward_audio_duration_is_rated_recorded_or_dropped_and_counted() {
    let _shared = shared();
    for temporality in TEMPORALITIES {
        let rig = Rig::new(temporality);
        record_cases(&rig, field::AUDIO_SECONDS);

        let per = SPANS_PER_CASE as f64;
        let recorded: Vec<f64> = CASES
            .iter()
            .filter_map(|c| match c.audio {
                Audio::Rated(s) | Audio::Unrated(s) => Some(s),
                Audio::Invalid => None,
            })
            .collect();
        let rated = CASES
            .iter()
            .filter(|c| matches!(c.audio, Audio::Rated(_)))
            .count() as u64;
        let n = CASES.len() as u64 * SPANS_PER_CASE;
        let all = rig.collect();
        let (count, sum) = totals(&all, metric::AUDIO_DURATION);
        assert_eq!(
            count,
            recorded.len() as u64 * SPANS_PER_CASE,
            "{temporality:?}"
        );
        assert_eq!(sum, recorded.iter().sum::<f64>() * per);
        let invalid = (CASES.len() - recorded.len()) as f64 * per;
        assert_eq!(invalid_of(&all, field::AUDIO_SECONDS), invalid);
        assert_eq!(
            totals(&all, metric::SYNTHESIS_RTF).0,
            rated * SPANS_PER_CASE
        );
        let unrated = totals(&all, metric::SYNTHESIS_UNRATED).1;
        assert_eq!(unrated, (n - rated * SPANS_PER_CASE) as f64);
        assert_eq!(totals(&all, metric::SYNTHESIS_DURATION).0, n);
        assert_eq!(
            totals(&all, metric::SYNTHESIS_CANCELLED).1,
            0.0,
            "each was recorded"
        );

        let summary = rig.summary();
        assert_eq!((summary.requests.total, summary.requests.succeeded), (n, n));
        assert_eq!(summary.rtf.all.count, rated * SPANS_PER_CASE);
        assert_eq!(summary.requests.without_rtf, n - rated * SPANS_PER_CASE);
    }
}

#[test]
fn every_awkward_speed_reaches_sinks_only_when_finite_and_positive() {
    let _shared = shared();
    for temporality in TEMPORALITIES {
        let rig = Rig::new(temporality);
        record_cases(&rig, field::SPEED);

        let seen: Vec<Option<f64>> = rig.sink.take().iter().map(|s| s.speed).collect();
        let expected: Vec<Option<f64>> = CASES
            .iter()
            .flat_map(|c| std::iter::repeat_n(c.speed, SPANS_PER_CASE as usize))
            .collect();
        assert_eq!(seen, expected, "{temporality:?}");
        let all = rig.collect();
        let invalid = CASES.iter().filter(|c| c.speed.is_none()).count() as u64;
        assert_eq!(
            invalid_of(&all, field::SPEED),
            (invalid * SPANS_PER_CASE) as f64
        );
        let n = CASES.len() as u64 * SPANS_PER_CASE;
        assert_eq!(
            totals(&all, metric::SYNTHESIS_RTF).0,
            n,
            "speed never costs an RTF"
        );
        assert_eq!(rig.summary().requests.succeeded, n);
    }
}

#[test]
fn a_field_recorded_twice_keeps_its_last_valid_value() {
    let _shared = shared();
    for temporality in TEMPORALITIES {
        let rig = Rig::new(temporality);
        rig.run(|| {
            let span = tracing::info_span!(
                "tts.synthesize",
                tts.voice = "first",
                tts.model = Empty,
                tts.text.chars = 10_u64,
                tts.audio.seconds = 1.0,
                tts.cache.hit = true,
                tts.speed = 1.0,
            );
            span.record(field::VOICE, "second");
            span.record(field::MODEL, "m1").record(field::MODEL, "m2");
            span.record(field::TEXT_CHARS, 20_i64);
            span.record(field::AUDIO_SECONDS, 4_u64);
            span.record(field::CACHE_HIT, false);
            span.record(field::SPEED, 2.0);
            // Invalid values afterwards: text length and speed keep their last valid value.
            span.record(field::TEXT_CHARS, -1_i64);
            span.record(field::SPEED, f64::NAN);
        });
        let synthesis = rig.sink.take().pop().expect("one synthesis");
        assert_eq!(&*synthesis.voice, "second");
        assert_eq!(synthesis.model.as_deref(), Some("m2"));
        assert_eq!(synthesis.text_chars, Some(20));
        assert_eq!(synthesis.audio_seconds, Some(4.0));
        assert_eq!(synthesis.cache_hit, Some(false));
        assert_eq!(synthesis.speed, Some(2.0));

        let all = rig.collect();
        let rtf = crate::support::only(&all, metric::SYNTHESIS_RTF);
        assert_eq!(rtf.attr("tts.voice"), Some("second"));
        assert_eq!(rtf.attr("tts.model"), Some("m2"));
        assert_eq!(rtf.attr("tts.cache.result"), Some("miss"));
        assert_eq!(totals(&all, metric::TEXT_CHARS), (1, 20.0));
        assert_eq!(totals(&all, metric::AUDIO_DURATION), (1, 4.0));
        assert_eq!(invalid_of(&all, field::TEXT_CHARS), 1.0);
        assert_eq!(invalid_of(&all, field::SPEED), 1.0);
        assert_eq!(rig.summary().voices["second"].cache_misses, 1);
    }
}

#[test]
fn a_last_audio_duration_that_is_invalid_leaves_the_synthesis_without_rtf() {
    let _shared = shared();
    let rig = Rig::new(TEMPORALITIES[0]);
    rig.run(|| {
        let span = tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 2.0);
        span.record(field::AUDIO_SECONDS, f64::NAN);
    });
    let all = rig.collect();
    assert_eq!(totals(&all, metric::SYNTHESIS_RTF).0, 0);
    assert_eq!(totals(&all, metric::SYNTHESIS_UNRATED).1, 1.0);
    assert_eq!(invalid_of(&all, field::AUDIO_SECONDS), 1.0);
    let requests = rig.summary().requests;
    assert_eq!(
        (requests.without_rtf, requests.invalid_audio_seconds),
        (1, 1)
    );
}
