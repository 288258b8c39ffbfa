//! `POST /performance/export` under abuse: paths in the query, the body, headers and the request
//! line itself, malformed and oversized bodies, and many exports at once. Every file lands in
//! the server's export folder under a name it made; the folders above gain nothing.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tts_otel::http::routes;

use crate::harness::Harness;

/// Plain exports sent alongside the hostile ones.
const PLAIN_EXPORTS: usize = 40;
/// An oversized body: far beyond the speech route's limit, sent to a route that reads none.
const OVERSIZED: usize = 8 * 1024 * 1024;

/// One hostile export request: query string, content type and body.
struct Attempt {
    query: String,
    content_type: &'static str,
    body: Vec<u8>,
}

fn attempts(token: &str, outside: &Path) -> Vec<Attempt> {
    let name = format!("escaped-{token}.json");
    let absolute = outside.join(&name).display().to_string();
    let paths = [
        format!("../{name}"),
        format!("../../{name}"),
        format!("%2e%2e/{name}"),
        format!("%2e%2e%2f%2e%2e%2f{name}"),
        format!("..%5c..%5c{name}"),
        format!("....//....//{name}"),
        absolute.clone(),
        format!("{absolute}%00.json"),
    ];
    let mut attempts = Vec::new();
    for path in &paths {
        let json = |key: &str| format!("{{\"{key}\": \"{path}\"}}").into_bytes();
        attempts.push(Attempt {
            query: format!("?path={path}&file={path}&dir={path}"),
            content_type: "application/json",
            body: json("path"),
        });
        attempts.push(Attempt {
            query: format!("?export_dir={path}"),
            content_type: "application/json",
            body: json("folder"),
        });
        attempts.push(Attempt {
            query: String::new(),
            content_type: "application/x-www-form-urlencoded",
            body: format!("path={path}&name={name}").into_bytes(),
        });
    }
    let malformed: [&[u8]; 4] = [
        b"{\"path\": \"../",
        b"\xff\xfe\x00garbage",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"null",
    ];
    for body in malformed {
        attempts.push(Attempt {
            query: String::new(),
            content_type: "application/json",
            body: body.to_vec(),
        });
    }
    attempts
}

/// What the folders around the export folder hold: every file under the server's root, and
/// the entries of the root's parent whose names carry `token`.
fn snapshot(root: &Path, token: &str) -> BTreeSet<PathBuf> {
    let mut seen: BTreeSet<PathBuf> = walk(root).into_iter().collect();
    let parent = root.parent().expect("the root has a parent");
    for entry in std::fs::read_dir(parent).expect("the root's parent is readable") {
        let path = entry.expect("an entry").path();
        if path.to_string_lossy().contains(token) {
            seen.insert(path);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_endpoint_writes_only_inside_its_folder_under_fresh_names() {
    let server = Harness::start(&[]).await;
    server.assert_serving().await;
    let folder = server.root.path().join("exports");
    let outside = server.root.path().parent().unwrap().to_owned();
    let token = format!("{}-{}", std::process::id(), server.base.len());
    let before = snapshot(server.root.path(), &token);

    let url = format!("{}{}", server.base, routes::EXPORT);
    let hostile = attempts(&token, &outside);
    let sent = hostile.len() + PLAIN_EXPORTS;
    let plain = (0..PLAIN_EXPORTS).map(|_| Attempt {
        query: String::new(),
        content_type: "application/json",
        body: Vec::new(),
    });
    let requests = hostile.into_iter().chain(plain).map(|attempt| {
        server
            .client
            .post(format!("{url}{}", attempt.query))
            .header("x-export-path", "../escaped.json")
            .header(
                "content-disposition",
                "attachment; filename=\"../escaped.json\"",
            )
            .header(CONTENT_TYPE, attempt.content_type)
            .body(attempt.body)
            .send()
    });
    let answers = futures_join_all(requests).await;

    let mut files = HashSet::new();
    for answer in answers {
        let answer = answer.expect("the server answers");
        assert_eq!(answer.status(), StatusCode::OK);
        let written: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        let path = PathBuf::from(written["path"].as_str().unwrap());
        assert_eq!(
            path.parent(),
            Some(folder.as_path()),
            "{path:?} is outside the folder"
        );
        assert!(
            files.insert(written["file"].as_str().unwrap().to_owned()),
            "a name was reused"
        );
        let export: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(export["schema_version"], 1);
    }
    assert_eq!(files.len(), sent, "one export per request");

    let after = snapshot(server.root.path(), &token);
    let new: Vec<_> = after.difference(&before).collect();
    let outside_folder: Vec<_> = new
        .iter()
        .filter(|p| p.parent() != Some(folder.as_path()))
        .collect();
    assert!(
        outside_folder.is_empty(),
        "files outside the export folder: {outside_folder:?}"
    );
    assert_eq!(new.len(), sent, "one file per export, no temporaries left");
    assert!(!outside.join(format!("escaped-{token}.json")).exists());
    server.assert_serving().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_in_the_request_line_and_oversized_bodies_write_nothing_and_serving_goes_on() {
    let server = Harness::start(&[]).await;
    let folder = server.root.path().join("exports");
    let token = format!("line-{}", std::process::id());
    let before = snapshot(server.root.path(), &token);
    let addr = server.base.trim_start_matches("http://").to_owned();

    // Sent raw: an HTTP client would resolve the dot segments before sending them.
    for target in [
        format!("/performance/export/../../escaped-{token}.json"),
        format!("/performance/export/..%2f..%2fescaped-{token}.json"),
        format!("/performance/%2e%2e/export?path=../escaped-{token}.json"),
        format!("/performance/export/%2e%2e/%2e%2e/escaped-{token}.json"),
    ] {
        let status = raw_post(&addr, &target).await;
        println!("POST {target}: {status}");
        assert!(
            status.starts_with("HTTP/1.1 404") || status.starts_with("HTTP/1.1 400"),
            "{target}: {status}"
        );
    }

    // The route reads no body, so an oversized one is either ignored or cut off with the
    // connection; either way nothing else happens.
    let oversized = server
        .client
        .post(format!("{}{}", server.base, routes::EXPORT))
        .header(CONTENT_TYPE, "application/json")
        .body(vec![b'['; OVERSIZED])
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    match oversized {
        Ok(answer) => assert_eq!(answer.status(), StatusCode::OK),
        Err(error) => println!("the oversized export was cut off: {error}"),
    }

    let after = snapshot(server.root.path(), &token);
    let new: Vec<_> = after.difference(&before).collect();
    assert!(
        new.iter().all(|p| p.parent() == Some(folder.as_path())),
        "files outside the export folder: {new:?}"
    );
    assert!(
        new.len() <= 1,
        "at most the oversized request's export: {new:?}"
    );
    server.assert_serving().await;
    server.stop().await;
}

/// Sends `POST target` as written, without a body, and returns the status line.
async fn raw_post(addr: &str, target: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("an answer");
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

/// Every file under `root`, at any depth.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Awaits every future concurrently, in order.
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("the request task"));
    }
    outputs
}
