//! The prober: one HTTP(S) GET over a fresh connection, timed phase by phase.
//!
//! reqwest has no per-phase timing and pools connections (which hides connect
//! and TLS time), so this drives the pieces directly: the system resolver,
//! a tokio TCP connect, a rustls handshake and a hyper HTTP/1.1 exchange. Each
//! phase is timed on its own; `total_ms` runs from the first DNS query to the
//! verdict, including every redirect hop and the body scan.

use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use livesite_core::net::{Cidr, Reach};
use livesite_core::ports::Prober;
use livesite_core::probe::{AddressResult, MAX_ADDRESSES};
use livesite_core::{
    FailureReason, Operator, OperatorId, Outcome, Phases, PortalCheck, ProbeResult,
};
use rustls::pki_types::{CertificateDer, ServerName};
use std::collections::HashMap;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use url::Url;

mod cpu_wait;
mod pinned;
pub use cpu_wait::CpuWait;

/// The most bytes of response head (status line and headers) read from a
/// portal. hyper's default is about 400 KB; a portal needs a few hundred
/// bytes. Past this the answer is a `protocol` failure, so a portal cannot
/// make the prober hold (or store) a huge header.
pub const MAX_RESPONSE_HEAD_BYTES: usize = 64 * 1024;

pub const USER_AGENT: &str = concat!(
    "livesite/",
    env!("CARGO_PKG_VERSION"),
    " (DYNAMO live-site monitor)"
);

/// What one check found: the probe record without the operator and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub outcome: Outcome,
    pub reason: Option<FailureReason>,
    pub status: Option<u16>,
    pub phases: Phases,
    pub redirects: u8,
    pub final_url: Url,
    pub cert_expires_at: Option<DateTime<Utc>>,
    pub detail: Option<String>,
    /// The worst the process's runtime was late while this check ran: how
    /// much of `phases` may be our own CPU queue, not the portal.
    pub cpu_wait: Duration,
    /// Each address, when the portal's name resolved to several: the
    /// verdict above is the first address that answered as expected (or the
    /// first address's failure when none did).
    pub addresses: Vec<AddressResult>,
}

impl Check {
    pub fn into_probe(self, operator: OperatorId, probed_at: DateTime<Utc>) -> ProbeResult {
        ProbeResult {
            operator,
            probed_at,
            outcome: self.outcome,
            reason: self.reason,
            status: self.status,
            latency_ms: Some(self.phases.total_ms),
            phases: Some(self.phases),
            url: Some(self.final_url.to_string()),
            redirects: self.redirects,
            cert_expires_at: self.cert_expires_at,
            detail: self.detail,
            cpu_wait_ms: Some(ms(self.cpu_wait)),
            addresses: self.addresses,
            location: None,
            slot: None,
        }
        .bounded()
    }
}

#[derive(Clone)]
pub struct HttpProber {
    tls: TlsConnector,
    /// Where a probe may connect: public portals only unless a network is
    /// trusted (every hop, the first and each redirect, is checked).
    reach: Reach,
    /// The CPU-wait heartbeat, started by the first check (it needs the
    /// runtime) and shared by every clone.
    cpu_wait: Arc<std::sync::OnceLock<CpuWait>>,
    /// Names answered here instead of by the system resolver (curl's
    /// `--resolve`): to check a portal's addresses before its DNS changes,
    /// and for tests.
    hosts: Arc<HashMap<String, Vec<IpAddr>>>,
    /// The sockets a name's further addresses may hold at once, across every
    /// check of this prober (`None`: no bound). Each check already holds one
    /// socket its caller budgets for; probing every address needs one more a
    /// further address. Without enough left the portal is probed as a single
    /// name (the first address that connects), never made to wait: a round of
    /// names with many addresses can't run the function out of descriptors.
    extra_sockets: Option<Arc<tokio::sync::Semaphore>>,
}

impl std::fmt::Debug for HttpProber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProber").finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProberSetupError {
    #[error("could not build the TLS client: {0}")]
    Tls(#[from] rustls::Error),
}

impl HttpProber {
    /// A prober that trusts the Mozilla root set (webpki-roots), so results do
    /// not depend on the host's CA bundle.
    pub fn new() -> Result<Self, ProberSetupError> {
        Self::with_extra_roots(Vec::new())
    }

    /// Also trusts the given certificates: for portals behind a private CA,
    /// and for tests.
    pub fn with_extra_roots(extra: Vec<CertificateDer<'static>>) -> Result<Self, ProberSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // A certificate that cannot be a trust anchor (an old v1 one) can
        // still be pinned below, so it is not an error here.
        let _ = roots.add_parsable_certificates(extra.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .map_err(|e| ProberSetupError::Tls(rustls::Error::General(e.to_string())))?;
        let verifier = Arc::new(pinned::PinnedOrWebPki::new(webpki, extra));
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
            reach: Reach::public_only(),
            cpu_wait: Arc::default(),
            hosts: Arc::default(),
            extra_sockets: None,
        })
    }

    /// The same prober, holding at most `n` sockets for names' further
    /// addresses at once (see `extra_sockets`).
    pub fn with_extra_sockets(mut self, n: usize) -> Self {
        self.extra_sockets = Some(Arc::new(tokio::sync::Semaphore::new(n)));
        self
    }

    /// The same prober, resolving `host` to `addresses` itself (the
    /// addresses are still checked against where a probe may go).
    pub fn resolving(mut self, host: &str, addresses: Vec<IpAddr>) -> Self {
        let mut hosts = (*self.hosts).clone();
        hosts.insert(host.to_ascii_lowercase(), addresses);
        self.hosts = Arc::new(hosts);
        self
    }

    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
        match self.hosts.get(&host.to_ascii_lowercase()) {
            Some(ips) => Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect()),
            None => resolve(host, port).await,
        }
    }

    /// The first hop's addresses, each allowed by `reach`, at most
    /// `MAX_ADDRESSES`, and how long the lookup took. `None` for a URL that
    /// names an address (or no host): the check resolves nothing then.
    async fn first_addresses(&self, url: &Url) -> Option<(Result<Vec<SocketAddr>, Failure>, f64)> {
        let host = match url.host()? {
            url::Host::Domain(d) => d.to_string(),
            _ => return None,
        };
        let port = url.port_or_known_default()?;
        let t = Instant::now();
        let found = self.resolve(&host, port).await.map(|addrs| {
            let mut allowed: Vec<SocketAddr> = Vec::new();
            for a in addrs {
                if self.reach.check(a).is_ok() && !allowed.contains(&a) {
                    allowed.push(a);
                }
            }
            allowed.truncate(MAX_ADDRESSES);
            allowed
        });
        Some((found, ms(t.elapsed())))
    }

    /// The same prober, also connecting to these trusted networks (any port):
    /// for local runs and tests; the Lambdas trust none.
    pub fn trusting(mut self, networks: impl IntoIterator<Item = Cidr>) -> Self {
        for n in networks {
            self.reach = self.reach.trusting(n);
        }
        self
    }

    /// Checks a portal once, within its overall time limit. A name that
    /// resolves to several addresses has each checked on its own, at once,
    /// with the portal's name (Host and SNI): the portal is down only when
    /// every address failed, and the record says which did.
    pub async fn check(&self, portal: &PortalCheck) -> Check {
        let cpu_wait = self.cpu_wait.get_or_init(CpuWait::start);
        let start = Instant::now();
        let (pinned, dns_ms) = match self.first_addresses(&portal.url).await {
            Some((Ok(addrs), dns_ms)) if addrs.len() > 1 => {
                match self.spare_sockets(addrs.len() - 1) {
                    Some(_held) => {
                        let checks = futures::future::join_all(
                            addrs
                                .iter()
                                .map(|a| self.check_pinned(portal, Some(vec![*a]), dns_ms, start)),
                        )
                        .await;
                        match every_address(&addrs, checks) {
                            Some(check) => {
                                return Check {
                                    cpu_wait: cpu_wait.worst_between(start, Instant::now()),
                                    ..check
                                }
                            }
                            None => (None, 0.0),
                        }
                    }
                    // No sockets to spare: one check through the addresses in turn.
                    None => (Some(addrs), dns_ms),
                }
            }
            // The lookup's failure (or an allowed list left empty) is the
            // first hop's to report, as it always was.
            Some((Ok(addrs), dns_ms)) if !addrs.is_empty() => (Some(addrs), dns_ms),
            _ => (None, 0.0),
        };
        let mut check = self.check_pinned(portal, pinned, dns_ms, start).await;
        check.cpu_wait = cpu_wait.worst_between(start, Instant::now());
        check
    }

    /// `n` more sockets, if the budget has them now (`Some(None)`: no budget);
    /// held until the value is dropped. Never waits.
    fn spare_sockets(&self, n: usize) -> Option<Option<tokio::sync::OwnedSemaphorePermit>> {
        match &self.extra_sockets {
            None => Some(None),
            Some(budget) => {
                let n = u32::try_from(n).ok()?;
                budget.clone().try_acquire_many_owned(n).ok().map(Some)
            }
        }
    }

    /// One check, its first hop connecting only to `pinned` when given
    /// (already resolved, in `dns_ms`), every later hop resolving afresh.
    async fn check_pinned(
        &self,
        portal: &PortalCheck,
        pinned: Option<Vec<SocketAddr>>,
        dns_ms: f64,
        start: Instant,
    ) -> Check {
        let mut run = Run {
            phases: Phases {
                dns_ms,
                ..Phases::default()
            },
            redirects: 0,
            url: portal.url.clone(),
            cert_expires_at: None,
            status: None,
            tasks: Vec::new(),
            pinned,
        };
        let left = portal.timeout.saturating_sub(start.elapsed());
        let verdict = tokio::time::timeout(left, run.go(self, portal)).await;
        let (reason, detail) = match verdict {
            Ok(Ok(())) => (None, None),
            Ok(Err(Failure { reason, detail })) => (Some(reason), Some(detail)),
            Err(_) => (
                Some(FailureReason::Timeout),
                Some(format!(
                    "no verdict within {} ms",
                    portal.timeout.as_millis()
                )),
            ),
        };
        run.phases.total_ms = ms(start.elapsed());
        Check {
            outcome: if reason.is_none() {
                Outcome::Up
            } else {
                Outcome::Down
            },
            reason,
            status: run.status,
            phases: run.phases,
            redirects: run.redirects,
            final_url: run.url,
            cert_expires_at: run.cert_expires_at,
            detail,
            cpu_wait: Duration::ZERO,
            addresses: Vec::new(),
        }
    }
}

/// The portal's verdict from each address's check: the first that answered
/// as expected, else the first failure; every address's outcome listed.
fn every_address(addrs: &[SocketAddr], checks: Vec<Check>) -> Option<Check> {
    let addresses = addrs
        .iter()
        .zip(&checks)
        .map(|(a, c)| AddressResult {
            address: a.ip(),
            outcome: c.outcome,
            reason: c.reason,
            latency_ms: Some(c.phases.total_ms),
        })
        .collect();
    let pick = checks
        .iter()
        .position(|c| c.outcome == Outcome::Up)
        .unwrap_or(0);
    let check = checks.into_iter().nth(pick)?;
    Some(Check { addresses, ..check })
}

impl Prober for HttpProber {
    async fn probe(&self, operator: &Operator, at: DateTime<Utc>) -> ProbeResult {
        self.check(&operator.portal)
            .await
            .into_probe(operator.id.clone(), at)
    }
}

struct Failure {
    reason: FailureReason,
    detail: String,
}

fn fail(reason: FailureReason, detail: impl std::fmt::Display) -> Failure {
    Failure {
        reason,
        detail: detail.to_string(),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// Mutable progress of one check, readable after the time limit cancels it.
struct Run {
    phases: Phases,
    redirects: u8,
    url: Url,
    cert_expires_at: Option<DateTime<Utc>>,
    status: Option<u16>,
    tasks: Vec<AbortOnDrop>,
    /// The first hop's addresses, already resolved and allowed.
    pinned: Option<Vec<SocketAddr>>,
}

impl Run {
    async fn go(&mut self, prober: &HttpProber, portal: &PortalCheck) -> Result<(), Failure> {
        loop {
            let response = self.hop(prober).await?;
            let status = response.status().as_u16();
            // hyper accepts 100-999; HTTP defines 100-599. Anything else is a
            // broken peer, recorded without a status the record can't hold.
            if !(100..=599).contains(&status) {
                return Err(fail(
                    FailureReason::Protocol,
                    format!("status {status} is not an HTTP status code"),
                ));
            }
            self.status = Some(status);
            let is_redirect = matches!(status, 301 | 302 | 303 | 307 | 308);
            if is_redirect && !portal.expect_status.contains(&status) {
                if self.redirects >= portal.max_redirects {
                    return Err(fail(
                        FailureReason::Redirect,
                        format!(
                            "more than {} redirects (last to {})",
                            portal.max_redirects, self.url
                        ),
                    ));
                }
                let location = response
                    .headers()
                    .get(hyper::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        fail(
                            FailureReason::Redirect,
                            format!("{status} without a Location header"),
                        )
                    })?;
                let next = self.url.join(location).map_err(|e| {
                    fail(
                        FailureReason::Redirect,
                        format!("bad Location {location:?}: {e}"),
                    )
                })?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(fail(
                        FailureReason::Redirect,
                        format!("redirect to unsupported {next}"),
                    ));
                }
                self.redirects += 1;
                self.url = next;
                continue;
            }
            if !portal.expect_status.contains(&status) {
                return Err(fail(
                    FailureReason::Status,
                    format!(
                        "status {status}, expected one of {:?}",
                        portal.expect_status
                    ),
                ));
            }
            return scan_body(
                response.into_body(),
                portal.expect_body.as_deref(),
                portal.body_scan_bytes,
            )
            .await;
        }
    }

    /// One request over a fresh connection.
    async fn hop(&mut self, prober: &HttpProber) -> Result<hyper::Response<Incoming>, Failure> {
        let url = self.url.clone();
        let host = url
            .host_str()
            .ok_or_else(|| fail(FailureReason::Dns, format!("{url} has no host")))?
            .to_string();
        let https = url.scheme() == "https";
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });

        let addrs = match (url.host(), self.pinned.take()) {
            (_, Some(pinned)) => pinned,
            (Some(url::Host::Ipv4(ip)), None) => vec![SocketAddr::new(ip.into(), port)],
            (Some(url::Host::Ipv6(ip)), None) => vec![SocketAddr::new(ip.into(), port)],
            _ => {
                let t = Instant::now();
                let addrs = prober.resolve(&host, port).await?;
                self.phases.dns_ms += ms(t.elapsed());
                addrs
            }
        };
        // Only the addresses checked here are connected to: the name is
        // never resolved again, so a rebinding answer can't slip through.
        let (addrs, refused): (Vec<_>, Vec<_>) = addrs
            .into_iter()
            .map(|a| prober.reach.check(a).map(|()| a))
            .partition(Result::is_ok);
        let addrs: Vec<SocketAddr> = addrs.into_iter().flatten().collect();
        if addrs.is_empty() {
            let why = refused
                .into_iter()
                .find_map(Result::err)
                .unwrap_or_else(|| "no address".into());
            return Err(fail(FailureReason::Connect, format!("{host}: {why}")));
        }

        let t = Instant::now();
        let tcp = connect(&addrs).await?;
        self.phases.connect_ms += ms(t.elapsed());
        let _ = tcp.set_nodelay(true);

        if https {
            let t = Instant::now();
            let name = ServerName::try_from(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            )
            .map_err(|e| fail(FailureReason::Tls, format!("bad server name {host:?}: {e}")))?;
            let tls = prober
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| fail(FailureReason::Tls, e))?;
            self.phases.tls_ms += ms(t.elapsed());
            if let Some(leaf) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                self.cert_expires_at = not_after(leaf);
            }
            self.exchange(tls, &url, &host).await
        } else {
            self.exchange(tcp, &url, &host).await
        }
    }

    async fn exchange<S>(
        &mut self,
        stream: S,
        url: &Url,
        host: &str,
    ) -> Result<hyper::Response<Incoming>, Failure>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .max_buf_size(MAX_RESPONSE_HEAD_BYTES)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| fail(FailureReason::Protocol, e))?;
        let task = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        };
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let request = hyper::Request::get(if path.is_empty() { "/" } else { path })
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .header(hyper::header::ACCEPT, "*/*")
            .header(hyper::header::CONNECTION, "close")
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .map_err(|e| fail(FailureReason::Protocol, e))?;
        let t = Instant::now();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| fail(FailureReason::Protocol, e))?;
        self.phases.ttfb_ms += ms(t.elapsed());
        self.tasks.push(task);
        Ok(response)
    }
}

/// Aborts the connection task when the check ends, however it ends (verdict,
/// failure or the time limit dropping it), so no socket outlives its check.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| fail(FailureReason::Dns, format!("{host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(fail(FailureReason::Dns, format!("{host}: no addresses")));
    }
    Ok(addrs)
}

async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(format!("{addr}: {e}")),
        }
    }
    Err(fail(
        FailureReason::Connect,
        last.unwrap_or_else(|| "no address".into()),
    ))
}

fn not_after(cert: &CertificateDer<'_>) -> Option<DateTime<Utc>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Utc.timestamp_opt(parsed.validity().not_after.timestamp(), 0)
        .single()
}

/// Reads at most `cap` bytes of the body, looking for `expect`; stops as soon
/// as it is found, so a huge body costs only its prefix. Linear in the bytes
/// read, and it keeps only the last `expect.len() - 1` bytes between frames
/// (a match may straddle two), so memory does not grow with `cap`.
async fn scan_body(mut body: Incoming, expect: Option<&str>, cap: usize) -> Result<(), Failure> {
    let needle = expect.map(str::as_bytes).unwrap_or_default();
    let keep = needle.len().saturating_sub(1);
    let mut tail: Vec<u8> = Vec::with_capacity(keep * 2);
    let mut read = 0usize;
    // Without expected text the body is still read (to the cap): its
    // download time is part of the latency, and a broken body is a failure.
    while read < cap {
        match body.frame().await {
            None => break,
            Some(Err(e)) => return Err(fail(FailureReason::Protocol, format!("body: {e}"))),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let take = &data[..data.len().min(cap - read)];
                    read += take.len();
                    // Search the carried tail plus the new bytes' head, then
                    // the new bytes alone: each byte is compared O(needle) times.
                    let head = &take[..take.len().min(keep)];
                    tail.extend_from_slice(head);
                    if !needle.is_empty() && (contains(&tail, needle) || contains(take, needle)) {
                        return Ok(());
                    }
                    let rest = &take[head.len()..];
                    if rest.len() >= keep {
                        tail.clear();
                        tail.extend_from_slice(&rest[rest.len() - keep..]);
                    } else {
                        tail.extend_from_slice(rest);
                        let excess = tail.len().saturating_sub(keep);
                        tail.drain(..excess);
                    }
                }
            }
        }
    }
    if needle.is_empty() {
        return Ok(());
    }
    Err(fail(
        FailureReason::Body,
        format!(
            "{:?} not found in the first {read} bytes of the body",
            String::from_utf8_lossy(needle)
        ),
    ))
}

/// Substring search (memchr's two-way search: linear in the haystack).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}
