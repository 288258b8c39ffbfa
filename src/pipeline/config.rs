//! Settings resolution: what code set wins, then what the `OTEL_*` variables say, then the
//! defaults of the OpenTelemetry specification.
//!
//! Resolution is a pure function of the options and an environment look-up, so it is tested
//! without touching the process environment. Values it cannot use are not errors: it keeps the
//! default and leaves a note, which the pipeline logs once its subscriber is installed.

use std::fmt;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::Sampler;

use super::resource::resolve_resource;
use crate::semconv::{defaults, env};

/// Looks up an environment variable; `None` when unset.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the process environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Transport of an OTLP exporter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC, port 4317 by default.
    Grpc,
    /// OTLP over HTTP with protobuf bodies, port 4318 by default; the specification's default.
    HttpProtobuf,
}

impl Protocol {
    /// The value `OTEL_EXPORTER_OTLP_PROTOCOL` takes for this transport.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Protocol::Grpc, Protocol::HttpProtobuf]
            .into_iter()
            .find(|p| value.eq_ignore_ascii_case(p.as_str()))
    }
}

/// A telemetry signal the pipeline exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    fn vars(self) -> [&'static str; 5] {
        match self {
            Signal::Traces => [
                env::OTLP_TRACES_ENDPOINT,
                env::OTLP_TRACES_PROTOCOL,
                env::OTLP_TRACES_TIMEOUT,
                env::TRACES_EXPORTER,
                env::OTLP_TRACES_INSECURE,
            ],
            Signal::Metrics => [
                env::OTLP_METRICS_ENDPOINT,
                env::OTLP_METRICS_PROTOCOL,
                env::OTLP_METRICS_TIMEOUT,
                env::METRICS_EXPORTER,
                env::OTLP_METRICS_INSECURE,
            ],
        }
    }

    fn path(self) -> &'static str {
        match self {
            Signal::Traces => defaults::TRACES_PATH,
            Signal::Metrics => defaults::METRICS_PATH,
        }
    }
}

/// Request headers set in code, such as an API key. The `Debug` form shows names only.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct Headers(pub(crate) Vec<(String, String)>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = self.0.iter().map(|(name, _)| (name, "<redacted>"));
        f.debug_map().entries(redacted).finish()
    }
}

/// What the builder was told in code; `None` leaves the choice to the environment.
#[derive(Clone, Debug, Default)]
pub(crate) struct Options {
    pub(crate) disabled: Option<bool>,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) endpoint: Option<String>,
    pub(crate) traces_endpoint: Option<String>,
    pub(crate) metrics_endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Headers,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) export: [Option<bool>; 2],
    pub(crate) interval: Option<Duration>,
    pub(crate) temporality: Option<Temporality>,
    pub(crate) sampler: Option<Sampler>,
}

/// Where and how one signal is exported.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Target {
    pub(crate) signal: Signal,
    pub(crate) protocol: Protocol,
    pub(crate) endpoint: String,
    pub(crate) timeout: Duration,
}

/// The resolved settings of one pipeline.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) disabled: bool,
    pub(crate) resource: Vec<KeyValue>,
    pub(crate) traces: Option<Target>,
    pub(crate) metrics: Option<Target>,
    pub(crate) headers: Headers,
    pub(crate) interval: Duration,
    pub(crate) temporality: Temporality,
    pub(crate) sampler: Sampler,
    /// Values that could not be used, to be logged once the subscriber is installed.
    pub(crate) notes: Vec<String>,
}

/// Resolves `options` against `env`.
pub(crate) fn resolve(options: &Options, env: Env<'_>) -> Settings {
    // Every value is trimmed here once; the parsers below take it as it comes.
    let env = |name: &str| {
        let value = env(name)?;
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_owned())
    };
    let mut notes = Vec::new();

    let disabled = options.disabled.unwrap_or_else(|| {
        let var = env::SDK_DISABLED;
        flag(var, env(var), &mut notes)
    });
    let target = |signal, notes: &mut Vec<String>| {
        (!disabled)
            .then(|| resolve_target(options, signal, &env, notes))
            .flatten()
    };
    for var in [
        env::OTLP_HEADERS,
        env::OTLP_TRACES_HEADERS,
        env::OTLP_METRICS_HEADERS,
    ] {
        check_headers(var, env(var), &mut notes);
    }
    Settings {
        disabled,
        resource: resolve_resource(options, &env, &mut notes),
        traces: target(Signal::Traces, &mut notes),
        metrics: target(Signal::Metrics, &mut notes),
        headers: options.headers.clone(),
        interval: options.interval.unwrap_or_else(|| {
            let var = env::METRIC_EXPORT_INTERVAL;
            millis(var, env(var), &mut notes).unwrap_or(defaults::METRIC_EXPORT_INTERVAL)
        }),
        temporality: options
            .temporality
            .unwrap_or_else(|| resolve_temporality(env(env::OTLP_METRICS_TEMPORALITY), &mut notes)),
        sampler: options.sampler.clone().unwrap_or_else(|| {
            let arg = env(env::TRACES_SAMPLER_ARG);
            resolve_sampler(env(env::TRACES_SAMPLER), arg, &mut notes)
        }),
        notes,
    }
}

fn resolve_target(
    options: &Options,
    signal: Signal,
    env: &dyn Fn(&str) -> Option<String>,
    notes: &mut Vec<String>,
) -> Option<Target> {
    let [endpoint_var, protocol_var, timeout_var, exporter_var, insecure_var] = signal.vars();
    let enabled = options.export[signal as usize]
        .unwrap_or_else(|| exporter_enabled(exporter_var, env(exporter_var), notes));
    if !enabled {
        return None;
    }

    let protocol = options.protocol.unwrap_or_else(|| {
        [protocol_var, env::OTLP_PROTOCOL]
            .into_iter()
            .find_map(|var| parse_protocol(var, env(var), notes))
            .unwrap_or(Protocol::HttpProtobuf)
    });
    let code_endpoint = match signal {
        Signal::Traces => &options.traces_endpoint,
        Signal::Metrics => &options.metrics_endpoint,
    };
    let insecure = [insecure_var, env::OTLP_INSECURE]
        .into_iter()
        .find_map(|var| env(var).map(|value| flag(var, Some(value), notes)))
        .unwrap_or(false);
    let from_env = |var: &str, signal_path: bool, notes: &mut Vec<String>| {
        let value = env(var)?;
        let endpoint = if signal_path {
            base(&value, protocol, signal)
        } else {
            value.clone()
        };
        let endpoint = with_scheme(endpoint, insecure);
        if endpoint.parse::<http::Uri>().is_ok() {
            Some(endpoint)
        } else {
            notes.push(format!("{var}={value:?} is not a valid URL; ignored"));
            None
        }
    };
    let endpoint = code_endpoint
        .clone()
        .or_else(|| {
            options
                .endpoint
                .as_deref()
                .map(|b| base(b, protocol, signal))
        })
        .map(|endpoint| with_scheme(endpoint, insecure))
        .or_else(|| from_env(endpoint_var, false, notes))
        .or_else(|| from_env(env::OTLP_ENDPOINT, true, notes))
        .unwrap_or_else(|| match protocol {
            Protocol::Grpc => defaults::GRPC_ENDPOINT.to_owned(),
            Protocol::HttpProtobuf => base(defaults::HTTP_ENDPOINT, protocol, signal),
        });
    let timeout = options.export_timeout.unwrap_or_else(|| {
        [timeout_var, env::OTLP_TIMEOUT]
            .into_iter()
            .find_map(|var| millis(var, env(var), notes))
            .unwrap_or(defaults::EXPORT_TIMEOUT)
    });
    Some(Target {
        signal,
        protocol,
        endpoint,
        timeout,
    })
}

/// A signal's endpoint from a base endpoint: over HTTP the signal path is appended to the
/// base's path, before any query, as the OTLP exporter specification prescribes; gRPC has no
/// paths, so the base is used as given.
fn base(base: &str, protocol: Protocol, signal: Signal) -> String {
    match protocol {
        Protocol::Grpc => base.to_owned(),
        Protocol::HttpProtobuf => {
            let (path, query) = match base.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (base, None),
            };
            let separator = if path.ends_with('/') { "" } else { "/" };
            let endpoint = format!("{path}{separator}{}", signal.path());
            match query {
                Some(query) => format!("{endpoint}?{query}"),
                None => endpoint,
            }
        }
    }
}

/// Notes the entries of a headers variable that the exporter will drop: those that are not
/// `key=value` with a valid header name and a non-empty value that is a valid header value once
/// percent-decoded (an unset `${API_KEY}` leaves it empty). The exporter reads the variable
/// itself; this only makes a lost API key visible at start-up. Values are never quoted.
fn check_headers(var: &str, value: Option<String>, notes: &mut Vec<String>) {
    let Some(value) = value else { return };
    let dropped = value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .filter(|entry| match entry.split_once('=') {
            Some((key, value)) => !usable_header(key, value),
            None => true,
        })
        .count();
    if dropped > 0 {
        notes.push(format!(
            "{var} has {dropped} entries that are not key=value with a valid header name and \
             value; the exporter drops them (values not shown)"
        ));
    }
}

fn usable_header(key: &str, value: &str) -> bool {
    let name = http::HeaderName::from_bytes(key.trim().as_bytes());
    let value = super::resource::percent_decode(value.trim()).filter(|v| !v.is_empty());
    let value = value.is_some_and(|v| http::HeaderValue::from_str(&v).is_ok());
    name.is_ok() && value
}

/// A boolean variable: `true` or `false` in any case. Anything else is false, with a note, as
/// the specification prescribes.
fn flag(var: &str, value: Option<String>, notes: &mut Vec<String>) -> bool {
    let Some(value) = value else { return false };
    if value.eq_ignore_ascii_case("true") {
        true
    } else {
        if !value.eq_ignore_ascii_case("false") {
            notes.push(format!(
                "{var}={value:?} is not true or false; taken as false"
            ));
        }
        false
    }
}

/// An endpoint written without a scheme gets `https://`, or `http://` when marked insecure,
/// as the specification prescribes for gRPC; one with a scheme is used as given.
fn with_scheme(endpoint: String, insecure: bool) -> String {
    if endpoint.contains("://") {
        endpoint
    } else if insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    }
}

fn exporter_enabled(var: &str, value: Option<String>, notes: &mut Vec<String>) -> bool {
    match value.as_deref() {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("otlp") => true,
        Some(v) if v.eq_ignore_ascii_case("none") => false,
        Some(v) => {
            notes.push(format!("{var}={v:?} is not supported; exporting over OTLP"));
            true
        }
    }
}

fn parse_protocol(var: &str, value: Option<String>, notes: &mut Vec<String>) -> Option<Protocol> {
    let value = value?;
    let protocol = Protocol::parse(&value);
    if protocol.is_none() {
        notes.push(format!(
            "{var}={value:?} is not supported (use grpc or http/protobuf); ignored"
        ));
    }
    protocol
}

fn millis(var: &str, value: Option<String>, notes: &mut Vec<String>) -> Option<Duration> {
    let value = value?;
    match value.parse::<u64>() {
        Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => {
            notes.push(format!(
                "{var}={value:?} is not a positive number of milliseconds; ignored"
            ));
            None
        }
    }
}

fn resolve_temporality(value: Option<String>, notes: &mut Vec<String>) -> Temporality {
    let Some(value) = value else {
        return Temporality::Cumulative;
    };
    match value.to_ascii_lowercase().as_str() {
        "cumulative" => Temporality::Cumulative,
        "delta" => Temporality::Delta,
        "lowmemory" => Temporality::LowMemory,
        _ => {
            let var = env::OTLP_METRICS_TEMPORALITY;
            notes.push(format!(
                "{var}={value:?} is not supported; using cumulative"
            ));
            Temporality::Cumulative
        }
    }
}

fn resolve_sampler(name: Option<String>, arg: Option<String>, notes: &mut Vec<String>) -> Sampler {
    let default = || Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
    let Some(name) = name else { return default() };
    let mut ratio = || match arg.as_deref().map(str::parse::<f64>) {
        Some(Ok(r)) if (0.0..=1.0).contains(&r) => r,
        _ => {
            let var = env::TRACES_SAMPLER_ARG;
            notes.push(format!(
                "{var}={arg:?} is not a ratio from 0 to 1; sampling all"
            ));
            1.0
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatioBased(ratio()),
        "parentbased_always_on" => default(),
        "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        "parentbased_traceidratio" => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio())))
        }
        _ => {
            let var = env::TRACES_SAMPLER;
            notes.push(format!(
                "{var}={name:?} is not supported; using parentbased_always_on"
            ));
            default()
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
