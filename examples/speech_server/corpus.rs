//! The demo's corpus, texts of every length class written for this project, and the
//! deterministic request plan replayed from it.

use crate::engine::VOICES;

const CORPUS: &str = include_str!("corpus.txt");

/// The text-length classes of the monitor's summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LengthClass {
    Short,
    Medium,
    Long,
    VeryLong,
}

impl LengthClass {
    pub const ALL: [LengthClass; 4] = [Self::Short, Self::Medium, Self::Long, Self::VeryLong];

    /// The class of a text of `chars` characters: 0–50, 51–200, 201–500, 501+.
    pub fn of(chars: usize) -> Self {
        match chars {
            0..=50 => Self::Short,
            51..=200 => Self::Medium,
            201..=500 => Self::Long,
            _ => Self::VeryLong,
        }
    }

    /// Share of fresh requests drawn from this class, in percent.
    fn weight(self) -> u64 {
        match self {
            Self::Short => 35,
            Self::Medium => 35,
            Self::Long => 20,
            Self::VeryLong => 10,
        }
    }
}

/// Every entry of the corpus: entries are separated by blank lines, their lines joined with
/// spaces, and lines starting with `#` are comments.
pub fn texts() -> Vec<String> {
    let kept: Vec<&str> = CORPUS.lines().filter(|l| !l.starts_with('#')).collect();
    kept.join("\n")
        .split("\n\n")
        .map(|entry| entry.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|entry| !entry.is_empty())
        .collect()
}

/// One request of the plan.
#[derive(Clone, Debug)]
pub struct Planned {
    pub text: String,
    pub voice: &'static str,
    pub speed: f64,
    pub stream: bool,
}

/// Voices with their share of fresh requests, in percent.
///
/// TODO: the corpus is English only, so the German and French voices read English text with
/// their own rules; their timings are real but not what a German or French service would see.
const VOICE_WEIGHTS: [u64; 5] = [40, 25, 15, 10, 10];
/// Speeds with their share of fresh requests, in percent.
const SPEEDS: [(f64, u64); 4] = [(1.0, 70), (0.9, 10), (1.25, 10), (1.5, 10)];
/// Share of requests that repeat an earlier one, in percent, so the cache is exercised.
const REPEAT_PERCENT: u64 = 35;
/// Share of requests streamed, in percent.
const STREAM_PERCENT: u64 = 25;

/// `n` requests, the same for every run: fresh ones drawn by weight, repeats of earlier ones,
/// some of either streamed.
pub fn plan(n: usize) -> Vec<Planned> {
    let texts = texts();
    let mut rng = Lcg(0x5eed_7715);
    let mut planned: Vec<Planned> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut next = if !planned.is_empty() && rng.percent() < REPEAT_PERCENT {
            planned[rng.below(planned.len() as u64) as usize].clone()
        } else {
            fresh(&texts, &mut rng)
        };
        next.stream = rng.percent() < STREAM_PERCENT;
        planned.push(next);
    }
    planned
}

fn fresh(texts: &[String], rng: &mut Lcg) -> Planned {
    let class = LengthClass::ALL[rng.weighted(LengthClass::ALL.map(LengthClass::weight))];
    let of_class: Vec<&String> = texts
        .iter()
        .filter(|t| LengthClass::of(t.chars().count()) == class)
        .collect();
    let text = of_class[rng.below(of_class.len() as u64) as usize].clone();
    let voice = VOICES[rng.weighted(VOICE_WEIGHTS)].id;
    let speed = SPEEDS[rng.weighted(SPEEDS.map(|(_, w)| w))].0;
    Planned {
        text,
        voice,
        speed,
        stream: false,
    }
}

/// A small linear congruential generator: the plan must be reproducible, not unpredictable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self) -> u64 {
        self.below(100)
    }

    /// An index drawn with the given weights.
    fn weighted<const N: usize>(&mut self, weights: [u64; N]) -> usize {
        let mut pick = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                return i;
            }
            pick -= w;
        }
        N - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_covers_every_length_class() {
        let texts = texts();
        for class in LengthClass::ALL {
            let count = texts
                .iter()
                .filter(|t| LengthClass::of(t.chars().count()) == class)
                .count();
            assert!(count >= 3, "{class:?} has only {count} texts");
        }
    }

    #[test]
    fn the_plan_is_reproducible_and_repeats_requests() {
        let a = plan(200);
        let b = plan(200);
        assert_eq!(a.len(), 200);
        assert!(a
            .iter()
            .zip(&b)
            .all(|(x, y)| x.text == y.text && x.voice == y.voice));

        let distinct: std::collections::HashSet<_> = a
            .iter()
            .map(|p| (p.text.as_str(), p.voice, p.speed.to_bits()))
            .collect();
        assert!(
            distinct.len() < 150,
            "only {} repeats",
            200 - distinct.len()
        );
        assert!(a.iter().any(|p| p.stream) && a.iter().any(|p| !p.stream));
    }
}
