//! [`Otlp`]: sets up OTLP export of the metrics (HTTP/protobuf or gRPC) and returns the
//! meter provider with an [`OtelMetrics`] sink over it.

use std::time::Duration;

use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};

use crate::sink::{Builder, OtelMetrics};

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// HTTP/1.1 `POST` of protobuf bodies (`application/x-protobuf`) to `/v1/metrics`; the
    /// conventional port is 4318. Cargo feature `http-proto` (on by default).
    HttpProtobuf,
    /// gRPC (the `MetricsService/Export` call); the conventional port is 4317. Cargo
    /// feature `grpc-tonic` (off by default); needs a Tokio runtime.
    Grpc,
}

impl Protocol {
    /// The cargo feature that compiles this transport in.
    pub const fn feature(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http-proto",
            Protocol::Grpc => "grpc-tonic",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::Grpc => "grpc",
        })
    }
}

/// Setting up OTLP export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint is not a URL.
    #[error("invalid OTLP endpoint {endpoint:?}: {source}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it does not parse.
        #[source]
        source: http::uri::InvalidUri,
    },
    /// The endpoint's scheme is not `http` (this crate builds its exporters without TLS;
    /// for `https`, build an exporter with `opentelemetry-otlp` and a TLS feature, and pass
    /// its provider to [`OtelMetrics::builder`]).
    #[error("OTLP endpoint {endpoint:?} must start with http:// (https is not built in)")]
    UnsupportedScheme {
        /// The endpoint as given.
        endpoint: String,
    },
    /// The endpoint names no host.
    #[error("OTLP endpoint {endpoint:?} names no host")]
    MissingHost {
        /// The endpoint as given.
        endpoint: String,
    },
    /// The protocol's cargo feature is off.
    #[error("OTLP protocol {protocol} needs the cargo feature {:?} of memberlist-opentelemetry", protocol.feature())]
    ProtocolDisabled {
        /// The protocol asked for.
        protocol: Protocol,
    },
    /// gRPC export was set up outside a Tokio runtime.
    #[error("OTLP over gRPC must be set up inside a Tokio runtime")]
    NoTokioRuntime,
    /// The export interval is zero.
    #[error("the OTLP export interval must be greater than zero")]
    ZeroInterval,
    /// The OTLP exporter refused its configuration.
    #[error(transparent)]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
}

/// Export settings: endpoint, protocol, interval, resource, constant attributes.
///
/// [`install`](Self::install) builds an OTLP metric exporter, a periodic reader and an
/// [`SdkMeterProvider`], and the [`OtelMetrics`] sink over that provider. Keep the provider:
/// [`SdkMeterProvider::force_flush`] exports now, [`SdkMeterProvider::shutdown`] exports a
/// last time and stops the reader's thread.
///
/// ```no_run
/// use std::time::Duration;
/// use memberlist_core::metrics::{Counter, Metrics};
/// use memberlist_opentelemetry::{Otlp, Protocol};
///
/// let (provider, metrics) = Otlp::new("http://collector.example:4318")
///     .protocol(Protocol::HttpProtobuf)
///     .interval(Duration::from_secs(10))
///     .service_name("node-a")
///     .resource_attribute("deployment.environment.name", "staging")
///     .const_attribute("cluster", "blue")
///     .install()?;
/// metrics.increment(Counter::MsgAlive, 1);
/// provider.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The OpenTelemetry environment variables still apply where a setting is not made here
/// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, …); the
/// endpoint, protocol and timeout given here win over theirs.
#[derive(Debug)]
pub struct Otlp {
    endpoint: String,
    protocol: Protocol,
    interval: Duration,
    timeout: Duration,
    service_name: Option<Value>,
    resource: Vec<KeyValue>,
    sink: Builder,
}

/// The default export interval (OpenTelemetry's default, 60 s).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// The default timeout of one export (OpenTelemetry's default, 10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl Otlp {
    /// Export to `endpoint`, an `http://` URL, over [`Protocol::HttpProtobuf`] by default.
    ///
    /// Over HTTP, an endpoint without a path (`http://host:4318`) gets OTLP's `/v1/metrics`
    /// appended; one with a path is used as it is. Over gRPC the endpoint is used as it is.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Otlp {
            endpoint: endpoint.into(),
            protocol: Protocol::HttpProtobuf,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            service_name: None,
            resource: Vec::new(),
            sink: Builder::default(),
        }
    }

    /// The transport.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// How often the metrics are collected and exported (default 60 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How long one export may take (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The resource's `service.name`. Without it, `OTEL_SERVICE_NAME` or the SDK's
    /// `unknown_service` is used.
    pub fn service_name(mut self, name: impl Into<Value>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Adds an attribute of the resource (the process: `service.instance.id`, `host.name`,
    /// …), sent once per export rather than on every data point.
    pub fn resource_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.resource.push(KeyValue::new(key, value));
        self
    }

    /// Adds an attribute carried by every data point (see [`Builder::const_attribute`]).
    pub fn const_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.sink = self.sink.const_attribute(key, value);
        self
    }

    /// Builds the exporter, the periodic reader, the meter provider and the sink.
    ///
    /// The provider is returned, not installed globally; call
    /// `opentelemetry::global::set_meter_provider(provider.clone())` to share it.
    pub fn install(self) -> Result<(SdkMeterProvider, OtelMetrics), Error> {
        if self.interval.is_zero() {
            return Err(Error::ZeroInterval);
        }
        let endpoint = endpoint_url(&self.endpoint, self.protocol)?;
        let reader = build_reader(self.protocol, endpoint.clone(), self.timeout, self.interval)?;
        let mut resource = Resource::builder();
        if let Some(name) = self.service_name {
            resource = resource.with_service_name(name);
        }
        let resource = resource.with_attributes(self.resource).build();
        let provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        let metrics = self.sink.provider(&provider).build();
        tracing::debug!(
            %endpoint,
            protocol = %self.protocol,
            interval = ?self.interval,
            "OTLP metrics export set up"
        );
        Ok((provider, metrics))
    }
}

/// Checks `endpoint` and returns the URL the exporter posts to.
fn endpoint_url(endpoint: &str, protocol: Protocol) -> Result<String, Error> {
    let uri: http::Uri = endpoint.parse().map_err(|source| Error::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        source,
    })?;
    if uri.scheme() != Some(&http::uri::Scheme::HTTP) {
        return Err(Error::UnsupportedScheme {
            endpoint: endpoint.to_owned(),
        });
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(Error::MissingHost {
            endpoint: endpoint.to_owned(),
        });
    }
    let bare = uri.path() == "/" && uri.query().is_none();
    Ok(match protocol {
        Protocol::HttpProtobuf if bare => {
            format!("{}/v1/metrics", endpoint.trim_end_matches('/'))
        }
        _ => endpoint.to_owned(),
    })
}

fn build_reader(
    protocol: Protocol,
    endpoint: String,
    timeout: Duration,
    interval: Duration,
) -> Result<PeriodicReader<opentelemetry_otlp::MetricExporter>, Error> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = match protocol {
        #[cfg(feature = "http-proto")]
        Protocol::HttpProtobuf => opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .with_timeout(timeout)
            .build()?,
        #[cfg(feature = "grpc-tonic")]
        Protocol::Grpc => {
            // tonic's channel spawns its worker on the current Tokio runtime.
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(Error::NoTokioRuntime);
            }
            opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_endpoint(endpoint)
                .with_timeout(timeout)
                .build()?
        }
        #[allow(unreachable_patterns)]
        disabled => {
            let _ = (endpoint, timeout, interval);
            return Err(Error::ProtocolDisabled { protocol: disabled });
        }
    };
    Ok(PeriodicReader::builder(exporter)
        .with_interval(interval)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_http_endpoint_gets_the_metrics_path() {
        let url = endpoint_url("http://127.0.0.1:4318", Protocol::HttpProtobuf).expect("valid");
        assert_eq!(url, "http://127.0.0.1:4318/v1/metrics");
        let url = endpoint_url("http://127.0.0.1:4318/", Protocol::HttpProtobuf).expect("valid");
        assert_eq!(url, "http://127.0.0.1:4318/v1/metrics");
        let url =
            endpoint_url("http://127.0.0.1:4318/custom", Protocol::HttpProtobuf).expect("valid");
        assert_eq!(url, "http://127.0.0.1:4318/custom");
        let url = endpoint_url("http://127.0.0.1:4317", Protocol::Grpc).expect("valid");
        assert_eq!(url, "http://127.0.0.1:4317");
    }

    #[test]
    fn bad_endpoints_are_typed_errors() {
        let err = Otlp::new("http://exa mple:4318")
            .install()
            .expect_err("space");
        assert!(matches!(err, Error::InvalidEndpoint { .. }), "{err}");
        let err = Otlp::new("https://collector:4318")
            .install()
            .expect_err("no TLS");
        assert!(matches!(err, Error::UnsupportedScheme { .. }), "{err}");
        let err = Otlp::new("collector:4318")
            .install()
            .expect_err("no scheme");
        assert!(matches!(err, Error::UnsupportedScheme { .. }), "{err}");
        let err = Otlp::new("/v1/metrics").install().expect_err("no host");
        assert!(matches!(err, Error::UnsupportedScheme { .. }), "{err}");
        let err = Otlp::new("http://:4318").install().expect_err("no host");
        assert!(matches!(err, Error::MissingHost { .. }), "{err}");
        let err = Otlp::new("").install().expect_err("empty");
        assert!(matches!(err, Error::InvalidEndpoint { .. }), "{err}");
        assert!(err.to_string().contains("invalid OTLP endpoint"), "{err}");
    }

    #[test]
    fn a_zero_interval_is_refused() {
        let err = Otlp::new("http://127.0.0.1:4318")
            .interval(Duration::ZERO)
            .install()
            .expect_err("zero interval");
        assert!(matches!(err, Error::ZeroInterval), "{err}");
    }

    #[cfg(not(feature = "grpc-tonic"))]
    #[test]
    fn a_protocol_without_its_feature_is_refused() {
        let err = Otlp::new("http://127.0.0.1:4317")
            .protocol(Protocol::Grpc)
            .install()
            .expect_err("grpc-tonic is off");
        assert!(matches!(err, Error::ProtocolDisabled { .. }), "{err}");
        assert!(err.to_string().contains("grpc-tonic"), "{err}");
    }

    #[cfg(feature = "grpc-tonic")]
    #[test]
    fn grpc_outside_a_tokio_runtime_is_refused() {
        let err = Otlp::new("http://127.0.0.1:4317")
            .protocol(Protocol::Grpc)
            .install()
            .expect_err("no runtime");
        assert!(matches!(err, Error::NoTokioRuntime), "{err}");
    }
}
