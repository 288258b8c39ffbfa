//! The bounded store: a ring of compact fixed-size records and the label tables they point to.
//!
//! A [`Record`] is 72 bytes and owns no heap memory: labels become small integer ids into
//! tables bounded by [`LABEL_LIMIT`] (voices and error types) and [`STAGE_LIMIT`] (stage
//! names). The ring is allocated once, at its full capacity up to 65,536 records and growing
//! beyond that only as it fills, and drops its oldest record to make room, so its memory is at
//! most `72 × max_records` bytes whatever the rate or run time.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::semconv::attr::OVERFLOW_VALUE;
use crate::semconv::limits::{LABEL_LIMIT, LABEL_MAX_BYTES};
use crate::semconv::monitor::{
    LONG_TEXT_MAX_CHARS, MEDIUM_TEXT_MAX_CHARS, SHORT_TEXT_MAX_CHARS, STAGE_LIMIT,
};
use crate::{Outcome, Synthesis};

use super::clock::unix_micros;

/// Distinct stages kept per record; a stage that ran more than once in one synthesis (per
/// sentence, say) takes one slot with its durations added, and stages of further names are
/// dropped and counted.
// TODO: a synthesis with more than six distinct stage names loses the rest; keeping them would
// need an overflow area outside the fixed-size record.
pub(crate) const MAX_STAGES: usize = 6;

const NO_CHARS: u32 = u32::MAX;
const NO_ERROR: u16 = u16::MAX;
const CACHE_HIT: u8 = 0b01;
const CACHE_MISS: u8 = 0b10;
const AUDIO_INVALID: u8 = 0b100;
const CANCELLED: u8 = 0b1000;
/// Labels compared by pointer before hashing.
const FAST_LABELS: usize = 8;

/// Length class of the input text, by characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LengthClass {
    Short,
    Medium,
    Long,
    VeryLong,
    Unknown,
}

impl LengthClass {
    /// Number of classes, `Unknown` included.
    pub(crate) const COUNT: usize = 5;

    pub(crate) fn of(chars: Option<u64>) -> Self {
        match chars {
            None => LengthClass::Unknown,
            Some(c) if c <= SHORT_TEXT_MAX_CHARS => LengthClass::Short,
            Some(c) if c <= MEDIUM_TEXT_MAX_CHARS => LengthClass::Medium,
            Some(c) if c <= LONG_TEXT_MAX_CHARS => LengthClass::Long,
            Some(_) => LengthClass::VeryLong,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// One synthesis, compact and `Copy`, so a snapshot of the ring is a memcpy.
// TODO: model, format, speed and streaming are not kept, so the summary and export cannot be
// split by them; each would add an id or a flag to this record and a table to the store.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    /// End time, microseconds since the Unix epoch.
    pub(crate) ended_at_us: i64,
    pub(crate) latency_s: f64,
    /// Audio seconds when valid (see [`Synthesis::valid_audio_seconds`]), NaN otherwise.
    audio_s: f64,
    /// Time to first audio in seconds, NaN when absent.
    ttfa_s: f64,
    /// Text length saturated at `u32::MAX - 1`; `u32::MAX` when unknown.
    text_chars: u32,
    pub(crate) voice: u16,
    error: u16,
    flags: u8,
    stage_count: u8,
    stage_ids: [u8; MAX_STAGES],
    stage_s: [f32; MAX_STAGES],
}

impl Record {
    pub(crate) fn failed(&self) -> bool {
        self.error != NO_ERROR
    }

    /// Whether the synthesis was cancelled before it finished.
    pub(crate) fn cancelled(&self) -> bool {
        self.flags & CANCELLED != 0
    }

    /// Whether the synthesis finished without an error.
    pub(crate) fn succeeded(&self) -> bool {
        !self.failed() && !self.cancelled()
    }

    pub(crate) fn error(&self) -> Option<u16> {
        self.failed().then_some(self.error)
    }

    pub(crate) fn audio_seconds(&self) -> Option<f64> {
        (!self.audio_s.is_nan()).then_some(self.audio_s)
    }

    /// Whether the synthesis carried an audio duration that was not valid.
    pub(crate) fn audio_invalid(&self) -> bool {
        self.flags & AUDIO_INVALID != 0
    }

    /// Latency over audio seconds, for a success with valid audio and a finite quotient.
    pub(crate) fn rtf(&self) -> Option<f64> {
        if !self.succeeded() {
            return None;
        }
        let rtf = self.latency_s / self.audio_seconds()?;
        rtf.is_finite().then_some(rtf)
    }

    pub(crate) fn time_to_first_audio(&self) -> Option<f64> {
        (!self.ttfa_s.is_nan()).then_some(self.ttfa_s)
    }

    pub(crate) fn text_chars(&self) -> Option<u64> {
        (self.text_chars != NO_CHARS).then_some(u64::from(self.text_chars))
    }

    pub(crate) fn length_class(&self) -> LengthClass {
        LengthClass::of(self.text_chars())
    }

    pub(crate) fn cache_hit(&self) -> Option<bool> {
        match self.flags & (CACHE_HIT | CACHE_MISS) {
            CACHE_HIT => Some(true),
            CACHE_MISS => Some(false),
            _ => None,
        }
    }

    /// Stage ids and durations in seconds, in closing order.
    pub(crate) fn stages(&self) -> impl Iterator<Item = (u8, f64)> + '_ {
        let n = usize::from(self.stage_count);
        let ids = self.stage_ids[..n].iter();
        ids.zip(&self.stage_s[..n])
            .map(|(id, s)| (*id, f64::from(*s)))
    }
}

/// The numeric part of a record, built before the store's lock is taken.
pub(crate) fn measure(synthesis: &Synthesis) -> Record {
    let audio = synthesis.valid_audio_seconds();
    let ttfa = synthesis.time_to_first_audio.map(|d| d.as_secs_f64());
    let chars = synthesis
        .text_chars
        .map(|c| c.min(u64::from(NO_CHARS - 1)) as u32);
    Record {
        ended_at_us: unix_micros(synthesis.ended_at),
        latency_s: synthesis.latency.as_secs_f64(),
        audio_s: audio.unwrap_or(f64::NAN),
        ttfa_s: ttfa.unwrap_or(f64::NAN),
        text_chars: chars.unwrap_or(NO_CHARS),
        voice: 0,
        error: NO_ERROR,
        flags: flags(synthesis, audio.is_some()),
        stage_count: 0,
        stage_ids: [0; MAX_STAGES],
        stage_s: [0.0; MAX_STAGES],
    }
}

fn flags(synthesis: &Synthesis, audio_valid: bool) -> u8 {
    let cache = match synthesis.cache_hit {
        Some(true) => CACHE_HIT,
        Some(false) => CACHE_MISS,
        None => 0,
    };
    let invalid = synthesis.audio_seconds.is_some() && !audio_valid;
    let cancelled = synthesis.outcome.is_cancelled();
    cache | if invalid { AUDIO_INVALID } else { 0 } | if cancelled { CANCELLED } else { 0 }
}

/// A bounded table of label values; values beyond the limit share the `other` id.
#[derive(Debug)]
pub(crate) struct Labels {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u16>,
    /// Set when the overflow label was first used, until the store reports it.
    just_overflowed: bool,
}

impl Labels {
    fn new() -> Self {
        Labels {
            names: Vec::new(),
            ids: HashMap::new(),
            just_overflowed: false,
        }
    }

    /// The id of `name`, adding it while the table has room.
    // TODO: a label that left the window keeps its slot, so a service whose voices change over
    // a long run ends up reporting new ones as `other`; reclaiming slots needs a scan of the
    // ring for ids still in use, which the record path cannot afford.
    fn id(&mut self, name: &Arc<str>) -> u16 {
        // The synthesis layer hands over its own interned names, the very allocations kept
        // here, so a pointer comparison over the few first names usually finds them unhashed.
        let mut interned = self.names.iter().take(FAST_LABELS);
        if let Some(id) = interned.position(|known| Arc::ptr_eq(known, name)) {
            return id as u16;
        }
        // Checked before hashing: a name recorded directly may be of any length.
        if name.len() > LABEL_MAX_BYTES {
            return self.overflow_id();
        }
        if let Some(id) = self.ids.get(&**name) {
            return *id;
        }
        if self.names.len() >= LABEL_LIMIT {
            return self.overflow_id();
        }
        self.insert(name.clone())
    }

    fn overflow_id(&mut self) -> u16 {
        match self.ids.get(OVERFLOW_VALUE) {
            Some(id) => *id,
            None => {
                self.just_overflowed = true;
                self.insert(Arc::from(OVERFLOW_VALUE))
            }
        }
    }

    fn insert(&mut self, name: Arc<str>) -> u16 {
        let id = self.names.len() as u16;
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }
}

/// What a push did: the record kept, and the label table that just overflowed, if one did,
/// for the caller to report once the lock is released.
#[derive(Debug)]
pub(crate) struct Pushed {
    pub(crate) record: Record,
    pub(crate) first_overflow: Option<&'static str>,
}

/// What a summary needs from the store, copied under its lock.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) records: Vec<Record>,
    pub(crate) voices: Vec<Arc<str>>,
    pub(crate) errors: Vec<Arc<str>>,
    pub(crate) stages: Vec<&'static str>,
    pub(crate) recorded_total: u64,
    pub(crate) dropped_stages: u64,
}

/// The ring of records and its label tables; one lock guards it all.
#[derive(Debug)]
pub(crate) struct Store {
    records: VecDeque<Record>,
    capacity: usize,
    voices: Labels,
    errors: Labels,
    stages: Vec<&'static str>,
    recorded_total: u64,
    dropped_stages: u64,
}

/// Records a store allocates when it is made (4.5 MiB): a default window never allocates on
/// the recording path, and a huge configured one does not claim its memory before it is used.
pub(crate) const PREALLOCATED_RECORDS: usize = 1 << 16;

impl Store {
    /// A store holding at most `capacity` records (at least one), allocated up front up to
    /// [`PREALLOCATED_RECORDS`]; a larger store grows as it fills.
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Store {
            records: VecDeque::with_capacity(capacity.min(PREALLOCATED_RECORDS)),
            capacity,
            voices: Labels::new(),
            errors: Labels::new(),
            stages: Vec::new(),
            recorded_total: 0,
            dropped_stages: 0,
        }
    }

    /// Completes `record`, the [`measure`] of `synthesis`, with its label ids and keeps it,
    /// dropping the oldest one when full.
    pub(crate) fn push(&mut self, mut record: Record, synthesis: &Synthesis) -> Pushed {
        record.voice = self.voices.id(&synthesis.voice);
        if let Outcome::Failed { error_type } = &synthesis.outcome {
            record.error = self.errors.id(error_type);
        }
        self.add_stages(&mut record, synthesis);

        if self.records.len() >= self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(record);
        self.recorded_total = self.recorded_total.saturating_add(1);
        Pushed {
            record,
            first_overflow: self.take_first_overflow(),
        }
    }

    fn take_first_overflow(&mut self) -> Option<&'static str> {
        if std::mem::take(&mut self.voices.just_overflowed) {
            return Some("voice");
        }
        std::mem::take(&mut self.errors.just_overflowed).then_some("error type")
    }

    fn add_stages(&mut self, record: &mut Record, synthesis: &Synthesis) {
        for stage in &synthesis.stages {
            let seconds = stage.duration.as_secs_f32();
            let Some(id) = self.stage_id(stage.name) else {
                self.dropped_stages = self.dropped_stages.saturating_add(1);
                continue;
            };
            let count = usize::from(record.stage_count);
            if let Some(slot) = record.stage_ids[..count].iter().position(|s| *s == id) {
                record.stage_s[slot] += seconds;
            } else if count < MAX_STAGES {
                record.stage_ids[count] = id;
                record.stage_s[count] = seconds;
                record.stage_count += 1;
            } else {
                self.dropped_stages = self.dropped_stages.saturating_add(1);
            }
        }
    }

    fn stage_id(&mut self, name: &'static str) -> Option<u8> {
        let found = self
            .stages
            .iter()
            .position(|s| std::ptr::eq(*s, name) || *s == name);
        if let Some(id) = found {
            return Some(id as u8);
        }
        if self.stages.len() >= STAGE_LIMIT.min(usize::from(u8::MAX)) {
            return None;
        }
        self.stages.push(name);
        Some((self.stages.len() - 1) as u8)
    }

    /// Copies the ring and label tables into `into`, reusing its buffers.
    pub(crate) fn snapshot_into(&self, into: &mut Snapshot) {
        let (front, back) = self.records.as_slices();
        into.records.clear();
        into.records.extend_from_slice(front);
        into.records.extend_from_slice(back);
        into.voices.clone_from(&self.voices.names);
        into.errors.clone_from(&self.errors.names);
        into.stages.clone_from(&self.stages);
        into.recorded_total = self.recorded_total;
        into.dropped_stages = self.dropped_stages;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    impl Store {
        fn push_synthesis(&mut self, synthesis: &Synthesis) -> Pushed {
            self.push(measure(synthesis), synthesis)
        }
    }

    #[test]
    fn a_record_is_seventy_two_bytes() {
        assert_eq!(std::mem::size_of::<Record>(), 72);
    }

    #[test]
    fn voices_beyond_the_limit_share_the_overflow_label() {
        let mut store = Store::new(1000);
        let overflows: Vec<_> = (0..LABEL_LIMIT + 10)
            .filter_map(|i| {
                store
                    .push_synthesis(&Synthesis::new(format!("v{i}"), Duration::ZERO))
                    .first_overflow
            })
            .collect();
        assert_eq!(overflows, ["voice"]);
        let mut snap = Snapshot::default();
        store.snapshot_into(&mut snap);
        assert_eq!(snap.voices.len(), LABEL_LIMIT + 1);
        assert_eq!(&*snap.voices[LABEL_LIMIT], OVERFLOW_VALUE);
    }

    #[test]
    fn stages_of_names_beyond_the_per_record_room_are_counted_as_dropped() {
        const NAMES: [&str; MAX_STAGES + 2] = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut store = Store::new(10);
        let mut synthesis = Synthesis::new("v", Duration::ZERO);
        for name in NAMES {
            synthesis = synthesis.with_stage(name, Duration::from_millis(1));
        }
        let record = store.push_synthesis(&synthesis).record;
        assert_eq!(record.stages().count(), MAX_STAGES);
        assert_eq!(store.dropped_stages, 2);
    }

    #[test]
    fn a_stage_that_ran_several_times_takes_one_slot_with_the_durations_added() {
        let mut store = Store::new(10);
        // Pushed as separate entries, as code that fills the public field may do.
        let mut synthesis = Synthesis::new("v", Duration::ZERO);
        for ms in [1, 2, 3, 4, 5, 6, 7, 8] {
            let stage = |name, duration| crate::Stage { name, duration };
            synthesis
                .stages
                .push(stage("engine", Duration::from_millis(ms)));
            synthesis
                .stages
                .push(stage("encode", Duration::from_millis(1)));
        }
        let record = store.push_synthesis(&synthesis).record;
        let stages: Vec<(u8, f64)> = record.stages().collect();
        assert_eq!(stages.len(), 2);
        assert!((stages[0].1 - 0.036).abs() < 1e-6, "{stages:?}");
        assert!((stages[1].1 - 0.008).abs() < 1e-6, "{stages:?}");
        assert_eq!(store.dropped_stages, 0);
    }
}
