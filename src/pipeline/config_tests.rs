use std::collections::HashMap;

use super::*;
use crate::pipeline::resource::value_of;
use crate::semconv::resource;

fn resolve_with(options: &Options, vars: &[(&str, &str)]) -> Settings {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    resolve(options, &|name| vars.get(name).cloned())
}

fn endpoints(settings: &Settings) -> (String, String) {
    let endpoint = |t: &Option<Target>| t.as_ref().expect("target").endpoint.clone();
    (endpoint(&settings.traces), endpoint(&settings.metrics))
}

fn resource_value(settings: &Settings, key: &str) -> Option<String> {
    value_of(&settings.resource, key)
}

#[test]
fn defaults_follow_the_specification() {
    let s = resolve_with(&Options::default(), &[]);
    let traces = s.traces.as_ref().unwrap();
    assert_eq!(traces.protocol, Protocol::HttpProtobuf);
    assert_eq!(traces.timeout, defaults::EXPORT_TIMEOUT);
    let expected = (
        "http://localhost:4318/v1/traces".to_owned(),
        "http://localhost:4318/v1/metrics".to_owned(),
    );
    assert_eq!(endpoints(&s), expected);
    assert_eq!(s.interval, Duration::from_secs(60));
    assert_eq!(s.temporality, Temporality::Cumulative);
    assert_eq!(format!("{:?}", s.sampler), "ParentBased(AlwaysOn)");
    assert!(!s.disabled && s.notes.is_empty());
    assert!(resource_value(&s, resource::SERVICE_NAME)
        .unwrap()
        .starts_with("unknown_service"));
    let instance = resource_value(&s, resource::SERVICE_INSTANCE_ID).unwrap();
    assert_eq!((instance.len(), &instance[14..15]), (36, "4"), "{instance}");
}

#[test]
fn a_base_endpoint_gets_signal_paths_over_http_only() {
    let vars = [(env::OTLP_ENDPOINT, "http://collector:4318/")];
    let s = resolve_with(&Options::default(), &vars);
    let http = (
        "http://collector:4318/v1/traces".to_owned(),
        "http://collector:4318/v1/metrics".to_owned(),
    );
    assert_eq!(endpoints(&s), http);

    let vars = [
        (env::OTLP_ENDPOINT, "http://collector:4317"),
        (env::OTLP_PROTOCOL, "grpc"),
    ];
    let s = resolve_with(&Options::default(), &vars);
    let grpc = "http://collector:4317".to_owned();
    assert_eq!(endpoints(&s), (grpc.clone(), grpc));
}

#[test]
fn signal_endpoints_are_used_as_given_and_win_over_the_base() {
    let vars = [
        (env::OTLP_ENDPOINT, "http://base:4318"),
        (env::OTLP_TRACES_ENDPOINT, "http://traces:9999/custom"),
    ];
    let s = resolve_with(&Options::default(), &vars);
    let expected = (
        "http://traces:9999/custom".to_owned(),
        "http://base:4318/v1/metrics".to_owned(),
    );
    assert_eq!(endpoints(&s), expected);
}

#[test]
fn settings_in_code_win_over_variables() {
    let options = Options {
        service_name: Some("code".into()),
        endpoint: Some("http://code:4318".into()),
        metrics_endpoint: Some("http://metrics:1/as-is".into()),
        protocol: Some(Protocol::HttpProtobuf),
        interval: Some(Duration::from_secs(5)),
        temporality: Some(Temporality::Delta),
        export_timeout: Some(Duration::from_secs(2)),
        ..Options::default()
    };
    let vars = [
        (env::SERVICE_NAME, "env"),
        (env::OTLP_ENDPOINT, "http://env:4317"),
        (env::OTLP_TRACES_ENDPOINT, "http://env-traces:4317"),
        (env::OTLP_PROTOCOL, "grpc"),
        (env::METRIC_EXPORT_INTERVAL, "1000"),
        (env::OTLP_METRICS_TEMPORALITY, "cumulative"),
        (env::OTLP_TIMEOUT, "100"),
    ];
    let s = resolve_with(&options, &vars);
    let expected = (
        "http://code:4318/v1/traces".to_owned(),
        "http://metrics:1/as-is".to_owned(),
    );
    assert_eq!(endpoints(&s), expected);
    assert_eq!(s.traces.as_ref().unwrap().timeout, Duration::from_secs(2));
    assert_eq!(s.interval, Duration::from_secs(5));
    assert_eq!(s.temporality, Temporality::Delta);
    assert_eq!(
        resource_value(&s, resource::SERVICE_NAME).as_deref(),
        Some("code")
    );
}

#[test]
fn a_signal_protocol_wins_over_the_generic_one() {
    let vars = [
        (env::OTLP_PROTOCOL, "http/protobuf"),
        (env::OTLP_METRICS_PROTOCOL, "grpc"),
    ];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(s.traces.unwrap().protocol, Protocol::HttpProtobuf);
    let metrics = s.metrics.unwrap();
    assert_eq!(metrics.protocol, Protocol::Grpc);
    assert_eq!(metrics.endpoint, defaults::GRPC_ENDPOINT);
}

#[test]
fn variables_set_interval_temporality_timeout_and_sampler() {
    let vars = [
        (env::METRIC_EXPORT_INTERVAL, "1500"),
        (env::OTLP_METRICS_TEMPORALITY, "Delta"),
        (env::OTLP_TIMEOUT, "3000"),
        (env::OTLP_TRACES_TIMEOUT, "700"),
        (env::TRACES_SAMPLER, "parentbased_traceidratio"),
        (env::TRACES_SAMPLER_ARG, "0.25"),
    ];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(s.interval, Duration::from_millis(1500));
    assert_eq!(s.temporality, Temporality::Delta);
    assert_eq!(s.traces.unwrap().timeout, Duration::from_millis(700));
    assert_eq!(s.metrics.unwrap().timeout, Duration::from_millis(3000));
    let sampler = format!("{:?}", s.sampler);
    assert_eq!(sampler, "ParentBased(TraceIdRatioBased(0.25))");
}

#[test]
fn invalid_values_keep_the_default_and_leave_a_note() {
    let vars = [
        (env::OTLP_PROTOCOL, "carrier-pigeon"),
        (env::METRIC_EXPORT_INTERVAL, "soon"),
        (env::OTLP_METRICS_TEMPORALITY, "sometimes"),
        (env::TRACES_SAMPLER, "traceidratio"),
        (env::TRACES_SAMPLER_ARG, "2.0"),
        (env::TRACES_EXPORTER, "zipkin"),
    ];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(s.traces.as_ref().unwrap().protocol, Protocol::HttpProtobuf);
    assert_eq!(s.interval, defaults::METRIC_EXPORT_INTERVAL);
    assert_eq!(s.temporality, Temporality::Cumulative);
    assert_eq!(format!("{:?}", s.sampler), "TraceIdRatioBased(1.0)");
    for var in [
        env::OTLP_PROTOCOL,
        env::METRIC_EXPORT_INTERVAL,
        env::OTLP_METRICS_TEMPORALITY,
        env::TRACES_SAMPLER_ARG,
        env::TRACES_EXPORTER,
    ] {
        assert!(
            s.notes.iter().any(|n| n.contains(var)),
            "{var}: {:?}",
            s.notes
        );
    }
}

#[test]
fn disabling_the_sdk_or_an_exporter_leaves_no_target() {
    let s = resolve_with(&Options::default(), &[(env::SDK_DISABLED, "TRUE")]);
    assert!(s.disabled && s.traces.is_none() && s.metrics.is_none());

    let s = resolve_with(&Options::default(), &[(env::TRACES_EXPORTER, "none")]);
    assert!(s.traces.is_none() && s.metrics.is_some());

    let options = Options {
        disabled: Some(false),
        ..Options::default()
    };
    let s = resolve_with(&options, &[(env::SDK_DISABLED, "true")]);
    assert!(!s.disabled && s.traces.is_some());
}

#[test]
fn empty_variables_count_as_unset() {
    let vars = [(env::OTLP_ENDPOINT, ""), (env::OTLP_PROTOCOL, " ")];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(
        s.traces.unwrap().endpoint,
        "http://localhost:4318/v1/traces"
    );
    assert!(s.notes.is_empty());
}

#[test]
fn values_are_trimmed() {
    let vars = [
        (env::OTLP_ENDPOINT, " http://otel:4318 "),
        (env::SDK_DISABLED, " false "),
    ];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(endpoints(&s).0, "http://otel:4318/v1/traces");
    assert!(s.notes.is_empty(), "{:?}", s.notes);
}

#[test]
fn a_boolean_other_than_true_or_false_is_false_with_a_note() {
    for value in ["1", "yes", "on", "disabled"] {
        let s = resolve_with(&Options::default(), &[(env::SDK_DISABLED, value)]);
        assert!(!s.disabled && s.traces.is_some(), "{value}");
        assert!(
            s.notes.iter().any(|n| n.contains(env::SDK_DISABLED)),
            "{value}: {:?}",
            s.notes
        );
    }
    let vars = [
        (env::OTLP_PROTOCOL, "grpc"),
        (env::OTLP_ENDPOINT, "otel:4317"),
        (env::OTLP_INSECURE, "1"),
    ];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(s.traces.unwrap().endpoint, "https://otel:4317");
    assert!(s.notes.iter().any(|n| n.contains(env::OTLP_INSECURE)));
}

#[test]
fn an_endpoint_that_is_not_a_url_keeps_the_default_and_names_its_variable() {
    for value in ["http://exa mple:4318", "http://[::1:4318"] {
        let s = resolve_with(&Options::default(), &[(env::OTLP_ENDPOINT, value)]);
        assert_eq!(
            endpoints(&s).0,
            "http://localhost:4318/v1/traces",
            "{value}"
        );
        assert!(
            s.notes.iter().any(|n| n.contains(env::OTLP_ENDPOINT)),
            "{value}: {:?}",
            s.notes
        );
    }
    let vars = [(env::OTLP_TRACES_ENDPOINT, "http://bad host/v1/traces")];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(endpoints(&s).0, "http://localhost:4318/v1/traces");
    assert!(s
        .notes
        .iter()
        .any(|n| n.contains(env::OTLP_TRACES_ENDPOINT)));
}

#[test]
fn header_entries_the_exporter_would_drop_are_noted_without_their_values() {
    let vars = [(
        env::OTLP_HEADERS,
        "x-api-key=secret-one,Authorization: Bearer secret-two,bad key=secret-three,\
         x-empty=,x-broken=secret%0Afour",
    )];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
    assert!(s.notes[0].contains(env::OTLP_HEADERS) && s.notes[0].contains(" 4 entries"));
    assert!(!s.notes[0].contains("secret"), "{}", s.notes[0]);

    let good = [(
        env::OTLP_HEADERS,
        "x-api-key=a, x-tenant = b,authorization=Bearer%20t",
    )];
    assert!(resolve_with(&Options::default(), &good).notes.is_empty());
}

#[test]
fn the_signal_path_goes_before_a_query() {
    let vars = [(env::OTLP_ENDPOINT, "http://otel:4318/base?tenant=a")];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(
        endpoints(&s),
        (
            "http://otel:4318/base/v1/traces?tenant=a".to_owned(),
            "http://otel:4318/base/v1/metrics?tenant=a".to_owned()
        )
    );
}

#[test]
fn a_grpc_endpoint_without_scheme_uses_tls_unless_insecure() {
    let grpc = (env::OTLP_PROTOCOL, "grpc");
    let s = resolve_with(
        &Options::default(),
        &[grpc, (env::OTLP_ENDPOINT, "otel:4317")],
    );
    assert_eq!(s.traces.unwrap().endpoint, "https://otel:4317");

    let insecure = (env::OTLP_INSECURE, "true");
    let vars = [grpc, (env::OTLP_ENDPOINT, "otel:4317"), insecure];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(s.metrics.unwrap().endpoint, "http://otel:4317");
}

#[test]
fn resource_attributes_come_from_the_variables_with_service_name_winning() {
    let vars = [
        (
            env::RESOURCE_ATTRIBUTES,
            "service.name=attr, deployment.environment=prod,team=a%20b%2Cc",
        ),
        (env::SERVICE_NAME, "named"),
    ];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(
        resource_value(&s, resource::SERVICE_NAME).as_deref(),
        Some("named")
    );
    assert_eq!(
        resource_value(&s, "deployment.environment").as_deref(),
        Some("prod")
    );
    assert_eq!(resource_value(&s, "team").as_deref(), Some("a b,c"));

    let vars = [(env::RESOURCE_ATTRIBUTES, "service.name=attr")];
    let options = Options {
        service_version: Some("1.2.3".into()),
        attributes: vec![KeyValue::new("team", "code")],
        ..Options::default()
    };
    let s = resolve_with(&options, &vars);
    assert_eq!(
        resource_value(&s, resource::SERVICE_NAME).as_deref(),
        Some("attr")
    );
    assert_eq!(
        resource_value(&s, resource::SERVICE_VERSION).as_deref(),
        Some("1.2.3")
    );
    assert_eq!(resource_value(&s, "team").as_deref(), Some("code"));
}

#[test]
fn an_invalid_resource_entry_discards_the_whole_variable() {
    let vars = [(env::RESOURCE_ATTRIBUTES, "team=a,broken,zone=%zz")];
    let s = resolve_with(&Options::default(), &vars);
    assert_eq!(resource_value(&s, "team"), None);
    assert_eq!(s.notes.len(), 1);
}

#[test]
fn header_values_never_show_in_debug_output() {
    let headers = Headers(vec![("x-api-key".into(), "hunter2".into())]);
    let options = Options {
        headers: headers.clone(),
        ..Options::default()
    };
    for shown in [format!("{headers:?}"), format!("{options:?}")] {
        assert!(
            shown.contains("x-api-key") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
