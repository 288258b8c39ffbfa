//! The guard that flushes and shuts down traces and metrics within a bounded time.
//!
//! # Implementation details
//!
//! Each provider is flushed or shut down on a thread of its own while the caller waits on a
//! channel with a deadline, so the bound holds even where the SDK ignores its own timeout, and
//! whether the caller runs a multi-thread runtime, a current-thread runtime or none: the export
//! work never needs the caller's thread. A provider that misses the deadline is left to finish
//! on its thread; the runtime of the gRPC exporters is dropped by whichever of those threads
//! ends last, never on an async worker.

use std::fmt;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::Runtime;

use super::Error;
use crate::semconv::DIAGNOSTICS_TARGET;

/// Flushes and shuts down the pipeline's traces and metrics when dropped or when
/// [`shutdown`](Self::shutdown) is called, whichever comes first; the second time does nothing.
///
/// Keep it alive for as long as the service runs, typically as a binding in `main`:
///
/// ```no_run
/// // At the top of `main`:
/// let _telemetry = tts_otel::pipeline::Pipeline::from_env().init();
/// // ... serve ...
/// // When `main` returns, what was recorded is exported, within 5 seconds.
/// ```
#[must_use = "dropping the guard shuts telemetry down at once"]
pub struct TelemetryGuard {
    parts: Option<Parts>,
    timeout: Duration,
}

/// What the guard shuts down.
struct Parts {
    tracer: Option<SdkTracerProvider>,
    meter: SdkMeterProvider,
    runtime: Option<Arc<Runtime>>,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("active", &self.parts.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// One provider's flush or shutdown, run on its own thread.
type Job = Box<dyn FnOnce() -> OTelSdkResult + Send>;

impl TelemetryGuard {
    pub(crate) fn new(
        tracer: Option<SdkTracerProvider>,
        meter: SdkMeterProvider,
        runtime: Option<Runtime>,
        timeout: Duration,
    ) -> Self {
        let runtime = runtime.map(Arc::new);
        TelemetryGuard {
            parts: Some(Parts {
                tracer,
                meter,
                runtime,
            }),
            timeout,
        }
    }

    /// The bound on [`flush`](Self::flush) and [`shutdown`](Self::shutdown).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Exports what traces and metrics hold now, waiting at most the guard's timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the bound passed, [`Error::Sdk`] when a provider failed; nothing
    /// when the guard was already shut down.
    pub fn flush(&self) -> Result<(), Error> {
        let Some(parts) = &self.parts else {
            return Ok(());
        };
        let mut jobs: Vec<(&'static str, Job)> = Vec::new();
        if let Some(tracer) = parts.tracer.clone() {
            jobs.push(("traces", Box::new(move || tracer.force_flush())));
        }
        let meter = parts.meter.clone();
        jobs.push(("metrics", Box::new(move || meter.force_flush())));
        run_bounded("flush", jobs, self.timeout)
    }

    /// Flushes and shuts down traces and metrics, waiting at most the guard's timeout. Later
    /// calls, and the drop, do nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the bound passed (what was still queued may be lost),
    /// [`Error::Sdk`] when a provider failed.
    pub fn shutdown(&mut self) -> Result<(), Error> {
        let Some(parts) = self.parts.take() else {
            return Ok(());
        };
        let timeout = self.timeout;
        let mut jobs: Vec<(&'static str, Job)> = Vec::new();
        if let Some(tracer) = parts.tracer {
            let runtime = parts.runtime.clone();
            jobs.push((
                "traces",
                Box::new(move || {
                    let result = tracer.shutdown_with_timeout(timeout);
                    drop(runtime);
                    result
                }),
            ));
        }
        let (meter, runtime) = (parts.meter, parts.runtime);
        jobs.push((
            "metrics",
            Box::new(move || {
                let result = meter.shutdown_with_timeout(timeout);
                drop(runtime);
                result
            }),
        ));
        run_bounded("shutdown", jobs, timeout)
    }
}

impl Drop for TelemetryGuard {
    /// Shuts down. A bound that passed is worth a warning; a failed final export was already
    /// reported by the exporter's health, so it is only a debug line here.
    fn drop(&mut self) {
        match self.shutdown() {
            Ok(()) => {}
            Err(error @ Error::Timeout { .. }) => {
                tracing::warn!(target: DIAGNOSTICS_TARGET, %error, "telemetry shutdown incomplete");
            }
            Err(error) => {
                tracing::debug!(target: DIAGNOSTICS_TARGET, %error, "telemetry shutdown incomplete");
            }
        }
    }
}

/// Runs each job on its own thread and waits for all of them until `timeout` has passed.
fn run_bounded(
    operation: &'static str,
    jobs: Vec<(&'static str, Job)>,
    timeout: Duration,
) -> Result<(), Error> {
    // A bound too long for the clock to represent is no bound.
    let deadline = Instant::now().checked_add(timeout);
    let (sender, receiver) = mpsc::channel();
    let count = jobs.len();
    for (signal, job) in jobs {
        let sender = sender.clone();
        std::thread::Builder::new()
            .name(format!("tts-otel-{operation}"))
            .spawn(move || sender.send((signal, job())))
            .map_err(Error::Runtime)?;
    }

    let mut first_error = None;
    for _ in 0..count {
        let left = deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        let Ok((signal, result)) = receiver.recv_timeout(left) else {
            return Err(Error::Timeout { operation, timeout });
        };
        if let Err(source) = result {
            first_error.get_or_insert(Error::Sdk {
                operation,
                signal,
                source,
            });
        }
    }
    first_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Vec<(&'static str, Job)> {
        vec![("metrics", Box::new(|| Ok(())) as Job)]
    }

    #[test]
    fn a_bound_too_long_for_the_clock_waits_for_the_jobs() {
        assert!(run_bounded("shutdown", quick(), Duration::MAX).is_ok());
    }

    #[test]
    fn a_job_past_the_bound_is_a_timeout() {
        let slow: Job = Box::new(|| {
            std::thread::sleep(Duration::from_millis(200));
            Ok(())
        });
        let result = run_bounded("flush", vec![("traces", slow)], Duration::from_millis(10));
        assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    }
}
