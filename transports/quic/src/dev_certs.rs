//! Development certificates: a cluster CA and node certificates generated in memory with
//! [rcgen](https://docs.rs/rcgen). For tests and local clusters; in production issue node
//! certificates from your own CA and load them with
//! [`TlsConfig::from_pem_files`](crate::TlsConfig::from_pem_files).

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::tls::{DEFAULT_SERVER_NAME, TlsConfig, TlsError};

/// A node certificate and its key, PEM-encoded (write them to files for
/// [`TlsConfig::from_pem_files`]).
#[derive(Clone)]
pub struct NodeCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for NodeCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A cluster certificate authority generated in memory.
///
/// ```
/// use memberlist_quic::DevCa;
///
/// let ca = DevCa::new("my cluster").expect("a CA");
/// let tls = ca.node_tls("node-1").expect("a node identity");
/// assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// # drop(tls);
/// ```
pub struct DevCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    server_name: String,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl DevCa {
    /// A new CA named `cluster` (its common name), issuing certificates for
    /// [`DEFAULT_SERVER_NAME`].
    pub fn new(cluster: &str) -> Result<Self, TlsError> {
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{cluster} CA"));
        let key = KeyPair::generate()?;
        let issuer = CertifiedIssuer::self_signed(params, key)?;
        Ok(Self {
            issuer,
            server_name: DEFAULT_SERVER_NAME.to_owned(),
        })
    }

    /// Issue certificates for this cluster server name instead (see
    /// [`TlsConfig::with_server_name`]).
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = name.into();
        self
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A certificate for node `name`: its subject alternative names are the cluster server
    /// name and `name`, usable for both server and client authentication.
    pub fn issue(&self, name: &str) -> Result<NodeCert, TlsError> {
        let mut params = CertificateParams::new(vec![self.server_name.clone(), name.to_owned()])?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(NodeCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// A ready [`TlsConfig`] for node `name`: a fresh certificate and this CA as the only root.
    pub fn node_tls(&self, name: &str) -> Result<TlsConfig, TlsError> {
        let node = self.issue(name)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(node.key_der));
        Ok(
            TlsConfig::new(vec![node.cert_der], key, vec![self.cert_der()])?
                .with_server_name(self.server_name.clone()),
        )
    }
}
