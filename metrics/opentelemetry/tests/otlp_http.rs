//! OTLP over HTTP/protobuf to a receiver on 127.0.0.1, port 0, inside the test.
#![cfg(feature = "http-proto")]

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use memberlist_core::metrics::{Counter, Metrics};
use memberlist_opentelemetry::{Otlp, Protocol};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use tokio::sync::mpsc;

/// A minimal OTLP/HTTP receiver: `POST /v1/metrics` with a protobuf body, decoded and sent
/// on the channel. Anything else is answered 404 or 415 and reported as an error.
struct Receiver {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<ExportMetricsServiceRequest>,
    errors: mpsc::UnboundedReceiver<String>,
}

async fn start_receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("receiver address");
    let (tx, requests) = mpsc::unbounded_channel();
    let (etx, errors) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (tx, etx) = (tx.clone(), etx.clone());
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let (tx, etx) = (tx.clone(), etx.clone());
                async move { Ok::<_, Infallible>(handle(req, &tx, &etx).await) }
            });
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                // A connection closed by the client mid-way is not the test's concern.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Receiver {
        addr,
        requests,
        errors,
    }
}

async fn handle(
    req: Request<Incoming>,
    tx: &mpsc::UnboundedSender<ExportMetricsServiceRequest>,
    etx: &mpsc::UnboundedSender<String>,
) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/x-protobuf"),
        );
        resp
    };
    if req.method() != hyper::Method::POST || req.uri().path() != "/v1/metrics" {
        let _ = etx.send(format!("{} {}", req.method(), req.uri()));
        return reply(StatusCode::NOT_FOUND, Vec::new());
    }
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type != "application/x-protobuf" {
        let _ = etx.send(format!("content type {content_type:?}"));
        return reply(StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new());
    }
    let body = match req.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            let _ = etx.send(format!("body: {e}"));
            return reply(StatusCode::BAD_REQUEST, Vec::new());
        }
    };
    match ExportMetricsServiceRequest::decode(body) {
        Ok(decoded) => {
            let _ = tx.send(decoded);
            reply(
                StatusCode::OK,
                ExportMetricsServiceResponse::default().encode_to_vec(),
            )
        }
        Err(e) => {
            let _ = etx.send(format!("decode: {e}"));
            reply(StatusCode::BAD_REQUEST, Vec::new())
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime for the receiver")
}

#[test]
fn force_flush_delivers_names_values_units_and_attributes() {
    let rt = runtime();
    let mut receiver = rt.block_on(start_receiver());
    // A long interval: only the flush exports.
    let (provider, metrics) = Otlp::new(format!("http://{}", receiver.addr))
        .protocol(Protocol::HttpProtobuf)
        .interval(Duration::from_secs(3600))
        .timeout(Duration::from_secs(5))
        .service_name("node-a")
        .resource_attribute("service.instance.id", "a-1")
        .const_attribute("cluster", "blue")
        .install()
        .expect("install");
    support::record_sample(&metrics);
    // The export runs on the reader's thread; this one waits for it.
    provider.force_flush().expect("flush to the receiver");

    let req = rt.block_on(support::next(&mut receiver.requests));
    assert_eq!(support::service_name(&req).as_deref(), Some("node-a"));
    let resource = support::attrs(
        &req.resource_metrics[0]
            .resource
            .as_ref()
            .expect("a resource")
            .attributes,
    );
    assert!(
        resource.contains(&("service.instance.id".to_owned(), "a-1".to_owned())),
        "{resource:?}"
    );
    support::check_sample(&req);

    provider.shutdown().expect("shutdown");
    assert!(
        receiver.errors.try_recv().is_err(),
        "the receiver saw a bad request"
    );
}

#[test]
fn the_periodic_reader_exports_on_its_own() {
    let rt = runtime();
    let mut receiver = rt.block_on(start_receiver());
    let (provider, metrics) = Otlp::new(format!("http://{}/v1/metrics", receiver.addr))
        .interval(Duration::from_millis(100))
        .service_name("node-b")
        .install()
        .expect("install");
    metrics.increment(Counter::MsgSuspect, 2);
    // No flush: wait for the reader's tick (bounded by the support wait).
    let req = rt.block_on(async {
        loop {
            let req = support::next(&mut receiver.requests).await;
            if !support::memberlist_metrics(&req).is_empty() {
                break req;
            }
        }
    });
    assert_eq!(support::service_name(&req).as_deref(), Some("node-b"));
    let metrics_seen = support::memberlist_metrics(&req);
    let suspect = support::find(&metrics_seen, "memberlist.msg.suspect");
    let Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(sum)) = &suspect.data
    else {
        panic!("msg.suspect is not a sum")
    };
    assert_eq!(
        sum.data_points[0].value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(2))
    );
    assert!(sum.data_points[0].attributes.is_empty());
    provider.shutdown().expect("shutdown");
}

#[test]
fn an_unreachable_receiver_fails_the_flush() {
    // A port that was just free: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let (provider, metrics) = Otlp::new(format!("http://{addr}"))
        .interval(Duration::from_secs(3600))
        .timeout(Duration::from_secs(2))
        .install()
        .expect("install");
    metrics.increment(Counter::MsgDead, 1);
    let err = provider.force_flush().expect_err("nothing listens");
    assert!(!err.to_string().is_empty());
    let _ = provider.shutdown();
}
