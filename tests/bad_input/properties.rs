//! Arbitrary sequences of field records, markers, errors and stages on synthesis spans.

use proptest::prelude::*;
use tracing::field::Empty;
use tracing::Span;
use tts_otel::semconv::metric;

use crate::support::TEMPORALITIES;
use crate::{shared, totals, Num, Rig};

/// Names a record may use: the contract's fields, other declared fields, and names the spans
/// never declare (which `tracing` ignores).
const NAMES: [&str; 15] = [
    "tts.voice",
    "tts.model",
    "tts.text.chars",
    "tts.audio.seconds",
    "tts.cache.hit",
    "tts.format",
    "tts.speed",
    "tts.streaming",
    "text",
    "error.type",
    "tts.first_audio",
    "tts.voice.id",
    "tts.undeclared",
    "TTS.VOICE",
    "",
];

const STRINGS: [&str; 7] = [
    "",
    "en-us",
    "2.5",
    "NaN",
    "ünï\u{0}cødé",
    "a voice name far longer than any label may be, so that it is reported as `other` \
     rather than kept: the limit is a hundred and twenty-eight bytes, and this is longer",
    "other",
];

/// One thing done to an open synthesis span.
#[derive(Clone, Debug)]
enum Op {
    Record(&'static str, Num),
    FirstAudio,
    Error(Option<&'static str>),
    Stage,
}

/// One synthesis span: whether it declares `tts.audio.seconds`, and what is done to it.
#[derive(Clone, Debug)]
struct Script {
    declares_audio: bool,
    ops: Vec<Op>,
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(1e-310),
        Just(1e300),
        any::<f64>(),
        0.0..1000.0f64,
    ]
}

fn any_num() -> impl Strategy<Value = Num> {
    prop_oneof![
        prop_oneof![Just(0), Just(u64::MAX), any::<u64>(), 0..10_000u64].prop_map(Num::U64),
        prop_oneof![Just(i64::MIN), Just(-1), any::<i64>()].prop_map(Num::I64),
        any_f64().prop_map(Num::F64),
        prop_oneof![Just(u128::MAX), any::<u128>()].prop_map(Num::U128),
        prop_oneof![Just(i128::MIN), any::<i128>()].prop_map(Num::I128),
        any::<bool>().prop_map(Num::Bool),
        (0..STRINGS.len()).prop_map(|i| Num::Str(STRINGS[i])),
        any_f64().prop_map(Num::Debug),
    ]
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => ((0..NAMES.len()), any_num()).prop_map(|(i, v)| Op::Record(NAMES[i], v)),
        1 => Just(Op::FirstAudio),
        1 => proptest::option::of((0..STRINGS.len()).prop_map(|i| STRINGS[i])).prop_map(Op::Error),
        1 => Just(Op::Stage),
    ]
}

fn any_script() -> impl Strategy<Value = Script> {
    (any::<bool>(), proptest::collection::vec(any_op(), 0..12)).prop_map(|(declares_audio, ops)| {
        Script {
            declares_audio,
            ops,
        }
    })
}

fn open(declares_audio: bool) -> Span {
    if declares_audio {
        tracing::info_span!(
            "tts.synthesize",
            tts.voice = Empty, tts.model = Empty, tts.text.chars = Empty,
            tts.audio.seconds = Empty, tts.cache.hit = Empty, tts.format = Empty,
            tts.speed = Empty, tts.streaming = Empty, text = Empty, error.type = Empty,
            tts.first_audio = Empty, tts.voice.id = Empty,
        )
    } else {
        tracing::info_span!(
            "tts.synthesize",
            tts.voice = Empty, tts.model = Empty, tts.text.chars = Empty,
            tts.cache.hit = Empty, tts.format = Empty, tts.speed = Empty,
            tts.streaming = Empty, text = Empty, error.type = Empty,
            tts.first_audio = Empty, tts.voice.id = Empty,
        )
    }
}

fn play(script: &Script) {
    let span = open(script.declares_audio);
    for op in &script.ops {
        match op {
            Op::Record(name, value) => value.record(&span, name),
            Op::FirstAudio => span.in_scope(tts_otel::first_audio),
            Op::Error(Some(kind)) => span.in_scope(|| tracing::error!(error.type = *kind, "x")),
            Op::Error(None) => span.in_scope(|| tracing::error!("failed")),
            Op::Stage => drop(tracing::info_span!(parent: &span, "tts.stage.inference")),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_field_records_never_panic_lose_a_synthesis_or_export_a_non_finite_number(
        scripts in proptest::collection::vec(any_script(), 1..8),
        delta in any::<bool>(),
    ) {
        let _shared = shared();
        let rig = Rig::new(TEMPORALITIES[usize::from(delta)]);
        rig.run(|| scripts.iter().for_each(play));

        let n = scripts.len() as u64;
        let all = rig.collect();
        let finished = totals(&all, metric::SYNTHESIS_DURATION).0;
        let cancelled = totals(&all, metric::SYNTHESIS_CANCELLED).1 as u64;
        prop_assert_eq!(finished + cancelled, n);
        let summary = rig.summary();
        prop_assert_eq!(summary.requests.total, n);
        prop_assert_eq!(summary.requests.cancelled, cancelled);
        prop_assert_eq!(summary.rtf.all.count, totals(&all, metric::SYNTHESIS_RTF).0);
    }
}
