//! Certificate checks: the Web PKI, and the exact certificates given to the
//! prober (`--ca-cert`) accepted as the portal's own.
//!
//! A self-signed certificate made the usual way (`openssl req -x509`) is
//! marked as a CA, and the Web PKI refuses a CA as a server's certificate
//! (`CaUsedAsEndEntity`), so trusting it as a root is not enough. A portal
//! presenting exactly a certificate the user named is accepted (a pin)
//! while that certificate is within its validity; the handshake's
//! signatures are still verified with its key.

use chrono::Utc;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

#[derive(Debug)]
pub struct PinnedOrWebPki {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl PinnedOrWebPki {
    pub fn new(webpki: Arc<WebPkiServerVerifier>, pinned: Vec<CertificateDer<'static>>) -> Self {
        Self { webpki, pinned }
    }

    fn is_pinned_and_valid(&self, leaf: &CertificateDer<'_>) -> bool {
        self.pinned.iter().any(|p| p.as_ref() == leaf.as_ref())
            && x509_parser::parse_x509_certificate(leaf.as_ref())
                .is_ok_and(|(_, c)| c.validity().is_valid_at(now()))
    }
}

fn now() -> x509_parser::time::ASN1Time {
    x509_parser::time::ASN1Time::from_timestamp(Utc::now().timestamp())
        .unwrap_or_else(|_| x509_parser::time::ASN1Time::now())
}

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => Ok(v),
            Err(_) if self.is_pinned_and_valid(end_entity) => Ok(ServerCertVerified::assertion()),
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
