//! OTLP over gRPC to a tonic receiver on 127.0.0.1, port 0, inside the test.
#![cfg(feature = "grpc-tonic")]

mod support;

use std::time::Duration;

use memberlist_opentelemetry::{Otlp, Protocol};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tokio::sync::mpsc;

/// The metrics service: every request goes to the channel.
struct Receiver {
    tx: mpsc::UnboundedSender<ExportMetricsServiceRequest>,
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let _ = self.tx.send(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_export_delivers_names_values_units_and_attributes() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let addr = listener.local_addr().expect("receiver address");
    let (tx, mut requests) = mpsc::unbounded_channel();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(MetricsServiceServer::new(Receiver { tx }))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let (provider, metrics) = Otlp::new(format!("http://{addr}"))
        .protocol(Protocol::Grpc)
        .interval(Duration::from_secs(3600))
        .timeout(Duration::from_secs(5))
        .service_name("node-g")
        .const_attribute("cluster", "blue")
        .install()
        .expect("install inside the runtime");
    support::record_sample(&metrics);
    // The flush blocks until the export is done; keep it off the runtime's workers.
    let provider = tokio::task::spawn_blocking(move || {
        provider.force_flush().expect("flush to the receiver");
        provider
    })
    .await
    .expect("the flush thread");

    let req = support::next(&mut requests).await;
    assert_eq!(support::service_name(&req).as_deref(), Some("node-g"));
    support::check_sample(&req);

    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .expect("the shutdown thread")
        .expect("shutdown");
    server.abort();
}
