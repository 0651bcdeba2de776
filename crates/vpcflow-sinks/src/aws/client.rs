//! What every AWS client of vpcflow shares (S3, CloudWatch Logs, Firehose):
//! the HTTP client on rustls with ring, and the SDK configuration loaded
//! from the settings and the SDK's default chains.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext};
use aws_smithy_http_client::ConnectorBuilder;

/// Region used when neither the settings, the SDK chain nor the flow log
/// give one.
pub const LAST_RESORT_REGION: &str = "us-east-1";

/// Where a client connects and as whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// Region; else the SDK's chain (`AWS_REGION`, profile); else
    /// `fallback_region`.
    pub region: Option<String>,
    /// Region used when neither `region` nor the SDK chain gives one.
    pub fallback_region: Option<String>,
    /// Endpoint URL (`AWS_ENDPOINT_URL` is also honoured through the SDK).
    pub endpoint: Option<String>,
    /// Shared config/credentials profile.
    pub profile: Option<String>,
}

/// The loaded configuration, and the region a service client must set
/// itself when the chain found none.
pub struct LoadedConfig {
    /// The SDK configuration.
    pub config: SdkConfig,
    /// `Some` when the chain gave no region: the fallback (or
    /// [`LAST_RESORT_REGION`]).
    pub fallback_region: Option<String>,
}

/// Loads the SDK configuration: credentials from the SDK's default chain
/// (environment, shared config and credentials files with profiles, SSO,
/// `credential_process`, web identity, ECS/EKS container credentials,
/// IMDSv2); region from `settings.region`, else the chain, else
/// `settings.fallback_region`; the endpoint from `settings.endpoint` or
/// `AWS_ENDPOINT_URL`. SDK retries are off: every delivery retries itself
/// (with its own backoff, counted in the metrics).
pub async fn load_config(settings: &ClientSettings) -> LoadedConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(60))
                .build(),
        )
        .retry_config(RetryConfig::disabled());
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(endpoint) = &settings.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;
    let fallback_region = config.region().is_none().then(|| {
        settings
            .fallback_region
            .clone()
            .unwrap_or_else(|| LAST_RESORT_REGION.to_string())
    });
    LoadedConfig {
        config,
        fallback_region,
    }
}

/// The HTTP client of every AWS call (S3, CloudWatch Logs, Firehose, and the credential providers that
/// go over the network): the SDK's own hyper 1.x client, built the way its
/// `default-https-client` feature builds it (connector settings and sleep from
/// the SDK, proxy from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`, connectors
/// cached per timeout settings, the platform's root certificates) but with
/// rustls on ring, the one crypto provider of the workspace, instead of
/// aws-lc-rs.
pub fn https_client() -> SharedHttpClient {
    https_client_with(TlsContext::default(), ProxyConfig::from_env)
}

/// [`https_client`] with the given trust roots and proxy settings.
fn https_client_with(tls: TlsContext, proxy: fn() -> ProxyConfig) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .tls_context(tls.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(proxy()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Arc;

    use aws_sdk_s3::config::Credentials;
    use aws_smithy_http_client::tls::TrustStore;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;

    use super::*;

    /// Serves one TLS connection: reads one request head, answers 200 with
    /// no body, returns the request line.
    fn serve_once(
        listener: TcpListener,
        cert: &rcgen::CertifiedKey<rcgen::KeyPair>,
    ) -> std::thread::JoinHandle<String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.cert.der().clone()],
                PrivateKeyDer::from_pem_slice(cert.signing_key.serialize_pem().as_bytes()).unwrap(),
            )
            .unwrap();
        std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
            let mut request_line = String::new();
            tls.read_line(&mut request_line).unwrap();
            let mut line = String::new();
            while line != "\r\n" {
                line.clear();
                tls.read_line(&mut line).unwrap();
            }
            let tls = tls.get_mut();
            tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
            tls.flush().unwrap();
            request_line
        })
    }

    #[test]
    fn the_sdk_reaches_a_tls_endpoint_over_ring() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = serve_once(listener, &cert);

        let trusted = TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(cert.cert.pem().as_bytes()))
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = runtime.enter();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("https://localhost:{port}"))
            .force_path_style(true)
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .http_client(https_client_with(trusted, ProxyConfig::disabled))
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        let result = runtime.block_on(client.head_bucket().bucket("flow-logs").send());
        assert!(result.is_ok(), "{result:?}");
        let request_line = server.join().unwrap();
        assert!(
            request_line.starts_with("HEAD /flow-logs"),
            "{request_line}"
        );
    }
}
