//! [`TlsConfig`]: a node's certificate chain and key from the cluster CA, and that CA as its
//! only trust anchor. Why every node certificate carries one fixed cluster server name, and
//! the ALPN and mutual-TLS rules: see the crate docs ("Security") and `README.md`. Client
//! certificates get the chain check only, no name check.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// The ALPN protocol identifier of memberlist over QUIC.
pub const ALPN: &[u8] = b"memberlist/1";
/// The server name every node certificate carries and every dialler verifies.
pub const DEFAULT_SERVER_NAME: &str = "memberlist.cluster";

/// Why TLS material could not be loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// PEM text could not be parsed.
    #[error("parsing {what}: {source}")]
    Pem {
        /// What was being parsed ("certificate chain", "private key", "CA").
        what: &'static str,
        /// The parser's complaint.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A required item is missing (an empty chain or CA list).
    #[error("no {0} given")]
    Missing(&'static str),
    /// rustls refused the material (a key that does not match, an unusable CA certificate...).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// Building a certificate verifier failed.
    #[error("certificate verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The rustls configuration offers no TLS 1.3 cipher suite QUIC can start with.
    #[error("QUIC needs a TLS 1.3 cipher suite: {0}")]
    CipherSuite(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
    /// Generating development certificates failed.
    #[cfg(feature = "dev-certs")]
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
}

/// A node's TLS identity and the cluster CA it trusts.
///
/// ```
/// # #[cfg(feature = "dev-certs")] {
/// use memberlist_quic::{DevCa, TlsConfig};
///
/// let ca = DevCa::new("docs").expect("a CA");
/// let node = ca.issue("node-1").expect("a node certificate");
/// // The same thing as from files, through PEM text.
/// let tls = TlsConfig::from_pem(
///     node.cert_pem.as_bytes(),
///     node.key_pem.as_bytes(),
///     ca.cert_pem().as_bytes(),
/// )
/// .expect("valid PEM");
/// assert_eq!(tls.server_name(), memberlist_quic::DEFAULT_SERVER_NAME);
/// # }
/// ```
pub struct TlsConfig {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    ca: Vec<CertificateDer<'static>>,
    server_name: String,
    alpn: Vec<Vec<u8>>,
}

impl Clone for TlsConfig {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
            ca: self.ca.clone(),
            server_name: self.server_name.clone(),
            alpn: self.alpn.clone(),
        }
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("chain", &self.chain.len())
            .field("key", &"<redacted>")
            .field("ca", &self.ca.len())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsConfig {
    /// A node's certificate chain (leaf first) and key, and the cluster CA certificate(s).
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        ca: Vec<CertificateDer<'static>>,
    ) -> Result<Self, TlsError> {
        if chain.is_empty() {
            return Err(TlsError::Missing("certificate chain"));
        }
        if ca.is_empty() {
            return Err(TlsError::Missing("CA certificate"));
        }
        let config = Self {
            chain,
            key,
            ca,
            server_name: DEFAULT_SERVER_NAME.to_owned(),
            alpn: vec![ALPN.to_vec()],
        };
        // Fail now, not at bind time, on a key that does not match or an unusable CA.
        config.rustls_server_config(true)?;
        Ok(config)
    }

    /// Parses PEM text: the node's chain, its private key (PKCS#8, PKCS#1 or SEC1) and the
    /// cluster CA certificate(s).
    pub fn from_pem(chain: &[u8], key: &[u8], ca: &[u8]) -> Result<Self, TlsError> {
        let certs = |what, pem| {
            CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|source| TlsError::Pem { what, source })
        };
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|source| TlsError::Pem {
            what: "private key",
            source,
        })?;
        Self::new(certs("certificate chain", chain)?, key, certs("CA", ca)?)
    }

    /// Reads and parses PEM files, as [`from_pem`](Self::from_pem).
    pub fn from_pem_files(
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
        ca: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Io {
                path: path.to_owned(),
                source,
            })
        };
        Self::from_pem(
            &read(chain.as_ref())?,
            &read(key.as_ref())?,
            &read(ca.as_ref())?,
        )
    }

    /// Verify peers against this name instead of [`DEFAULT_SERVER_NAME`]; every node
    /// certificate of the cluster must carry it.
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = name.into();
        self
    }

    /// Offer and accept these ALPN protocols instead of [`ALPN`] (for tests and migrations).
    pub fn with_alpn(mut self, protocols: Vec<Vec<u8>>) -> Self {
        self.alpn = protocols;
        self
    }

    /// The name dialled peers must present.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, TlsError> {
        let mut roots = RootCertStore::empty();
        for ca in &self.ca {
            roots.add(ca.clone())?;
        }
        Ok(Arc::new(roots))
    }

    /// The rustls server side: our chain, ALPN, TLS 1.3 only, and with `mutual_tls` a client
    /// certificate from the cluster CA required.
    pub fn rustls_server_config(&self, mutual_tls: bool) -> Result<rustls::ServerConfig, TlsError> {
        let provider = Self::provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?;
        let builder = if mutual_tls {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(self.roots()?, provider).build()?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = self.alpn.clone();
        Ok(config)
    }

    /// The rustls client side: trusts the cluster CA only, presents our chain, offers ALPN.
    pub fn rustls_client_config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let mut config = rustls::ClientConfig::builder_with_provider(Self::provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(self.roots()?)
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())?;
        config.alpn_protocols = self.alpn.clone();
        Ok(config)
    }

    /// A quinn client configuration from [`rustls_client_config`](Self::rustls_client_config),
    /// e.g. for a raw quinn endpoint talking to a node.
    pub fn quinn_client_config(&self) -> Result<quinn::ClientConfig, TlsError> {
        quic_client(self.rustls_client_config()?)
    }

    /// A quinn server configuration from [`rustls_server_config`](Self::rustls_server_config).
    pub fn quinn_server_config(&self, mutual_tls: bool) -> Result<quinn::ServerConfig, TlsError> {
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(
            self.rustls_server_config(mutual_tls)?,
        )?;
        Ok(quinn::ServerConfig::with_crypto(Arc::new(crypto)))
    }
}

/// Wraps any rustls client configuration (TLS 1.3 with an AES-128-GCM suite) for quinn.
pub fn quic_client(config: rustls::ClientConfig) -> Result<quinn::ClientConfig, TlsError> {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(config)?;
    Ok(quinn::ClientConfig::new(Arc::new(crypto)))
}
