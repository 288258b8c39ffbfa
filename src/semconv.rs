//! Every name, unit, attribute key, span field and default bucket set of the telemetry contract.
//!
//! Nothing else in the crate spells these as string literals: a reader who wants to know what a
//! dashboard can query, or what a span must carry, finds it here.
//!
//! Metric names follow the OpenTelemetry naming rules and carry UCUM units. A Prometheus
//! backend translates them: dots become underscores, the unit becomes a suffix (`_seconds`,
//! `_bytes`; annotations such as `{request}` are dropped), counters gain `_total`, and only
//! gauges of unit `1` gain `_ratio`. So `tts.synthesis.duration` is queried as
//! `tts_synthesis_duration_seconds_bucket`, the RTF histogram as `tts_synthesis_rtf_bucket`, and
//! `system.cpu.utilization` as `system_cpu_utilization_ratio`.

/// Span names and span or event fields that user code writes.
pub mod field {
    /// Default name of a synthesis span.
    pub const SYNTHESIS_SPAN: &str = "tts.synthesize";
    /// Prefix of a stage span's name; the rest of the name is the stage (`tts.stage.inference`).
    pub const STAGE_SPAN_PREFIX: &str = "tts.stage.";
    /// Voice id (string).
    pub const VOICE: &str = "tts.voice";
    /// Model id (string, optional).
    pub const MODEL: &str = "tts.model";
    /// Characters of input text (integer). The text itself is never recorded.
    pub const TEXT_CHARS: &str = "tts.text.chars";
    /// Duration of the produced audio in seconds (float or integer).
    pub const AUDIO_SECONDS: &str = "tts.audio.seconds";
    /// Whether the audio was served from a cache (bool).
    pub const CACHE_HIT: &str = "tts.cache.hit";
    /// Audio format, such as `wav` (string, optional).
    pub const FORMAT: &str = "tts.format";
    /// Speaking speed factor (float, optional).
    pub const SPEED: &str = "tts.speed";
    /// Whether the response was streamed (bool, optional).
    pub const STREAMING: &str = "tts.streaming";
    /// Event field marking the moment the first audio chunk was ready.
    pub const FIRST_AUDIO: &str = "tts.first_audio";
    /// Event field naming the error of a failed synthesis.
    pub const ERROR_TYPE: &str = "error.type";
    /// Fields that would carry the input text itself, as `#[instrument]` without `skip(text)`
    /// records it. The pipeline shows [`REDACTED`] instead of their values in exported spans
    /// and in its printed log; so it does for a field whose name ends in one of these after a
    /// dot (`request.text`).
    pub const TEXT_FIELDS: &[&str] = &["text", "input", "ssml"];
    /// What a field of [`TEXT_FIELDS`] shows instead of its value.
    pub const REDACTED: &str = "[redacted]";
}

/// Metric instrument names.
pub mod metric {
    /// Histogram of synthesis wall time, in seconds.
    pub const SYNTHESIS_DURATION: &str = "tts.synthesis.duration";
    /// Histogram of the real-time factor: latency divided by audio seconds.
    pub const SYNTHESIS_RTF: &str = "tts.synthesis.rtf";
    /// Histogram of the time from span creation to the first audio chunk, in seconds.
    pub const TIME_TO_FIRST_AUDIO: &str = "tts.synthesis.time_to_first_audio";
    /// Up-down counter of syntheses in progress.
    pub const SYNTHESIS_ACTIVE: &str = "tts.synthesis.active";
    /// Counter of syntheses that closed without a valid positive audio duration, so without RTF.
    pub const SYNTHESIS_UNRATED: &str = "tts.synthesis.unrated";
    /// Counter of syntheses cancelled before they finished: spans that declared
    /// `tts.audio.seconds` and closed without recording it and without an error.
    pub const SYNTHESIS_CANCELLED: &str = "tts.synthesis.cancelled";
    /// Histogram of produced audio duration, in seconds.
    pub const AUDIO_DURATION: &str = "tts.audio.duration";
    /// Histogram of input text length, in characters.
    pub const TEXT_CHARS: &str = "tts.text.chars";
    /// Counter of cache look-ups, split by result.
    pub const CACHE_REQUESTS: &str = "tts.cache.requests";
    /// Histogram of stage wall time, in seconds.
    pub const STAGE_DURATION: &str = "tts.stage.duration";
    /// Counter of span field values that were dropped because they were invalid.
    pub const INVALID_VALUES: &str = "tts.telemetry.invalid_values";
}

/// UCUM units of the instruments.
pub mod unit {
    /// Seconds.
    pub const SECONDS: &str = "s";
    /// A dimensionless ratio.
    pub const RATIO: &str = "1";
    /// Syntheses.
    pub const SYNTHESIS: &str = "{synthesis}";
    /// Characters.
    pub const CHAR: &str = "{char}";
    /// Requests.
    pub const REQUEST: &str = "{request}";
    /// Field values.
    pub const VALUE: &str = "{value}";
    /// Bytes.
    pub const BYTES: &str = "By";
    /// Threads.
    pub const THREAD: &str = "{thread}";
}

/// Attribute keys and the fixed values some of them take.
pub mod attr {
    /// Voice id, bounded by the label limit.
    pub const VOICE: &str = "tts.voice";
    /// Model id, bounded by the label limit.
    pub const MODEL: &str = "tts.model";
    /// Cache outcome: [`CACHE_HIT`] or [`CACHE_MISS`].
    pub const CACHE_RESULT: &str = "tts.cache.result";
    /// Value of [`CACHE_RESULT`] for a synthesis served from the cache.
    pub const CACHE_HIT: &str = "hit";
    /// Value of [`CACHE_RESULT`] for a synthesis that ran the engine.
    pub const CACHE_MISS: &str = "miss";
    /// Error class of a failed synthesis, bounded by the label limit.
    pub const ERROR_TYPE: &str = "error.type";
    /// Stage name of a stage span (`inference` for `tts.stage.inference`).
    pub const STAGE: &str = "tts.stage";
    /// Contract field whose value was invalid.
    pub const FIELD: &str = "tts.field";
    /// Value that replaces a label once the label limit is reached.
    pub const OVERFLOW_VALUE: &str = "other";
    /// Value of [`VOICE`] for a synthesis span that recorded no voice.
    pub const UNKNOWN_VALUE: &str = "unknown";
    /// Value of [`ERROR_TYPE`] when the error event names no type, as the semantic
    /// conventions prescribe.
    pub const ERROR_TYPE_OTHER: &str = "_OTHER";
}

/// System and process resource metric names, as the OpenTelemetry semantic conventions spell
/// them (`system.*`, `process.*` and the hardware `hw.gpu.*` set).
pub mod system_metric {
    /// Gauge of whole-system CPU utilisation, unit `1` (0–1).
    pub const CPU_UTILIZATION: &str = "system.cpu.utilization";
    /// Up-down counter of system memory in bytes, split by [`MEMORY_STATE`].
    ///
    /// [`MEMORY_STATE`]: super::system_attr::MEMORY_STATE
    pub const MEMORY_USAGE: &str = "system.memory.usage";
    /// Gauge of memory in use as a fraction of the total, unit `1`.
    pub const MEMORY_UTILIZATION: &str = "system.memory.utilization";
    /// Gauge of this process's CPU utilisation normalised by the number of CPUs, unit `1`.
    pub const PROCESS_CPU_UTILIZATION: &str = "process.cpu.utilization";
    /// Up-down counter of this process's resident set size, in bytes.
    pub const PROCESS_MEMORY_USAGE: &str = "process.memory.usage";
    /// Up-down counter of this process's virtual memory size, in bytes.
    pub const PROCESS_MEMORY_VIRTUAL: &str = "process.memory.virtual";
    /// Up-down counter of this process's threads.
    pub const PROCESS_THREAD_COUNT: &str = "process.thread.count";
    /// Counter of disk bytes, split by [`DISK_IO_DIRECTION`].
    ///
    /// [`DISK_IO_DIRECTION`]: super::system_attr::DISK_IO_DIRECTION
    pub const DISK_IO: &str = "system.disk.io";
    /// Counter of network bytes, split by [`NETWORK_IO_DIRECTION`].
    ///
    /// [`NETWORK_IO_DIRECTION`]: super::system_attr::NETWORK_IO_DIRECTION
    pub const NETWORK_IO: &str = "system.network.io";
    /// Gauge of a GPU's busy fraction, unit `1`, per device.
    pub const GPU_UTILIZATION: &str = "hw.gpu.utilization";
    /// Up-down counter of a GPU's memory in use, in bytes, per device.
    pub const GPU_MEMORY_USAGE: &str = "hw.gpu.memory.usage";
    /// Up-down counter of a GPU's memory size, in bytes, per device.
    pub const GPU_MEMORY_LIMIT: &str = "hw.gpu.memory.limit";
}

/// Attribute keys and fixed values of the system and process resource metrics.
pub mod system_attr {
    /// State of system memory: [`MEMORY_USED`] or [`MEMORY_FREE`].
    pub const MEMORY_STATE: &str = "system.memory.state";
    /// Value of [`MEMORY_STATE`] for memory in use (total less available).
    pub const MEMORY_USED: &str = "used";
    /// Value of [`MEMORY_STATE`] for memory available to new allocations.
    pub const MEMORY_FREE: &str = "free";
    /// Direction of disk I/O: [`DISK_READ`] or [`DISK_WRITE`].
    pub const DISK_IO_DIRECTION: &str = "disk.io.direction";
    /// Value of [`DISK_IO_DIRECTION`] for bytes read.
    pub const DISK_READ: &str = "read";
    /// Value of [`DISK_IO_DIRECTION`] for bytes written.
    pub const DISK_WRITE: &str = "write";
    /// Direction of network I/O: [`NETWORK_RECEIVE`] or [`NETWORK_TRANSMIT`].
    pub const NETWORK_IO_DIRECTION: &str = "network.io.direction";
    /// Value of [`NETWORK_IO_DIRECTION`] for bytes received.
    pub const NETWORK_RECEIVE: &str = "receive";
    /// Value of [`NETWORK_IO_DIRECTION`] for bytes transmitted.
    pub const NETWORK_TRANSMIT: &str = "transmit";
    /// Identifier of a hardware component, unique within the host (a GPU's UUID).
    pub const HW_ID: &str = "hw.id";
    /// Human-readable name of a hardware component (a GPU's model name).
    pub const HW_NAME: &str = "hw.name";
    /// Kind of hardware component; always [`HW_TYPE_GPU`] here.
    pub const HW_TYPE: &str = "hw.type";
    /// Value of [`HW_TYPE`] for a graphics processing unit.
    pub const HW_TYPE_GPU: &str = "gpu";
}

/// Default explicit bucket boundaries. Each set can be overridden with a view.
pub mod buckets {
    /// Synthesis and stage durations, in seconds: the HTTP semantic-convention set, extended to
    /// two minutes for long-form audio.
    pub const DURATION_SECONDS: &[f64] = &[
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0,
        20.0, 30.0, 45.0, 60.0, 90.0, 120.0,
    ];
    /// Real-time factor: fine between 0.1 and 0.5, where healthy engines run, and around the
    /// real-time line at 1.0.
    pub const RTF: &[f64] = &[
        0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
        0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0,
    ];
    /// Time to first audio, in seconds: the generative-AI time-to-first-token set.
    pub const TIME_TO_FIRST_AUDIO_SECONDS: &[f64] = &[
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ];
    /// Produced audio duration, in seconds.
    pub const AUDIO_SECONDS: &[f64] = &[
        0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    ];
    /// Input text length, in characters, with edges at the length classes 50, 200 and 500.
    pub const TEXT_CHARS: &[f64] = &[
        10.0, 25.0, 50.0, 100.0, 200.0, 300.0, 500.0, 1000.0, 2000.0, 4096.0, 8192.0,
    ];
}

/// Default limits.
pub mod limits {
    /// Distinct voice, model or error-type values reported before further ones become
    /// [`other`](super::attr::OVERFLOW_VALUE).
    pub const LABEL_LIMIT: usize = 64;
    /// Longest label kept, in bytes; longer values are reported as
    /// [`other`](super::attr::OVERFLOW_VALUE).
    pub const LABEL_MAX_BYTES: usize = 128;
    /// Longest text length accepted for `tts.text.chars` (4,294,967,295 characters); a larger
    /// value is invalid. The bound keeps the histogram's integer sum from overflowing, which
    /// in the SDK panics in a debug build and wraps in a release build.
    // TODO: the sum can still overflow after 2^32 syntheses that each claim this many
    // characters; only a floating-point histogram would rule that out, which changes the
    // instrument's type.
    pub const MAX_TEXT_CHARS: u64 = u32::MAX as u64;
    /// Longest audio duration accepted for `tts.audio.seconds` (10^9 seconds, about 32 years);
    /// a larger value is invalid, so the histogram's sum stays finite.
    pub const MAX_AUDIO_SECONDS: f64 = 1e9;
    /// Shortest audio duration an RTF is computed from (a microsecond, less than one sample at
    /// any audio rate). A shorter positive duration is recorded as audio but gives no RTF, so a
    /// subnormal duration cannot make an RTF near `f64::MAX` that overflows the histogram's sum.
    pub const MIN_RATED_AUDIO_SECONDS: f64 = 1e-6;
}

/// Name of the instrumentation scope of the crate's own meter.
pub const SCOPE_NAME: &str = "tts-otel";

/// `tracing` target of the crate's own diagnostics and marker events; the synthesis layer
/// ignores events of this target, other than its markers, so they never feed back.
pub const DIAGNOSTICS_TARGET: &str = "tts_otel";

/// Prefix of the `tracing` targets of the OpenTelemetry SDK and exporters, whose events report
/// export failures; the synthesis layer never treats them as part of a synthesis.
pub const SDK_TARGET_PREFIX: &str = "opentelemetry";

/// Defaults, class edges and the schema version of the local performance monitor.
pub mod monitor {
    use std::time::Duration;

    /// Version of the summary and export schema; raised whenever a key is renamed or removed.
    pub const SCHEMA_VERSION: u32 = 1;
    /// Syntheses kept by default.
    pub const DEFAULT_MAX_RECORDS: usize = 10_000;
    /// Default age after which a synthesis leaves the summary window.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);
    /// Default span of time kept for the RTF trend.
    pub const DEFAULT_TREND_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
    /// Default width of one stored trend slot.
    pub const DEFAULT_TREND_GRANULARITY: Duration = Duration::from_secs(60);
    /// Default interval of the system sampler.
    pub const DEFAULT_SYSTEM_INTERVAL: Duration = Duration::from_secs(5);
    /// System samples kept by default: an hour at the default interval.
    pub const DEFAULT_MAX_SYSTEM_SAMPLES: usize = 720;
    /// Distinct stage names kept apart; further stages are dropped and counted.
    pub const STAGE_LIMIT: usize = 32;
    /// Longest text, in characters, of the `short` length class.
    pub const SHORT_TEXT_MAX_CHARS: u64 = 50;
    /// Longest text, in characters, of the `medium` length class.
    pub const MEDIUM_TEXT_MAX_CHARS: u64 = 200;
    /// Longest text, in characters, of the `long` length class; longer is `very_long`.
    pub const LONG_TEXT_MAX_CHARS: u64 = 500;
    /// Relative accuracy of the per-slot RTF sketches behind trend quantiles.
    pub const TREND_RELATIVE_ACCURACY: f64 = 0.01;
    /// Bins one trend sketch may grow to before it collapses its lowest values.
    pub const TREND_SKETCH_MAX_BINS: u32 = 128;
    /// Prefix of the temporary file an export writes before renaming it into place.
    pub const EXPORT_TEMP_PREFIX: &str = ".tts-otel-export-";
}

/// Name of the system sampler's thread, as `/proc/self/task/*/comm` shows it (Linux keeps at
/// most 15 bytes of a thread name).
pub const SAMPLER_THREAD_NAME: &str = "tts-otel-system";

/// Prefixes of the `tracing` targets of the SDK, the exporters and their transports. Their
/// spans and events are never exported as telemetry, never measured, and their warnings and
/// errors are printed at most once per callsite and export fault.
pub const EXPORT_TARGET_PREFIXES: &[&str] = &[
    SDK_TARGET_PREFIX,
    "hyper",
    "tonic",
    "h2",
    "reqwest",
    "tower",
    "rustls",
];

/// Environment variables the pipeline reads, as the OpenTelemetry specification names them.
///
/// Settings made in code win over every variable; an empty variable counts as unset.
pub mod env {
    /// `true` turns the OpenTelemetry SDK off: no exporter, no trace layer.
    pub const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
    /// The `service.name` resource attribute; wins over one in [`RESOURCE_ATTRIBUTES`].
    pub const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    /// Resource attributes as `key=value` pairs separated by commas, values percent-encoded.
    pub const RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
    /// Base endpoint of both signals. Over HTTP the signal path (`v1/traces`, `v1/metrics`) is
    /// appended; over gRPC it is used as given.
    pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    /// Endpoint of the traces exporter, used as given.
    pub const OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    /// Endpoint of the metrics exporter, used as given.
    pub const OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
    /// Transport of both signals: `grpc` or `http/protobuf` (the default).
    pub const OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
    /// Transport of the traces exporter; wins over [`OTLP_PROTOCOL`].
    pub const OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
    /// Transport of the metrics exporter; wins over [`OTLP_PROTOCOL`].
    pub const OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
    /// Request headers of both signals, `key=value` pairs separated by commas. Read by the
    /// exporter itself; header values are never logged.
    pub const OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
    /// Request headers of the traces exporter; replace [`OTLP_HEADERS`] for traces.
    pub const OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
    /// Request headers of the metrics exporter; replace [`OTLP_HEADERS`] for metrics.
    pub const OTLP_METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
    /// `true` sends gRPC without TLS to an endpoint written without a scheme (`host:4317`).
    /// An endpoint with a scheme is used as given: `https://` means TLS.
    pub const OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
    /// [`OTLP_INSECURE`] for the traces exporter.
    pub const OTLP_TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
    /// [`OTLP_INSECURE`] for the metrics exporter.
    pub const OTLP_METRICS_INSECURE: &str = "OTEL_EXPORTER_OTLP_METRICS_INSECURE";
    /// Time one export may take, in milliseconds.
    pub const OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
    /// Time one traces export may take, in milliseconds; wins over [`OTLP_TIMEOUT`].
    pub const OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
    /// Time one metrics export may take, in milliseconds; wins over [`OTLP_TIMEOUT`].
    pub const OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
    /// `cumulative` (the default), `delta` or `lowmemory`.
    pub const OTLP_METRICS_TEMPORALITY: &str = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
    /// Interval between two metric exports, in milliseconds.
    pub const METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
    /// Trace sampler: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on` (the
    /// default), `parentbased_always_off` or `parentbased_traceidratio`.
    pub const TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
    /// Sampling ratio of the ratio samplers, from 0 to 1.
    pub const TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
    /// `otlp` (the default) or `none`.
    pub const TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
    /// `otlp` (the default) or `none`.
    pub const METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
    /// `tracing` filter directives of the printed log, as `tracing_subscriber::EnvFilter`
    /// reads them; [`LOG_FILTER`](super::defaults::LOG_FILTER) when unset.
    pub const LOG_FILTER: &str = "RUST_LOG";
}

/// Defaults of the pipeline.
pub mod defaults {
    use std::time::Duration;

    /// Endpoint of the OTLP/gRPC exporter when none is configured.
    pub const GRPC_ENDPOINT: &str = "http://localhost:4317";
    /// Base endpoint of the OTLP/HTTP exporter when none is configured.
    pub const HTTP_ENDPOINT: &str = "http://localhost:4318";
    /// Path of the traces signal, appended to a base HTTP endpoint.
    pub const TRACES_PATH: &str = "v1/traces";
    /// Path of the metrics signal, appended to a base HTTP endpoint.
    pub const METRICS_PATH: &str = "v1/metrics";
    /// Time one export may take.
    pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Interval between two metric exports.
    pub const METRIC_EXPORT_INTERVAL: Duration = Duration::from_secs(60);
    /// Time the guard gives flushing and shutting down traces and metrics.
    pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
    /// Time the start-up probe waits for the collector to accept a connection.
    pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
    /// Filter directives of the printed log when none are given: `info`, with the SDK's own
    /// start-up chatter held back to warnings.
    pub const LOG_FILTER: &str = "info,opentelemetry=warn";
    /// The `service.name` when none is configured, before `:` and the executable's name.
    pub const UNKNOWN_SERVICE: &str = "unknown_service";
}

/// Resource attribute keys the pipeline sets.
pub mod resource {
    /// Logical name of the service.
    pub const SERVICE_NAME: &str = "service.name";
    /// Version of the service.
    pub const SERVICE_VERSION: &str = "service.version";
    /// Unique id of one running instance; Prometheus reports it as the `instance` label.
    pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";
}
