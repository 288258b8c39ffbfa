//! What the monitor keeps and for how long.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::semconv::monitor::{
    DEFAULT_MAX_AGE, DEFAULT_MAX_RECORDS, DEFAULT_MAX_SYSTEM_SAMPLES, DEFAULT_SYSTEM_INTERVAL,
    DEFAULT_TREND_GRANULARITY, DEFAULT_TREND_RETENTION,
};

use super::clock::{Clock, SystemClock};

/// Configuration of a [`Monitor`](super::Monitor), built with consuming `with_*` calls.
///
/// Every limit bounds memory: the record ring takes 72 bytes per record, allocated up front;
/// the trend about 1.6 KB per slot that saw a synthesis (24 hours of one-minute slots, about
/// 2.3 MB); system samples their own size each. A full default monitor grows the resident set
/// by about 3 MB.
///
/// ```
/// use std::time::Duration;
/// use tts_otel::MonitorConfig;
///
/// let config = MonitorConfig::default()
///     .with_max_records(50_000)
///     .with_max_age(Some(Duration::from_secs(3600)))
///     .with_system_interval(None);
/// assert_eq!(config.max_records(), 50_000);
/// ```
#[derive(Clone)]
pub struct MonitorConfig {
    max_records: usize,
    max_age: Option<Duration>,
    trend_retention: Duration,
    trend_granularity: Duration,
    system_interval: Option<Duration>,
    max_system_samples: usize,
    clock: Arc<dyn Clock>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            max_records: DEFAULT_MAX_RECORDS,
            max_age: Some(DEFAULT_MAX_AGE),
            trend_retention: DEFAULT_TREND_RETENTION,
            trend_granularity: DEFAULT_TREND_GRANULARITY,
            system_interval: Some(DEFAULT_SYSTEM_INTERVAL),
            max_system_samples: DEFAULT_MAX_SYSTEM_SAMPLES,
            clock: Arc::new(SystemClock),
        }
    }
}

impl MonitorConfig {
    /// The default configuration: 10,000 records of at most 24 hours, 24 hours of trend in
    /// one-minute slots, system sampling every 5 seconds with the last 720 samples kept, and
    /// the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps at most `max_records` syntheses (at least one); the oldest is dropped first.
    pub fn with_max_records(mut self, max_records: usize) -> Self {
        self.max_records = max_records.max(1);
        self
    }

    /// Drops syntheses that ended longer than `max_age` ago from summaries and exports;
    /// `None` keeps them until the record limit pushes them out.
    pub fn with_max_age(mut self, max_age: Option<Duration>) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far back the RTF trend reaches.
    pub fn with_trend_retention(mut self, retention: Duration) -> Self {
        self.trend_retention = retention;
        self
    }

    /// Width of one stored trend slot, in whole seconds (at least one); the finest
    /// resolution a trend can be asked for.
    pub fn with_trend_granularity(mut self, granularity: Duration) -> Self {
        self.trend_granularity = granularity.max(Duration::from_secs(1));
        self
    }

    /// How often the system sampler should read resources; `None` turns sampling off. The
    /// monitor only stores this for the sampler that honours it.
    pub fn with_system_interval(mut self, interval: Option<Duration>) -> Self {
        self.system_interval = interval;
        self
    }

    /// Keeps at most `max_samples` recent system samples; zero keeps none.
    pub fn with_max_system_samples(mut self, max_samples: usize) -> Self {
        self.max_system_samples = max_samples;
        self
    }

    /// Reads "now" from `clock` instead of the system clock; any
    /// `Fn() -> SystemTime + Send + Sync` closure will do.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The most syntheses kept.
    pub fn max_records(&self) -> usize {
        self.max_records
    }

    /// Age beyond which a synthesis leaves the window, if any.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }

    /// How far back the RTF trend reaches.
    pub fn trend_retention(&self) -> Duration {
        self.trend_retention
    }

    /// Width of one stored trend slot.
    pub fn trend_granularity(&self) -> Duration {
        self.trend_granularity
    }

    /// Interval of the system sampler; `None` when sampling is off.
    pub fn system_interval(&self) -> Option<Duration> {
        self.system_interval
    }

    /// Whether system sampling is on.
    pub fn system_sampling(&self) -> bool {
        self.system_interval.is_some()
    }

    /// The most system samples kept.
    pub fn max_system_samples(&self) -> usize {
        self.max_system_samples
    }

    /// The clock the monitor reads "now" from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}

impl fmt::Debug for MonitorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorConfig")
            .field("max_records", &self.max_records)
            .field("max_age", &self.max_age)
            .field("trend_retention", &self.trend_retention)
            .field("trend_granularity", &self.trend_granularity)
            .field("system_interval", &self.system_interval)
            .field("max_system_samples", &self.max_system_samples)
            .finish_non_exhaustive()
    }
}
