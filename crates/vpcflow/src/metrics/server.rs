//! The HTTP endpoint: `GET /metrics` (Prometheus text format) and
//! `GET /healthz`, served by hyper on a single-threaded tokio runtime of its
//! own thread, so scrapes never compete with the pipeline threads for locks
//! longer than a copy of their views.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{header, Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tokio::sync::oneshot;

use super::{check, PipelineCollector, Telemetry};

/// Content type of `/metrics`: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// A client that sends no complete request header in this long is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What the endpoint answers, independent of the transport.
#[derive(Debug)]
pub struct Endpoint {
    registry: Registry,
    telemetry: Arc<Telemetry>,
}

impl Endpoint {
    /// An endpoint reporting `telemetry`.
    pub fn new(telemetry: Arc<Telemetry>) -> Endpoint {
        let mut registry = Registry::with_prefix("vpcflow");
        registry.register_collector(Box::new(PipelineCollector::new(telemetry.clone())));
        Endpoint {
            registry,
            telemetry,
        }
    }

    /// The metrics in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail, and the collector's own encoding
        // only fails when its writer does.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// The response to `method path`.
    pub fn respond(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        let reply = |status: StatusCode, content_type: &str, body: String| {
            let mut r = Response::new(Full::new(Bytes::from(body)));
            *r.status_mut() = status;
            if let Ok(v) = header::HeaderValue::from_str(content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        };
        const PLAIN: &str = "text/plain; charset=utf-8";
        if path != "/metrics" && path != "/healthz" {
            return reply(StatusCode::NOT_FOUND, PLAIN, "not found\n".into());
        }
        if method != Method::GET && method != Method::HEAD {
            let mut r = reply(
                StatusCode::METHOD_NOT_ALLOWED,
                PLAIN,
                "method not allowed\n".into(),
            );
            r.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        if path == "/metrics" {
            return reply(StatusCode::OK, CONTENT_TYPE, self.metrics_text());
        }
        let health = check(&self.telemetry, self.telemetry.now_ms());
        if health.is_ok() {
            reply(StatusCode::OK, PLAIN, "ok\n".into())
        } else {
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                PLAIN,
                format!("unhealthy: {}\n", health.problems.join("; ")),
            )
        }
    }
}

/// The running endpoint; stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` (the `metrics.listen` setting) and serves
    /// `telemetry` on a thread of its own.
    pub fn start(addr: SocketAddr, telemetry: Arc<Telemetry>) -> Result<MetricsServer> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| anyhow!("metrics.listen: cannot listen on {addr}: {e}"))?;
        listener
            .set_nonblocking(true)
            .context("metrics.listen: cannot configure the socket")?;
        let local = listener.local_addr().context("metrics.listen")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .context("cannot start the metrics endpoint's runtime")?;
        let endpoint = Arc::new(Endpoint::new(telemetry));
        let (tx, rx) = oneshot::channel();
        let thread = thread::Builder::new()
            .name("vpcflow-metrics".into())
            .spawn(move || runtime.block_on(serve(listener, endpoint, rx)))
            .context("cannot start the metrics thread")?;
        Ok(MetricsServer {
            addr: local,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

impl MetricsServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    endpoint: Arc<Endpoint>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "metrics endpoint: cannot use the socket");
            return;
        }
    };
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: try again shortly.
                    tracing::warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let response = endpoint.respond(req.method(), req.uri().path());
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "metrics endpoint: connection ended with an error");
            }
        });
    }
}
