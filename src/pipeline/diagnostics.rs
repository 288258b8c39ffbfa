//! The pipeline's own diagnostics: export health, the start-up probe and the filters that keep
//! the SDK's reports from flooding the log or feeding back into telemetry.
//!
//! # What a user sees
//!
//! At start-up a probe tries one TCP connection to each collector; if none answers, one `warn`
//! line on target `tts_otel` says where telemetry would go. Each exporter reports its first
//! failure and its recovery, one line each. The SDK's own warnings and errors are printed at
//! most once per callsite for each fault state, an outage that lasts until every exporter has
//! recovered; its info and debug events pass as the filter allows.
//!
//! # Implementation details
//!
//! A fault state is the number of outages that ended: it changes when the last failing
//! exporter recovers, and not when one starts failing, because the SDK and the exporters warn
//! from inside an export, before its result shows that a fault began, and because the traces
//! and metrics exporters of one collector start failing at different moments of the same
//! outage. The gate remembers, per SDK callsite, the state it last printed in: one
//! mutex-guarded map look-up per SDK warning, nothing for other events. The quiet filter costs a target prefix check and a
//! thread-local read per span or event it sees.

use std::collections::HashMap;
use std::future::Future;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use tracing::callsite::Identifier;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::layer::{Context as LayerContext, Filter};

use super::config::Target;
use crate::semconv::{defaults, field, DIAGNOSTICS_TARGET, EXPORT_TARGET_PREFIXES};

/// Whether `target` belongs to the SDK, an exporter or their transports.
pub(crate) fn is_export_target(target: &str) -> bool {
    EXPORT_TARGET_PREFIXES.iter().any(|p| target.starts_with(p))
}

/// An endpoint as the log shows it: scheme, host, port and path, without user information or
/// query, either of which may carry a credential.
fn shown(endpoint: &str) -> String {
    let Ok(uri) = endpoint.parse::<http::Uri>() else {
        return "[an endpoint that is not a URL]".to_owned();
    };
    let scheme = uri
        .scheme_str()
        .map(|s| format!("{s}://"))
        .unwrap_or_default();
    let host = uri.host().unwrap_or_default();
    let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    let query = if uri.query().is_some() { "?…" } else { "" };
    format!("{scheme}{host}{port}{}{query}", uri.path())
}

/// Whether a span or event may become telemetry: not from the export machinery, and not inside
/// the SDK's suppressed scope.
pub(crate) fn may_become_telemetry(meta: &Metadata<'_>) -> bool {
    !is_export_target(meta.target()) && !Context::is_current_telemetry_suppressed()
}

/// The current fault state, shared by every exporter's health and the gate: how many
/// exporters fail now, and how many outages have ended.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    failing: AtomicUsize,
    ended: AtomicU64,
}

impl FaultState {
    fn started_failing(&self) {
        self.failing.fetch_add(1, Ordering::Relaxed);
    }

    fn stopped_failing(&self) {
        if self.failing.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.ended.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn current(&self) -> u64 {
        self.ended.load(Ordering::Relaxed)
    }
}

/// Whether one exporter's last export failed.
#[derive(Debug)]
pub(crate) struct Health {
    signal: &'static str,
    endpoint: String,
    failing: AtomicBool,
    faults: Arc<FaultState>,
}

impl Health {
    pub(crate) fn new(target: &Target, faults: &Arc<FaultState>) -> Arc<Self> {
        Arc::new(Health {
            signal: target.signal.name(),
            endpoint: target.endpoint.clone(),
            failing: AtomicBool::new(false),
            faults: Arc::clone(faults),
        })
    }

    /// Notes an export's result, logging a line only when the exporter starts or stops failing.
    fn observe(&self, result: &OTelSdkResult) {
        match result {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    self.faults.stopped_failing();
                    tracing::info!(
                        target: DIAGNOSTICS_TARGET,
                        signal = self.signal,
                        endpoint = %shown(&self.endpoint),
                        "telemetry export recovered"
                    );
                }
            }
            Err(OTelSdkError::AlreadyShutdown) => {}
            Err(error) => {
                if !self.mark_failing() {
                    return;
                }
                tracing::warn!(
                    target: DIAGNOSTICS_TARGET,
                    signal = self.signal,
                    endpoint = %shown(&self.endpoint),
                    %error,
                    "telemetry export failed; the service runs on, and further failures are \
                     not logged until export recovers"
                );
            }
        }
    }

    /// Marks the exporter failing; whether it was healthy before.
    fn mark_failing(&self) -> bool {
        let was_failing = self.failing.swap(true, Ordering::Relaxed);
        if !was_failing {
            self.faults.started_failing();
        }
        !was_failing
    }
}

/// An exporter whose results feed its [`Health`].
#[derive(Debug)]
pub(crate) struct Watched<E> {
    inner: E,
    health: Arc<Health>,
}

impl<E> Watched<E> {
    pub(crate) fn new(inner: E, health: Arc<Health>) -> Self {
        Watched { inner, health }
    }
}

impl<E: SpanExporter> SpanExporter for Watched<E> {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        let export = self.inner.export(batch);
        async move {
            let result = export.await;
            self.health.observe(&result);
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Watched<E> {
    fn export(&self, metrics: &ResourceMetrics) -> impl Future<Output = OTelSdkResult> + Send {
        let export = self.inner.export(metrics);
        async move {
            let result = export.await;
            self.health.observe(&result);
            result
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// Lets each warning or error of the export machinery through once per callsite and fault
/// state, and holds back the first-audio markers; everything else passes.
// TODO: an outage still prints three or four lines of the SDK's (retries exhausted, the batch
// processor's and the periodic reader's export errors) beside the crate's own one; holding back
// export-failure callsites while an exporter is known to fail would leave one line per outage,
// but needs the SDK's event names, which change between its releases.
#[derive(Debug)]
pub(crate) struct SdkEventGate {
    faults: Arc<FaultState>,
    printed: Mutex<HashMap<Identifier, u64>>,
}

impl SdkEventGate {
    pub(crate) fn new(faults: &Arc<FaultState>) -> Self {
        SdkEventGate {
            faults: Arc::clone(faults),
            printed: Mutex::new(HashMap::new()),
        }
    }
}

/// Whether an event is the crate's first-audio marker, which marks a moment for the synthesis
/// layer and is no log line.
fn is_marker(meta: &Metadata<'_>) -> bool {
    meta.is_event()
        && meta.target() == DIAGNOSTICS_TARGET
        && meta.fields().field(field::FIRST_AUDIO).is_some()
}

impl<S> Filter<S> for SdkEventGate {
    fn enabled(&self, meta: &Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
        if is_marker(meta) {
            return false;
        }
        if !is_export_target(meta.target()) {
            return true;
        }
        if meta.is_span() {
            return false;
        }
        if *meta.level() > Level::WARN {
            return true;
        }
        let state = self.faults.current();
        let mut printed = self.printed.lock().unwrap_or_else(|e| e.into_inner());
        printed.insert(meta.callsite(), state) != Some(state)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_marker(meta) {
            Interest::never()
        } else if is_export_target(meta.target()) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }
}

/// One collector address and the exporters that send to it.
#[derive(Debug)]
pub(crate) struct ProbeTarget {
    pub(crate) endpoint: String,
    pub(crate) protocol: &'static str,
    pub(crate) health: Vec<Arc<Health>>,
}

/// Tries one TCP connection to each target on a background thread, and logs one `warn` line
/// for each that does not answer, unless its exporters already reported failing.
pub(crate) fn probe(targets: Vec<ProbeTarget>) {
    let spawned = std::thread::Builder::new()
        .name("tts-otel-probe".to_owned())
        .spawn(move || targets.iter().for_each(probe_one));
    if let Err(error) = spawned {
        tracing::debug!(target: DIAGNOSTICS_TARGET, %error, "collector probe not started");
    }
}

fn probe_one(target: &ProbeTarget) {
    let Err(error) = connect(&target.endpoint) else {
        tracing::debug!(
            target: DIAGNOSTICS_TARGET,
            endpoint = %shown(&target.endpoint),
            "collector reachable"
        );
        return;
    };
    // Every exporter of the address is marked, so no short-circuit here.
    let newly = target.health.iter().filter(|h| h.mark_failing()).count() > 0;
    if !newly {
        return;
    }
    let signals: Vec<_> = target.health.iter().map(|h| h.signal).collect();
    tracing::warn!(
        target: DIAGNOSTICS_TARGET,
        endpoint = %shown(&target.endpoint),
        protocol = target.protocol,
        signals = ?signals,
        %error,
        "no OpenTelemetry collector answered; the service runs on, and telemetry is dropped \
         until one listens there"
    );
}

/// One TCP connection to the endpoint's host and port.
// TODO: the probe only shows that something accepts connections there, not that it speaks
// OTLP in the configured protocol; a wrong port or protocol shows up as the exporter's first
// failure instead.
fn connect(endpoint: &str) -> Result<(), String> {
    let uri: http::Uri = endpoint.parse().map_err(|e| format!("{e}"))?;
    let host = uri.host().ok_or("the endpoint names no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let addrs = (host, port).to_socket_addrs().map_err(|e| e.to_string())?;
    let mut last = String::from("the host resolved to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, defaults::PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_endpoints_show_no_user_information_or_query() {
        let hidden = shown("https://user:secret@otel.example:4318/v1/traces?api_key=secret");
        assert_eq!(hidden, "https://otel.example:4318/v1/traces?…");
        assert_eq!(shown("http://localhost:4317"), "http://localhost:4317/");
        assert_eq!(shown("not a url"), "[an endpoint that is not a URL]");
    }

    #[test]
    fn the_fault_state_changes_only_when_the_last_failing_exporter_recovers() {
        let faults = FaultState::default();
        faults.started_failing();
        faults.started_failing();
        assert_eq!(
            faults.current(),
            0,
            "one outage, however many exporters fail"
        );
        faults.stopped_failing();
        assert_eq!(faults.current(), 0, "one exporter still fails");
        faults.stopped_failing();
        assert_eq!(faults.current(), 1);
    }
}
