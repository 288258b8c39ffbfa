//! The standard variables, set in the process environment, against a capturing OTLP/HTTP
//! endpoint. One test per process, since it changes the environment.
#![cfg(feature = "otlp")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;
use tts_otel::pipeline::Pipeline;
use tts_otel::semconv::env;

/// Requests received: path and lower-cased headers.
type Requests = Arc<Mutex<Vec<(String, BTreeMap<String, String>)>>>;

/// Answers every OTLP/HTTP request with an empty success and remembers it.
fn capture() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = Requests::default();
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || serve(stream, &seen));
        }
    });
    (endpoint, requests)
}

fn serve(stream: TcpStream, seen: &Requests) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).expect("header");
            let Some((name, value)) = header.trim_end().split_once(':') else {
                break;
            };
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        seen.lock().unwrap().push((path, headers));
        let reply =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        writer.write_all(reply.as_bytes()).expect("reply");
    }
}

#[test]
fn standard_variables_configure_export_and_code_headers_win() {
    let (endpoint, requests) = capture();
    // Safe here: this test binary runs this one test, before any thread reads the environment.
    std::env::set_var(env::OTLP_ENDPOINT, &endpoint);
    std::env::set_var(env::OTLP_PROTOCOL, "http/protobuf");
    std::env::set_var(env::OTLP_HEADERS, "x-from-env=env%20value,x-both=env");
    std::env::set_var(env::METRIC_EXPORT_INTERVAL, "100");

    let providers = Pipeline::from_env()
        .with_header("x-both", "code")
        .build_providers()
        .expect("pipeline");
    let subscriber = tracing_subscriber::registry().with(providers.layers());
    let mut guard = tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("tts.synthesize", tts.voice = "v", tts.audio.seconds = 1.0)
            .in_scope(|| {});
        providers.start()
    });
    guard.shutdown().expect("shutdown");

    let deadline = Instant::now() + Duration::from_secs(10);
    let paths = || -> Vec<String> {
        requests
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    };
    while !(paths().contains(&"/v1/traces".to_owned())
        && paths().contains(&"/v1/metrics".to_owned()))
    {
        assert!(Instant::now() < deadline, "requests: {:?}", paths());
        std::thread::sleep(Duration::from_millis(50));
    }
    for (path, headers) in requests.lock().unwrap().iter() {
        assert_eq!(
            headers.get("x-from-env").map(String::as_str),
            Some("env value"),
            "{path}"
        );
        assert_eq!(
            headers.get("x-both").map(String::as_str),
            Some("code"),
            "{path}"
        );
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some("application/x-protobuf")
        );
    }
}
