//! The sampler: a named thread that refreshes one reader on a fixed schedule, publishes each
//! reading and hands it to the sinks.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use opentelemetry::metrics::Meter;

use super::latest::Latest;
use super::reader::SystemReader;
use super::{instruments, SampleSink, SamplerConfig, SamplerError, SystemSample};
use crate::semconv::{DIAGNOSTICS_TARGET, SAMPLER_THREAD_NAME};

/// Reads system and process resources on its own thread and reports them.
///
/// Building one registers the observable instruments on the meter, once; starting and
/// stopping only start and stop the thread, so a sampler started, stopped and started again
/// still has exactly one set of instruments and at most one thread. Each reading is kept as
/// the latest sample, which the instruments report while the sampler runs, and handed to
/// every [`SampleSink`] given at construction.
///
/// Build one sampler per meter provider: a second one on the same meter registers its own
/// callbacks for the same instruments. Callbacks cannot be unregistered, so after the sampler
/// is dropped they stay with the meter provider and observe nothing.
///
/// # Cost
///
/// A reading refreshes only what [`SamplerConfig`] asks for, for this process only, by
/// reading files under `/proc` and `/sys` on Linux: about 0.5 ms on a small virtual machine,
/// most of it the network interfaces. At the default five-second interval the thread uses
/// about 0.02 % of one core. Instrument callbacks clone an `Arc` and never wait for a
/// reading; one collection of all of them costs a few microseconds.
///
/// # Examples
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use tts_otel::system::{SamplerConfig, SystemSampler};
///
/// let provider = SdkMeterProvider::builder().build();
/// let meter = provider.meter(tts_otel::semconv::SCOPE_NAME);
///
/// let sampler = SystemSampler::start(&meter, SamplerConfig::default(), vec![])?;
/// assert!(sampler.is_running());
///
/// sampler.stop();
/// # Ok::<(), tts_otel::system::SamplerError>(())
/// ```
#[derive(Debug)]
pub struct SystemSampler {
    shared: Arc<Shared>,
    worker: Mutex<Option<Worker>>,
}

impl SystemSampler {
    /// Builds a stopped sampler and registers its instruments on `meter`.
    ///
    /// Costs a read of `/proc/mounts` to list the disks; reads no CPU or process data yet.
    /// [`resume`](Self::resume) starts it.
    ///
    /// # Errors
    ///
    /// [`SamplerError::ZeroInterval`] for a zero interval, [`SamplerError::Unavailable`]
    /// where system readings are not supported.
    pub fn new(
        meter: &Meter,
        config: SamplerConfig,
        sinks: Vec<Arc<dyn SampleSink>>,
    ) -> Result<Self, SamplerError> {
        if config.interval.is_zero() {
            return Err(SamplerError::ZeroInterval);
        }

        let reader = SystemReader::new(&config)?;
        let latest = Latest::default();
        // TODO: nothing detects a second sampler on the same meter, whose callbacks would
        // report the same series twice; the OpenTelemetry API offers no way to ask.
        instruments::register(meter, &config, &latest);

        let shared = Shared {
            interval: config.interval,
            reader: Mutex::new(reader),
            latest,
            sinks,
            sink_panicked: AtomicBool::new(false),
        };
        Ok(Self {
            shared: Arc::new(shared),
            worker: Mutex::new(None),
        })
    }

    /// Builds a sampler, registers its instruments and starts its thread: the one call a
    /// service needs. The first reading is taken at once, the next ones every interval.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), and [`SamplerError::Spawn`] if the thread cannot start.
    pub fn start(
        meter: &Meter,
        config: SamplerConfig,
        sinks: Vec<Arc<dyn SampleSink>>,
    ) -> Result<Self, SamplerError> {
        let sampler = Self::new(meter, config, sinks)?;
        sampler.resume()?;
        Ok(sampler)
    }

    /// Starts the thread if it is not running; does nothing if it is.
    ///
    /// Costs a thread spawn when stopped, a lock otherwise.
    ///
    /// # Errors
    ///
    /// [`SamplerError::Spawn`] if the operating system refuses a new thread.
    pub fn resume(&self) -> Result<(), SamplerError> {
        let mut worker = self.lock_worker();
        if worker.is_none() {
            *worker = Some(Worker::spawn(Arc::clone(&self.shared))?);
            tracing::debug!(
                target: DIAGNOSTICS_TARGET,
                interval_ms = self.shared.interval.as_millis() as u64,
                "system sampler started"
            );
        }
        Ok(())
    }

    /// Stops the thread and waits for it; does nothing if it is not running.
    ///
    /// The thread is woken at once, so this returns as soon as a reading in progress ends
    /// (milliseconds), however long the interval. The instruments report nothing until the
    /// sampler is resumed; the latest sample stays readable through [`latest`](Self::latest).
    ///
    /// A [`SampleSink`] must not call this or any other method of its sampler: they wait for
    /// the thread that runs the sink.
    pub fn stop(&self) {
        // The lock is held until the thread has ended, so a concurrent `resume` cannot start
        // a second thread meanwhile.
        let mut worker = self.lock_worker();
        let Some(running) = worker.take() else { return };
        running.stop();
        self.shared.latest.set_live(false);
        drop(worker);

        tracing::debug!(target: DIAGNOSTICS_TARGET, "system sampler stopped");
    }

    /// Whether the thread runs.
    pub fn is_running(&self) -> bool {
        self.lock_worker().is_some()
    }

    /// The most recent reading, if any has been taken. Costs an `Arc` clone under a read
    /// lock that a writer holds only for a pointer swap.
    pub fn latest(&self) -> Option<Arc<SystemSample>> {
        self.shared.latest.get()
    }

    /// Takes one reading on the calling thread, publishes it and hands it to the sinks, as a
    /// scheduled reading does; the schedule is unchanged.
    ///
    /// Costs one full reading, and waits for a reading the thread may be taking. CPU
    /// utilisations stay `None` until two readings at least 200 ms apart exist.
    pub fn refresh_now(&self) -> Arc<SystemSample> {
        self.shared.tick()
    }

    /// The interval between readings.
    pub fn interval(&self) -> Duration {
        self.shared.interval
    }

    fn lock_worker(&self) -> MutexGuard<'_, Option<Worker>> {
        self.worker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SystemSampler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the thread and the handle share.
struct Shared {
    interval: Duration,
    reader: Mutex<SystemReader>,
    latest: Latest,
    sinks: Vec<Arc<dyn SampleSink>>,
    sink_panicked: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("interval", &self.interval)
            .field("sinks", &self.sinks.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// One reading: refresh, publish, hand to the sinks.
    fn tick(&self) -> Arc<SystemSample> {
        let sample = self.read_and_publish();
        self.feed_sinks(&sample);
        sample
    }

    /// Refreshes and publishes under the reader's lock, so that a reading taken by
    /// `refresh_now` and one taken by the thread are published in the order they were taken.
    fn read_and_publish(&self) -> Arc<SystemSample> {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        let sample = Arc::new(reader.refresh());
        self.latest.publish(Arc::clone(&sample));
        sample
    }

    /// Hands the sample to each sink; a panicking sink is logged once and the others still
    /// get the sample.
    fn feed_sinks(&self, sample: &SystemSample) {
        for sink in &self.sinks {
            let fed = catch_unwind(AssertUnwindSafe(|| sink.record_sample(sample)));
            if fed.is_err() && !self.sink_panicked.swap(true, Ordering::Relaxed) {
                tracing::warn!(target: DIAGNOSTICS_TARGET, "a sample sink panicked");
            }
        }
    }

    /// The thread's loop: a reading at once, then one per interval until stopped. Readings
    /// missed while a slow one ran are skipped, not caught up.
    fn run(&self, stop: &StopSignal) {
        let mut due = Instant::now();
        loop {
            if catch_unwind(AssertUnwindSafe(|| self.tick())).is_err() {
                tracing::warn!(target: DIAGNOSTICS_TARGET, "a system reading panicked");
            }
            self.latest.set_live(true);

            // An interval too long for the clock to represent means no further reading.
            let next = next_due(due, self.interval, Instant::now());
            if stop.wait_until(next) {
                return;
            }
            due = next.unwrap_or(due);
        }
    }
}

/// The next reading time on the fixed schedule, or one interval from now if that is past;
/// `None` when that lies beyond what an `Instant` can hold.
fn next_due(previous: Instant, interval: Duration, now: Instant) -> Option<Instant> {
    match previous.checked_add(interval) {
        Some(next) if next > now => Some(next),
        _ => now.checked_add(interval),
    }
}

/// A running thread and the signal that stops it.
#[derive(Debug)]
struct Worker {
    handle: JoinHandle<()>,
    stop: Arc<StopSignal>,
}

impl Worker {
    fn spawn(shared: Arc<Shared>) -> Result<Self, SamplerError> {
        let stop = Arc::new(StopSignal::default());
        let thread_stop = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name(SAMPLER_THREAD_NAME.to_owned())
            .spawn(move || shared.run(&thread_stop))
            .map_err(SamplerError::Spawn)?;

        Ok(Self { handle, stop })
    }

    /// Wakes the thread and joins it, unless called from the thread itself (a sink that
    /// stops the sampler), which then ends after its current reading.
    fn stop(self) {
        self.stop.raise();
        if self.handle.thread().id() != thread::current().id() {
            let _ = self.handle.join();
        }
    }
}

/// A flag the thread waits on between readings; raising it wakes the thread at once.
#[derive(Debug, Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    fn raise(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Waits until `deadline` (`None`: none) or until raised; returns whether it was raised.
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let now = Instant::now();
            if *stopped || deadline.is_some_and(|d| now >= d) {
                return *stopped;
            }
            let left = deadline.map_or(Duration::MAX, |d| d - now);
            let waited = self.wake.wait_timeout(stopped, left);
            stopped = waited.unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}
