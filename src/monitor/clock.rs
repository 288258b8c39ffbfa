//! Where the monitor reads "now", and how it writes times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time for the monitor.
///
/// The monitor asks it for "now" when it ages records out and when it places a trend window;
/// each synthesis is still placed by its own `ended_at`. Any `Fn() -> SystemTime` closure is a
/// clock, which lets tests move time by hand. A clock may jump backwards: the monitor never
/// panics on that and keeps its buckets ordered.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// The operating system's wall clock, [`SystemTime::now`].
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Latest second RFC 3339 with a four-digit year can write: 9999-12-31T23:59:59Z.
const MAX_RFC3339_SECS: i64 = 253_402_300_799;

/// Microseconds since the Unix epoch, negative before it, saturating at the `i64` range.
pub(crate) fn unix_micros(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => saturating_micros(after),
        Err(before) => saturating_micros(before.duration()).saturating_neg(),
    }
}

fn saturating_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Whole seconds since the Unix epoch, rounded towards negative infinity.
pub(crate) fn unix_secs(micros: i64) -> i64 {
    micros.div_euclid(1_000_000)
}

/// Seconds since the Unix epoch as a float, for the `*_unix_seconds` keys.
pub(crate) fn unix_secs_f64(micros: i64) -> f64 {
    micros as f64 / 1e6
}

/// RFC 3339 form of a time, in UTC with microseconds, clamped to the years 1970–9999 (the
/// clamp is what keeps the formatter from failing, so this never panics).
pub(crate) fn rfc3339(micros: i64) -> String {
    let clamped = micros.clamp(0, MAX_RFC3339_SECS * 1_000_000);
    let time = UNIX_EPOCH + Duration::from_micros(clamped.unsigned_abs());
    humantime::format_rfc3339_micros(time).to_string()
}

/// RFC 3339 form of a whole second, without a fraction.
pub(crate) fn rfc3339_secs(secs: i64) -> String {
    let clamped = secs.clamp(0, MAX_RFC3339_SECS);
    let time = UNIX_EPOCH + Duration::from_secs(clamped.unsigned_abs());
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_before_the_epoch_are_negative_and_formatted_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(unix_micros(before), -5_000_000);
        assert_eq!(rfc3339(unix_micros(before)), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn far_future_times_are_clamped_to_year_9999() {
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.000000Z");
        assert_eq!(rfc3339_secs(i64::MAX), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn negative_seconds_round_down() {
        assert_eq!(unix_secs(-1), -1);
        assert_eq!(unix_secs(1_999_999), 1);
    }
}
