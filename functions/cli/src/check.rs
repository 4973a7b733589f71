//! `livesite check`: what a mobile operator runs to validate its portal.

use crate::Failure;
use anyhow::anyhow;
use chrono::Utc;
use livesite_core::{Outcome, PortalCheck};
use livesite_prober::{Check, HttpProber};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// The contract's latency SLA for the MO Direct portal (the policy's default).
fn latency_sla_ms() -> u64 {
    livesite_core::Policy::default().latency_sla_ms
}

fn within_sla(c: &Check) -> bool {
    livesite_core::probe::meets_latency_sla(c.outcome, Some(c.phases.total_ms), latency_sla_ms())
}

#[derive(clap::Args)]
pub struct Args {
    /// The portal URL (http:// or https://), or host[:port]: https, or http
    /// when a port other than 443 is named.
    url: String,
    /// An expected status code; repeat for several (default 200).
    #[arg(long = "expect-status")]
    expect_status: Vec<u16>,
    /// Text that must appear in the body.
    #[arg(long = "expect-body")]
    expect_body: Option<String>,
    /// Overall time limit in seconds.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Most redirects to follow.
    #[arg(long = "max-redirects", default_value_t = 5)]
    max_redirects: u8,
    /// Also trust the certificates in this PEM file: a private CA, or the
    /// portal's own self-signed certificate (accepted when presented exactly).
    #[arg(long = "ca-cert")]
    ca_cert: Option<PathBuf>,
    /// A network (CIDR) the probe may reach besides public portals on ports
    /// 80 and 443, e.g. 127.0.0.0/8 for a portal on this machine; repeatable.
    #[arg(long = "trust-net")]
    trust_net: Vec<livesite_core::net::Cidr>,
    /// Resolve HOST to ADDR instead of asking DNS (curl's `--resolve`);
    /// repeat for several addresses of one name: each is probed.
    #[arg(long = "resolve", value_name = "HOST:ADDR", value_parser = resolve_arg)]
    resolve: Vec<(String, std::net::IpAddr)>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The URL to check: as given with its scheme, or a bare `host[:port][/path]`
/// read as `https://` (portals are served over TLS), or as `http://` when it
/// names a port other than 443 (`127.0.0.1:8099`, a lab portal).
pub fn portal_url(arg: &str) -> Result<url::Url, String> {
    let url = if arg.contains("://") {
        url::Url::parse(arg).map_err(|e| e.to_string())?
    } else {
        let plain = url::Url::parse(&format!("http://{arg}")).map_err(|e| e.to_string())?;
        match plain.port() {
            Some(p) if p != 443 => plain,
            _ => url::Url::parse(&format!("https://{arg}")).map_err(|e| e.to_string())?,
        }
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("expected http:// or https:// with a host, or host:port".into());
    }
    Ok(url)
}

/// What to try when the probe's guard refused every address of the portal:
/// the network to name with `--trust-net` (this machine's loopback, or the
/// address itself).
fn trust_hint(c: &Check) -> Option<String> {
    let detail = c.detail.as_deref()?;
    if !detail.ends_with("(refused)") {
        return None;
    }
    let ip = detail
        .split_whitespace()
        .find_map(|w| w.parse::<std::net::IpAddr>().ok())?;
    let net = match ip {
        std::net::IpAddr::V4(v4) if v4.is_loopback() => "127.0.0.0/8".to_string(),
        std::net::IpAddr::V4(v4) => format!("{v4}/32"),
        std::net::IpAddr::V6(v6) => format!("{v6}/128"),
    };
    Some(format!(
        "  the probe reaches only public portals on ports 80 and 443; to check this one, add --trust-net {net}\n"
    ))
}

fn resolve_arg(s: &str) -> Result<(String, std::net::IpAddr), String> {
    let (host, addr) = s
        .split_once(':')
        .ok_or_else(|| format!("expected HOST:ADDR, got {s:?}"))?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let ip = addr
        .parse()
        .map_err(|e| format!("{addr:?} is not an IP address: {e}"))?;
    Ok((host.to_string(), ip))
}

pub async fn run(args: Args) -> Result<u8, Failure> {
    let url =
        portal_url(&args.url).map_err(|e| Failure::input(anyhow!("URL {:?}: {e}", args.url)))?;
    if !(args.timeout > 0.0 && args.timeout <= 60.0) {
        return Err(Failure::input(anyhow!(
            "--timeout: expected seconds between 0 and 60, got {}",
            args.timeout
        )));
    }
    if let Some(bad) = args
        .expect_status
        .iter()
        .find(|s| !(100..=599).contains(*s))
    {
        return Err(Failure::input(anyhow!(
            "--expect-status: {bad} is not an HTTP status code"
        )));
    }
    let mut portal = PortalCheck::new(url);
    if !args.expect_status.is_empty() {
        portal.expect_status = args.expect_status.clone();
    }
    portal.expect_body = args.expect_body.clone().filter(|b| !b.is_empty());
    portal.timeout = Duration::from_secs_f64(args.timeout);
    portal.max_redirects = args.max_redirects;

    let extra = ca_certs(args.ca_cert.as_deref())?;
    let mut prober = HttpProber::with_extra_roots(extra)
        .map_err(Failure::input)?
        .trusting(args.trust_net.iter().copied());
    let mut names: Vec<(&str, Vec<std::net::IpAddr>)> = Vec::new();
    for (host, ip) in &args.resolve {
        match names.iter_mut().find(|(h, _)| h == host) {
            Some((_, ips)) => ips.push(*ip),
            None => names.push((host, vec![*ip])),
        }
    }
    for (host, ips) in names {
        prober = prober.resolving(host, ips);
    }
    let probed_at = Utc::now();
    let check = prober.check(&portal).await;
    if args.json {
        println!("{}", to_json(&check, probed_at));
    } else {
        print!("{}", to_text(&check));
    }
    Ok(if check.outcome == Outcome::Up { 0 } else { 1 })
}

/// The certificates of `--ca-cert`: trusted as roots, and each accepted as
/// a portal's own certificate when presented exactly (a self-signed one).
pub fn ca_certs(path: Option<&std::path::Path>) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let Some(path) = path else {
        return Ok(vec![]);
    };
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            Failure::input(anyhow!(
                "{}: cannot read PEM certificates: {e}",
                path.display()
            ))
        })
}

pub fn to_json(c: &Check, probed_at: chrono::DateTime<Utc>) -> serde_json::Value {
    json!({
        "outcome": c.outcome,
        "reason": c.reason,
        "detail": c.detail,
        "status": c.status,
        "latency_ms": c.phases.total_ms,
        "within_latency_sla": within_sla(c),
        "latency_sla_ms": latency_sla_ms(),
        "phases": c.phases,
        "url": c.final_url.as_str(),
        "redirects": c.redirects,
        "cert_expires_at": c.cert_expires_at,
        "addresses": c.addresses,
        "probed_at": probed_at,
        "hint": trust_hint(c).map(|h| h.trim().to_string()),
    })
}

fn to_text(c: &Check) -> String {
    let p = &c.phases;
    let verdict = match c.outcome {
        Outcome::Up => "UP".to_string(),
        Outcome::Down => format!("DOWN ({})", c.reason.map_or("unknown", |r| r.as_str())),
    };
    let status = c.status.map_or("-".to_string(), |s| s.to_string());
    let sla_ms = latency_sla_ms();
    let sla = if within_sla(c) {
        format!("within the {sla_ms} ms SLA")
    } else if c.outcome == Outcome::Up {
        format!("OVER the {sla_ms} ms SLA")
    } else {
        "no expected response".to_string()
    };
    let mut s = format!(
        "{verdict}  {}  status {status}  {:.1} ms ({sla})\n  dns {:.1} ms · connect {:.1} ms · tls {:.1} ms · first byte {:.1} ms · total {:.1} ms\n",
        c.final_url, p.total_ms, p.dns_ms, p.connect_ms, p.tls_ms, p.ttfb_ms, p.total_ms
    );
    if c.redirects > 0 {
        s += &format!("  followed {} redirect(s)\n", c.redirects);
    }
    if let Some(exp) = c.cert_expires_at {
        s += &format!(
            "  certificate expires {} ({} days)\n",
            exp.format("%Y-%m-%d"),
            (exp - Utc::now()).num_days()
        );
    }
    if let Some(d) = &c.detail {
        s += &format!("  {d}\n");
    }
    s += &trust_hint(c).unwrap_or_default();
    for a in &c.addresses {
        s += &format!(
            "  address {:<39}  {}  {}\n",
            a.address,
            match a.outcome {
                Outcome::Up => "UP  ".to_string(),
                Outcome::Down => format!("DOWN ({})", a.reason.map_or("unknown", |r| r.as_str())),
            },
            a.latency_ms.map_or("-".into(), |ms| format!("{ms:.1} ms")),
        );
    }
    s
}
