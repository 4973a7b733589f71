//! The prober against real servers on 127.0.0.1, one test per outcome it must
//! tell apart.

use livesite_core::{FailureReason, Outcome, PortalCheck};
use livesite_prober::{Check, HttpProber, USER_AGENT};
use livesite_tests::portal::{self, Behavior, TestPki};
use std::time::{Duration, Instant};

fn check_of(url: &str) -> PortalCheck {
    let mut c = PortalCheck::new(url.parse().expect("url"));
    c.timeout = Duration::from_secs(2);
    c
}

async fn probe(c: &PortalCheck) -> Check {
    portal::local_prober().check(c).await
}

fn ok(body: &str) -> Behavior {
    Behavior::Respond {
        status: 200,
        body: body.into(),
    }
}

#[tokio::test]
async fn ok_response_is_up_with_phases() {
    let p = portal::spawn(ok("Welcome to MO Direct")).await;
    let mut c = check_of(&p.http_url("/modirect?x=1"));
    c.expect_body = Some("MO Direct".into());
    let r = probe(&c).await;
    assert_eq!(
        (r.outcome, r.reason, r.status),
        (Outcome::Up, None, Some(200)),
        "{r:?}"
    );
    assert_eq!(r.phases.dns_ms, 0.0, "an IP literal needs no DNS");
    assert_eq!(r.phases.tls_ms, 0.0, "plain http has no TLS");
    assert!(
        r.phases.connect_ms > 0.0 && r.phases.ttfb_ms > 0.0,
        "{:?}",
        r.phases
    );
    assert!(
        r.phases.total_ms >= r.phases.connect_ms + r.phases.ttfb_ms,
        "{:?}",
        r.phases
    );
    assert_eq!(p.hits(), 1);
}

#[tokio::test]
async fn host_names_are_resolved_and_timed() {
    let p = portal::spawn(ok("fine")).await;
    let r = probe(&check_of(&format!("http://localhost:{}/", p.port))).await;
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    assert!(r.phases.dns_ms > 0.0, "{:?}", r.phases);
}

#[tokio::test]
async fn unexpected_status_is_down_status() {
    let p = portal::spawn(Behavior::Respond {
        status: 503,
        body: "busy".into(),
    })
    .await;
    let r = probe(&check_of(&p.http_url("/"))).await;
    assert_eq!(
        (r.outcome, r.reason, r.status),
        (Outcome::Down, Some(FailureReason::Status), Some(503))
    );
    // The same status is fine when it is the expected one.
    let mut c = check_of(&p.http_url("/"));
    c.expect_status = vec![200, 503];
    assert_eq!(probe(&c).await.outcome, Outcome::Up);
}

#[tokio::test]
async fn missing_body_text_is_down_body() {
    let p = portal::spawn(ok("<html>Service maintenance page</html>")).await;
    let mut c = check_of(&p.http_url("/"));
    c.expect_body = Some("Choose your data plan".into());
    let r = probe(&c).await;
    assert_eq!(
        (r.outcome, r.reason, r.status),
        (Outcome::Down, Some(FailureReason::Body), Some(200))
    );
    assert!(r
        .detail
        .unwrap_or_default()
        .contains("Choose your data plan"));
}

#[tokio::test]
async fn refused_connection_is_down_connect() {
    let port = portal::refused_port().await;
    let r = probe(&check_of(&format!("http://127.0.0.1:{port}/"))).await;
    assert_eq!(
        (r.outcome, r.reason, r.status),
        (Outcome::Down, Some(FailureReason::Connect), None)
    );
}

#[tokio::test]
async fn unresolvable_host_is_down_dns() {
    let r = probe(&check_of("http://portal.livesite-test.invalid/")).await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Down, Some(FailureReason::Dns)),
        "{r:?}"
    );
}

#[tokio::test]
async fn silent_server_is_down_timeout_within_the_limit() {
    let p = portal::spawn(Behavior::Silent).await;
    let mut c = check_of(&p.http_url("/"));
    c.timeout = Duration::from_millis(500);
    let started = Instant::now();
    let r = probe(&c).await;
    let took = started.elapsed();
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Down, Some(FailureReason::Timeout))
    );
    assert!(
        took < Duration::from_secs(2),
        "the hard limit holds: {took:?}"
    );
    assert!(r.phases.total_ms >= 500.0, "{:?}", r.phases);
    assert!(
        r.phases.connect_ms > 0.0,
        "phases reached before the limit are kept"
    );
}

#[tokio::test]
async fn slow_headers_time_out_but_pass_with_a_longer_limit() {
    let p = portal::spawn(Behavior::SlowHeaders(Duration::from_millis(700))).await;
    let mut c = check_of(&p.http_url("/"));
    c.timeout = Duration::from_millis(300);
    assert_eq!(probe(&c).await.reason, Some(FailureReason::Timeout));
    c.timeout = Duration::from_secs(3);
    let r = probe(&c).await;
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    assert!(
        r.phases.ttfb_ms >= 650.0,
        "first byte waits for the headers: {:?}",
        r.phases
    );
}

#[tokio::test]
async fn redirect_loop_is_down_redirect_after_the_limit() {
    let p = portal::spawn(Behavior::RedirectLoop).await;
    let mut c = check_of(&p.http_url("/a"));
    c.max_redirects = 3;
    let r = probe(&c).await;
    assert_eq!(
        (r.outcome, r.reason, r.redirects),
        (Outcome::Down, Some(FailureReason::Redirect), 3)
    );
    assert_eq!(
        p.hits(),
        4,
        "the first request and three redirects, each on a fresh connection"
    );
}

#[tokio::test]
async fn one_redirect_is_followed() {
    let p = portal::spawn(Behavior::RedirectOnce {
        body: "plans".into(),
    })
    .await;
    let mut c = check_of(&p.http_url("/start"));
    c.expect_body = Some("plans".into());
    let r = probe(&c).await;
    assert_eq!((r.outcome, r.redirects), (Outcome::Up, 1), "{r:?}");
    assert_eq!(r.final_url.path(), "/final");
}

#[tokio::test]
async fn self_signed_certificate_is_down_tls() {
    let pki = TestPki::self_signed();
    let p = portal::spawn_tls(ok("secret"), &pki).await;
    let r = probe(&check_of(&p.https_url("/"))).await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Down, Some(FailureReason::Tls)),
        "{r:?}"
    );
}

#[tokio::test]
async fn trusted_tls_is_up_with_tls_time_and_certificate_expiry() {
    let pki = TestPki::new();
    let p = portal::spawn_tls(ok("MO Direct over TLS"), &pki).await;
    let prober = HttpProber::with_extra_roots(vec![pki.ca.clone()])
        .expect("prober")
        .trusting(portal::loopback());
    let mut c = check_of(&p.https_url("/"));
    c.expect_body = Some("over TLS".into());
    let r = prober.check(&c).await;
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    assert!(r.phases.tls_ms > 0.0, "{:?}", r.phases);
    let expires = r.cert_expires_at.expect("certificate expiry recorded");
    assert!(
        expires.timestamp() > chrono::Utc::now().timestamp(),
        "{expires}"
    );
}

#[tokio::test]
async fn a_self_signed_certificate_given_with_ca_cert_is_the_portals_own() {
    // `openssl req -x509` marks its certificate as a CA; as a trust anchor
    // alone the handshake fails (`CaUsedAsEndEntity`). Given to the prober,
    // exactly that certificate is accepted, and nothing else is.
    let pki = TestPki::self_signed_ca_style();
    let p = portal::spawn_tls(ok("lab portal"), &pki).await;
    let pinned = HttpProber::with_extra_roots(vec![pki.ca.clone()])
        .expect("prober")
        .trusting(portal::loopback());
    let r = pinned.check(&check_of(&p.https_url("/"))).await;
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    assert!(r.cert_expires_at.is_some(), "{r:?}");

    let other = TestPki::self_signed_ca_style();
    let not_pinned = HttpProber::with_extra_roots(vec![other.ca.clone()])
        .expect("prober")
        .trusting(portal::loopback());
    let r = not_pinned.check(&check_of(&p.https_url("/"))).await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Down, Some(FailureReason::Tls)),
        "another self-signed certificate is not this one: {r:?}"
    );
}

#[tokio::test]
async fn huge_body_is_scanned_only_up_to_the_cap() {
    let p = portal::spawn(Behavior::HugeBody {
        bytes: 8 * 1024 * 1024,
        marker: "THE-END".into(),
    })
    .await;
    let mut c = check_of(&p.http_url("/"));
    c.expect_body = Some("THE-END".into());
    c.body_scan_bytes = 64 * 1024;
    let started = Instant::now();
    let r = probe(&c).await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Down, Some(FailureReason::Body)),
        "{r:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // Text early in a huge body is found without reading the rest.
    let p = portal::spawn(Behavior::HugeBody {
        bytes: 0,
        marker: "early".into(),
    })
    .await;
    let mut c = check_of(&p.http_url("/"));
    c.expect_body = Some("early".into());
    assert_eq!(probe(&c).await.outcome, Outcome::Up);
}

#[tokio::test]
async fn user_agent_names_livesite() {
    assert!(USER_AGENT.starts_with("livesite/"), "{USER_AGENT}");
}

/// Whatever a portal answers, the record it makes is one a store keeps and
/// the evaluator accepts: that is what stops one portal from stalling the
/// shared stream or failing a shared batch write.
fn assert_storable(r: Check) -> livesite_core::ProbeResult {
    let p = r.into_probe(
        livesite_core::OperatorId::new("contoso").expect("id"),
        chrono::Utc::now(),
    );
    assert_eq!(p.validate(), Ok(()), "{p:?}");
    p
}

#[tokio::test]
async fn a_status_outside_http_is_a_protocol_failure_without_a_status() {
    let p = portal::spawn(Behavior::Respond {
        status: 999,
        body: "MO Direct".into(),
    })
    .await;
    let mut c = check_of(&p.http_url("/"));
    c.expect_status = vec![200];
    let r = probe(&c).await;
    assert_eq!(
        (r.outcome, r.reason, r.status),
        (Outcome::Down, Some(FailureReason::Protocol), None),
        "{r:?}"
    );
    assert_storable(r);
}

#[tokio::test]
async fn a_huge_response_head_is_a_protocol_failure_and_the_record_stays_small() {
    let p = portal::spawn(Behavior::LongRedirect { bytes: 300 * 1024 }).await;
    let r = probe(&check_of(&p.http_url("/"))).await;
    assert_eq!(
        (r.outcome, r.reason),
        (Outcome::Down, Some(FailureReason::Protocol)),
        "{r:?}"
    );
    let stored = assert_storable(r);
    let size = serde_json::to_string(&stored).expect("json").len();
    assert!(size <= 1024, "{size} bytes");
}

#[tokio::test]
async fn a_long_redirect_under_the_head_cap_is_followed_and_its_url_cut_to_the_bound() {
    let p = portal::spawn(Behavior::LongRedirect { bytes: 20 * 1024 }).await;
    let r = probe(&check_of(&p.http_url("/"))).await;
    assert_eq!((r.outcome, r.redirects), (Outcome::Up, 1), "{r:?}");
    let stored = assert_storable(r);
    let url = stored.url.expect("url");
    assert_eq!(
        url.len(),
        livesite_core::probe::MAX_URL_BYTES,
        "{}",
        url.len()
    );
    assert!(url.ends_with('…'));
}

#[tokio::test]
async fn expected_text_split_across_two_reads_is_found() {
    let p = portal::spawn(Behavior::SplitBody {
        first: format!("{}Welcome to MO Di", "x".repeat(10_000)),
        second: "rect, subscriber".into(),
    })
    .await;
    let mut c = check_of(&p.http_url("/"));
    c.expect_body = Some("MO Direct".into());
    let r = probe(&c).await;
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    c.expect_body = Some("MO Directory".into());
    let r = probe(&c).await;
    assert_eq!(r.reason, Some(FailureReason::Body), "{r:?}");
}

/// The prober goes only where a public portal may be: every hop (the first
/// URL and each redirect) is checked before any connection.
#[tokio::test]
async fn a_portal_cannot_point_the_prober_at_internal_addresses() {
    let public_only = HttpProber::new().expect("prober");
    let target = portal::spawn(ok("internal secret")).await;
    // The URL itself, an IP literal or a name that resolves to loopback.
    for url in [
        target.http_url("/"),
        format!("http://localhost:{}/", target.port),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[::1]:9001/2018-06-01/runtime/invocation/next".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://[::ffff:127.0.0.1]/".to_string(),
    ] {
        let r = public_only.check(&check_of(&url)).await;
        assert_eq!(
            (r.outcome, r.reason),
            (Outcome::Down, Some(FailureReason::Connect)),
            "{url}: {r:?}"
        );
        assert!(
            r.detail.as_deref().unwrap_or("").contains("refused"),
            "{url}: {:?}",
            r.detail
        );
    }
    // A public address on a port other than 80/443 (no connection is tried).
    let r = public_only
        .check(&check_of("http://93.184.216.34:9001/"))
        .await;
    assert!(
        r.detail
            .as_deref()
            .unwrap_or("")
            .contains("not a portal port"),
        "{r:?}"
    );
    assert_eq!(target.hits(), 0, "nothing reached the internal server");

    // A trusted portal that redirects into an untrusted internal address.
    let trusting_one = HttpProber::new()
        .expect("prober")
        .trusting(["127.0.0.1".parse().expect("cidr")]);
    let redirector = portal::spawn(Behavior::RedirectTo(
        "http://169.254.169.254/latest/meta-data/".into(),
    ))
    .await;
    let r = trusting_one
        .check(&check_of(&redirector.http_url("/")))
        .await;
    assert_eq!(r.reason, Some(FailureReason::Connect), "{r:?}");
    assert_eq!((r.redirects, redirector.hits()), (1, 1));
    assert!(
        r.detail.as_deref().unwrap_or("").contains("link-local"),
        "{r:?}"
    );
    // And into 127.0.0.2, outside the one trusted address.
    let redirector = portal::spawn(Behavior::RedirectTo(format!(
        "http://127.0.0.2:{}/",
        target.port
    )))
    .await;
    let r = trusting_one
        .check(&check_of(&redirector.http_url("/")))
        .await;
    assert_eq!(r.reason, Some(FailureReason::Connect), "{r:?}");
    assert_eq!(target.hits(), 0);
}

/// The probe's clock includes the prober's own CPU queue: a runtime kept
/// from running (here blocked outright, on Lambda a used-up CPU share) is
/// charged to the check as CPU wait, and its latency is then not trusted.
#[tokio::test]
async fn time_the_prober_could_not_run_is_reported_as_cpu_wait() {
    let p = portal::spawn(Behavior::SlowHeaders(Duration::from_millis(300))).await;
    let c = check_of(&p.http_url("/"));
    let blocker = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The test's runtime has one thread: nothing else runs meanwhile.
        std::thread::sleep(Duration::from_millis(150));
    });
    let r = probe(&c).await;
    blocker.await.expect("blocker");
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    assert!(r.cpu_wait >= Duration::from_millis(100), "{:?}", r.cpu_wait);
    let record = r.into_probe(
        livesite_core::OperatorId::new("contoso").unwrap(),
        chrono::Utc::now(),
    );
    assert_eq!(record.trusted_latency_ms(), None, "{record:?}");

    // Nothing blocked: the same check owes nothing to its own process.
    let r = probe(&c).await;
    assert!(r.cpu_wait < Duration::from_millis(100), "{:?}", r.cpu_wait);
}

/// Every address behind a name is probed on its own, with the portal's name
/// (Host and SNI): one dead address of two is recorded as such while the
/// portal answers; the portal is down only when every address failed.
#[tokio::test]
async fn every_address_behind_a_name_is_probed_with_the_portals_name() {
    use livesite_core::probe::AddressResult;
    use std::net::IpAddr;
    let p = portal::spawn(ok("MO Direct")).await;
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    let url = format!("http://portal.test:{}/", p.port);
    // (addresses the name resolves to, outcome, each address's outcome, hits)
    let cases = [
        (
            vec!["127.0.0.1", "127.0.0.2"],
            Outcome::Up,
            vec![Outcome::Up, Outcome::Down],
            1,
        ),
        (
            vec!["127.0.0.2", "127.0.0.1"],
            Outcome::Up,
            vec![Outcome::Down, Outcome::Up],
            2,
        ),
        (
            vec!["127.0.0.2", "127.0.0.3"],
            Outcome::Down,
            vec![Outcome::Down, Outcome::Down],
            2,
        ),
        // One address: no list, as before.
        (vec!["127.0.0.1"], Outcome::Up, vec![], 3),
    ];
    for (addrs, outcome, each, hits) in cases {
        let prober =
            portal::local_prober().resolving("portal.test", addrs.iter().map(|a| ip(a)).collect());
        let r = prober.check(&check_of(&url)).await;
        assert_eq!(r.outcome, outcome, "{addrs:?}: {r:?}");
        let got: Vec<(IpAddr, Outcome)> = r
            .addresses
            .iter()
            .map(|a: &AddressResult| (a.address, a.outcome))
            .collect();
        let want: Vec<(IpAddr, Outcome)> = addrs.iter().map(|a| ip(a)).zip(each).collect();
        assert_eq!(got, if want.len() > 1 { want } else { vec![] }, "{addrs:?}");
        for a in r.addresses.iter().filter(|a| a.outcome == Outcome::Down) {
            assert_eq!(a.reason, Some(FailureReason::Connect), "{a:?}");
        }
        assert_eq!(
            p.hits(),
            hits,
            "the live address answered once per check: {addrs:?}"
        );
        if outcome == Outcome::Down {
            assert_eq!(r.reason, Some(FailureReason::Connect));
        }
    }
    // The record keeps the list, and a name with too many addresses is cut.
    let many: Vec<IpAddr> = (1..=12).map(|i| ip(&format!("127.0.0.{i}"))).collect();
    let r = portal::local_prober()
        .resolving("portal.test", many)
        .check(&check_of(&url))
        .await;
    assert_eq!(r.addresses.len(), livesite_core::probe::MAX_ADDRESSES);
    let record = r.into_probe(
        livesite_core::OperatorId::new("contoso").expect("id"),
        chrono::Utc::now(),
    );
    record.validate().expect("a valid record");
    assert_eq!(record.addresses.len(), livesite_core::probe::MAX_ADDRESSES);
}

/// Over TLS each address is asked for the portal's name: the certificate
/// for `localhost` verifies on the address that answers.
#[tokio::test]
async fn every_address_is_asked_for_the_portals_name_over_tls() {
    let pki = TestPki::new();
    let p = portal::spawn_tls(ok("MO Direct over TLS"), &pki).await;
    let prober = HttpProber::with_extra_roots(vec![pki.ca.clone()])
        .expect("prober")
        .trusting(portal::loopback())
        .resolving(
            "localhost",
            vec![
                "127.0.0.2".parse().expect("ip"),
                "127.0.0.1".parse().expect("ip"),
            ],
        );
    let r = prober.check(&check_of(&p.https_url("/"))).await;
    assert_eq!(r.outcome, Outcome::Up, "{r:?}");
    assert!(
        r.cert_expires_at.is_some() && r.phases.tls_ms > 0.0,
        "{r:?}"
    );
    assert_eq!(
        r.addresses.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [Outcome::Down, Outcome::Up]
    );
}

/// The sockets for a name's further addresses are budgeted across a round
/// (Lambda's 1,024 open files): with none to spare, a name with several
/// addresses is probed as one name, through its addresses in turn, never
/// made to wait; with one to spare, both of two addresses are probed.
#[tokio::test]
async fn a_names_further_addresses_take_sockets_only_from_the_budget() {
    let p = portal::spawn(ok("MO Direct")).await;
    let url = format!("http://portal.test:{}/", p.port);
    let addrs = vec![
        "127.0.0.2".parse().expect("ip"),
        "127.0.0.1".parse().expect("ip"),
    ];
    // (budget, addresses listed)
    for (budget, listed) in [(0, 0), (1, 2)] {
        let prober = portal::local_prober()
            .with_extra_sockets(budget)
            .resolving("portal.test", addrs.clone());
        let r = prober.check(&check_of(&url)).await;
        assert_eq!(
            (r.outcome, r.addresses.len()),
            (Outcome::Up, listed),
            "budget {budget}: {r:?}"
        );
    }
    assert_eq!(
        livesite_probe_fn::extra_sockets(livesite_probe_fn::DEFAULT_CONCURRENCY),
        60
    );
    assert_eq!(livesite_probe_fn::extra_sockets(1000), 0);
}

/// Each probe answers the slot its schedule fired for (docs/rules.md, "Slots").
mod slots {
    use chrono::{DateTime, Utc};
    use livesite_probe_fn::slot_of_event;
    use serde_json::{json, Value};
    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    /// A round answers the slot its schedule fired for, however late it
    /// runs; the second round answers the slot the first handed it.
    #[test]
    fn a_round_answers_the_slot_it_was_scheduled_for() {
        let late = utc("2026-11-27T10:00:31.400Z");
        let second = |body: &str| json!({"Records": [{"eventSource": "aws:sqs", "body": body}]});
        // (event, now, slot)
        let table = [
            (
                json!({"scheduled_time": "2026-11-27T10:00:00Z"}),
                late,
                "2026-11-27T10:00:00Z",
            ),
            (
                json!({"scheduled_time": "2026-11-27T10:00:17Z"}),
                late,
                "2026-11-27T10:00:00Z",
            ),
            (
                json!({"time": "2026-11-27T10:00:00Z", "source": "aws.scheduler"}),
                late,
                "2026-11-27T10:00:00Z",
            ),
            (json!({}), late, "2026-11-27T10:00:30Z"),
            (
                json!({"scheduled_time": "not a time"}),
                late,
                "2026-11-27T10:00:30Z",
            ),
            (
                second(
                    r#"{"round":2,"after":"2026-11-27T10:00:00.4Z","slot":"2026-11-27T10:00:30Z"}"#,
                ),
                utc("2026-11-27T10:01:02Z"),
                "2026-11-27T10:00:30Z",
            ),
            (
                second(r#"{"round":2}"#),
                utc("2026-11-27T10:01:02Z"),
                "2026-11-27T10:01:00Z",
            ),
            (
                second("garbage"),
                utc("2026-11-27T10:01:02Z"),
                "2026-11-27T10:01:00Z",
            ),
        ];
        for (event, now, want) in table {
            assert_eq!(slot_of_event(&event, now), utc(want), "{event}");
        }
        // The events shipped for `cargo lambda invoke` carry their slots.
        for (file, want) in [
            ("schedule.json", "2026-11-27T10:00:00Z"),
            ("second-round.json", "2026-11-27T10:00:30Z"),
        ] {
            let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
            let event: Value =
                serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("json");
            assert_eq!(slot_of_event(&event, late), utc(want), "{file}");
        }
    }
}
