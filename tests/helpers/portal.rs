//! Local portals. Each server runs on its own ephemeral port on 127.0.0.1 and
//! stops when its handle is dropped.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub enum Behavior {
    /// Answer with this status and body.
    Respond { status: u16, body: String },
    /// Accept the connection, read the request, never answer.
    Silent,
    /// Send the status line, then wait before the rest of the headers.
    SlowHeaders(Duration),
    /// Every path redirects to the next one, forever.
    RedirectLoop,
    /// Redirect once to `/final`, which answers 200 with the body.
    RedirectOnce { body: String },
    /// Redirect to this absolute URL.
    RedirectTo(String),
    /// A 200 whose body comes one byte every `every`, never finishing.
    Trickle { every: Duration },
    /// 200 "MO Direct portal" while the flag is up, 503 while it is down.
    Toggle(Arc<std::sync::atomic::AtomicBool>),
    /// A 200 with a body of this many bytes, the marker text at its very end.
    HugeBody { bytes: usize, marker: String },
    /// A redirect whose Location is a path of this many bytes; that path
    /// (any long path) answers 200 "MO Direct portal".
    LongRedirect { bytes: usize },
    /// A 200 whose body comes in two writes, some time apart, so the client
    /// reads it as two frames.
    SplitBody { first: String, second: String },
}

pub struct Portal {
    pub ip: String,
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Portal {
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}:{}{path}", self.ip, self.port)
    }
    pub fn https_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A certificate authority and a `localhost` certificate it signed.
pub struct TestPki {
    pub ca: CertificateDer<'static>,
    pub ca_pem: String,
    pub leaf: CertificateDer<'static>,
    pub key: PrivatePkcs8KeyDer<'static>,
}

impl TestPki {
    /// A CA-signed certificate for localhost and 127.0.0.1.
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "livesite test CA");
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
        let leaf_params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("leaf params");
        let leaf = leaf_params
            .signed_by(&leaf_key, &ca, &ca_key)
            .expect("leaf cert");
        Self {
            ca: ca.der().clone(),
            ca_pem: ca.pem(),
            leaf: leaf.der().clone(),
            key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
        }
    }

    /// A self-signed certificate for localhost that no one trusts.
    pub fn self_signed() -> Self {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        Self {
            ca: cert.der().clone(),
            ca_pem: cert.pem(),
            leaf: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    /// A self-signed certificate for localhost and 127.0.0.1 made as
    /// `openssl req -x509` makes one: marked as a CA (`CA:TRUE`), which the
    /// Web PKI refuses as a server's own certificate.
    pub fn self_signed_ca_style() -> Self {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("cert");
        Self {
            ca: cert.der().clone(),
            ca_pem: cert.pem(),
            leaf: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(
                vec![self.leaf.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .expect("server cert");
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts a plain HTTP portal.
pub async fn spawn(behavior: Behavior) -> Portal {
    start(behavior, None, "127.0.0.1").await
}

/// Starts a plain HTTP portal on another loopback address (127.0.0.2, say),
/// so a test can trust the portals' address and not 127.0.0.1.
pub async fn spawn_on(ip: &str, behavior: Behavior) -> Portal {
    start(behavior, None, ip).await
}

/// Starts an HTTPS portal presenting the given certificate.
pub async fn spawn_tls(behavior: Behavior, pki: &TestPki) -> Portal {
    start(behavior, Some(pki.acceptor()), "127.0.0.1").await
}

/// A port with nothing listening on it.
pub async fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

async fn start(behavior: Behavior, tls: Option<tokio_rustls::TlsAcceptor>, ip: &str) -> Portal {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let behavior = behavior.clone();
            let tls = tls.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(sock).await {
                            serve(stream, behavior, counter).await;
                        }
                    }
                    None => serve(sock, behavior, counter).await,
                }
            });
        }
    });
    Portal {
        ip: ip.to_string(),
        port,
        hits,
        task,
    }
}

async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

fn response(status: u16, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    behavior: Behavior,
    hits: Arc<AtomicUsize>,
) {
    let Some(request) = read_request(&mut s).await else {
        return;
    };
    hits.fetch_add(1, Ordering::SeqCst);
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    match behavior {
        Behavior::Respond { status, body } => {
            let _ = s.write_all(response(status, "", &body).as_bytes()).await;
        }
        Behavior::Toggle(up) => {
            let r = if up.load(Ordering::SeqCst) {
                response(200, "", "MO Direct portal")
            } else {
                response(503, "", "unavailable")
            };
            let _ = s.write_all(r.as_bytes()).await;
        }
        Behavior::Silent => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Behavior::SlowHeaders(delay) => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
            let _ = s.flush().await;
            tokio::time::sleep(delay).await;
            let _ = s
                .write_all(b"content-length: 2\r\nconnection: close\r\n\r\nOK")
                .await;
        }
        Behavior::RedirectLoop => {
            let next = format!("{path}x");
            let _ = s
                .write_all(response(302, &format!("location: {next}\r\n"), "").as_bytes())
                .await;
        }
        Behavior::RedirectOnce { body } => {
            let r = if path == "/final" {
                response(200, "", &body)
            } else {
                response(301, "location: /final\r\n", "")
            };
            let _ = s.write_all(r.as_bytes()).await;
        }
        Behavior::Trickle { every } => {
            let head = "HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\nconnection: close\r\n\r\n";
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            // Bounded: a minute of trickling at most, then the server gives up.
            for _ in 0..(60_000 / every.as_millis().max(1)) {
                if s.write_all(b"x").await.is_err() || s.flush().await.is_err() {
                    return;
                }
                tokio::time::sleep(every).await;
            }
        }
        Behavior::RedirectTo(location) => {
            let _ = s
                .write_all(response(302, &format!("location: {location}\r\n"), "").as_bytes())
                .await;
        }
        Behavior::LongRedirect { bytes } => {
            let r = if path.len() > 1 {
                response(200, "", "MO Direct portal")
            } else {
                let location = format!("/{}", "l".repeat(bytes.saturating_sub(1)));
                response(302, &format!("location: {location}\r\n"), "")
            };
            let _ = s.write_all(r.as_bytes()).await;
        }
        Behavior::SplitBody { first, second } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{first}",
                first.len() + second.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = s.write_all(second.as_bytes()).await;
        }
        Behavior::HugeBody { bytes, marker } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                bytes + marker.len()
            );
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let block = vec![b'x'; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(block.len());
                if s.write_all(&block[..n]).await.is_err() {
                    return;
                }
                left -= n;
            }
            let _ = s.write_all(marker.as_bytes()).await;
        }
    }
    let _ = s.shutdown().await;
}

/// The networks the local portals live on: the prober refuses them unless
/// trusted, as it refuses every non-public address in production.
pub fn loopback() -> [livesite_core::net::Cidr; 2] {
    [
        "127.0.0.0/8".parse().expect("cidr"),
        "::1".parse().expect("cidr"),
    ]
}

/// A prober that may reach the local portals.
pub fn local_prober() -> livesite_prober::HttpProber {
    livesite_prober::HttpProber::new()
        .expect("prober")
        .trusting(loopback())
}
