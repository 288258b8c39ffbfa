//! Wall-clock end times from the monotonic reading the layer takes anyway.
//!
//! A synthesis's end is read once, on the monotonic clock, for its latency. Its wall-clock end
//! time, which sinks need for trends, is that reading plus an offset between the two clocks.
//! The offset is measured again whenever the last measurement is a second old, so a step of
//! the system clock (a manual change, an NTP step, a resumed virtual machine) shows in end
//! times within a second, and between measurements both clocks advance at the same rate (NTP
//! slews the monotonic clock too). This saves a second clock read on every synthesis.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How old an offset may get before it is measured again.
const REMEASURE_AFTER_NANOS: i64 = 1_000_000_000;

/// Converts monotonic instants into wall-clock times; shared by the layer's clones.
#[derive(Debug)]
pub(crate) struct WallClock {
    base: Instant,
    /// Unix nanoseconds minus nanoseconds since `base`, as last measured.
    offset_nanos: AtomicI64,
    /// Nanoseconds since `base` when the offset was last measured.
    measured_at_nanos: AtomicI64,
}

impl WallClock {
    pub(crate) fn new() -> Self {
        let clock = WallClock {
            base: Instant::now(),
            offset_nanos: AtomicI64::new(0),
            measured_at_nanos: AtomicI64::new(0),
        };
        clock.measure();
        clock
    }

    /// The wall-clock time of `instant`, a monotonic reading taken just now.
    pub(crate) fn at(&self, instant: Instant) -> SystemTime {
        let since_base = self.since_base(instant);
        let measured_at = self.measured_at_nanos.load(Ordering::Relaxed);
        if since_base.saturating_sub(measured_at) >= REMEASURE_AFTER_NANOS {
            self.measure();
        }
        let unix_nanos = since_base.saturating_add(self.offset_nanos.load(Ordering::Relaxed));
        let magnitude = Duration::from_nanos(unix_nanos.unsigned_abs());
        if unix_nanos >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        }
    }

    /// Reads both clocks and stores their offset. Two closes racing here store offsets a few
    /// nanoseconds apart; either is right.
    fn measure(&self) {
        let wall = SystemTime::now();
        let since_base = self.since_base(Instant::now());
        let unix_nanos = match wall.duration_since(UNIX_EPOCH) {
            Ok(after) => nanos(after),
            Err(before) => nanos(before.duration()).saturating_neg(),
        };
        self.offset_nanos
            .store(unix_nanos.saturating_sub(since_base), Ordering::Relaxed);
        self.measured_at_nanos.store(since_base, Ordering::Relaxed);
    }

    fn since_base(&self, instant: Instant) -> i64 {
        nanos(instant.saturating_duration_since(self.base))
    }
}

fn nanos(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros_apart(a: SystemTime, b: SystemTime) -> u128 {
        match a.duration_since(b) {
            Ok(d) => d.as_micros(),
            Err(e) => e.duration().as_micros(),
        }
    }

    #[test]
    fn a_derived_time_matches_the_system_clock() {
        let clock = WallClock::new();
        std::thread::sleep(Duration::from_millis(20));
        let derived = clock.at(Instant::now());
        let direct = SystemTime::now();
        // Both read within microseconds of each other; a millisecond leaves room for a
        // preempted thread without letting a wrong offset through.
        assert!(
            micros_apart(derived, direct) < 1_000,
            "{derived:?} vs {direct:?}"
        );
    }

    #[test]
    fn the_offset_is_measured_again_after_a_second() {
        let clock = WallClock::new();
        // Pretend the offset was measured long ago and was wrong by an hour.
        clock
            .offset_nanos
            .fetch_sub(3_600_000_000_000, Ordering::Relaxed);
        clock
            .measured_at_nanos
            .store(-REMEASURE_AFTER_NANOS, Ordering::Relaxed);
        let derived = clock.at(Instant::now());
        assert!(micros_apart(derived, SystemTime::now()) < 1_000);
    }

    #[test]
    fn a_fresh_offset_is_used_as_it_stands() {
        let clock = WallClock::new();
        clock
            .offset_nanos
            .fetch_sub(3_600_000_000_000, Ordering::Relaxed);
        let derived = clock.at(Instant::now());
        let behind = SystemTime::now().duration_since(derived).unwrap();
        assert!(behind >= Duration::from_secs(3_599), "{behind:?}");
    }
}
