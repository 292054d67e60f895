//! `--otlp-endpoint`: the agent pushes its metrics over OTLP/HTTP. The collector here is a
//! plain TCP listener on 127.0.0.1 that reads one HTTP request and answers 200; the
//! protobuf contents are checked by memberlist-opentelemetry's own receiver tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod agent_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use agent_support::*;

/// One HTTP request: request line, headers (lower-cased), body.
struct Request {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        )
        .ok()?;
    Some(Request {
        line: line.trim_end().to_owned(),
        headers,
        body,
    })
}

#[test]
fn the_agent_pushes_metrics_over_otlp_http() {
    let collector = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", collector.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in collector.incoming() {
            let Ok(mut stream) = stream else { break };
            if let Some(request) = read_request(&mut stream) {
                if tx.send(request).is_err() {
                    break;
                }
            }
        }
    });
    let agent = Agent::start(&[
        "--name",
        "otlp-node",
        "--bind",
        "127.0.0.1:0",
        "--otlp-endpoint",
        &endpoint,
        "--otlp-interval",
        "500ms",
    ]);
    let request = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("no OTLP export arrived: {}", agent.logs()));
    assert_eq!(request.line, "POST /v1/metrics HTTP/1.1");
    let content_type = request.headers.iter().find(|(k, _)| k == "content-type");
    assert_eq!(
        content_type.map(|(_, v)| v.as_str()),
        Some("application/x-protobuf")
    );
    // The protobuf carries the instrument names and the service name as strings.
    let body = String::from_utf8_lossy(&request.body);
    assert!(body.contains("memberlist.members"), "{body:?}");
    assert!(body.contains("otlp-node"), "service.name is the node name");
}

#[test]
fn a_bad_otlp_endpoint_is_one_clear_error() {
    let err = agent_fails(&[
        "--name",
        "x",
        "--bind",
        "127.0.0.1:0",
        "--otlp-endpoint",
        "ftp://127.0.0.1:1",
    ]);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("--otlp-endpoint ftp://127.0.0.1:1"),
        "{err}"
    );
    assert!(errors[0].contains("http://"), "{err}");
}
