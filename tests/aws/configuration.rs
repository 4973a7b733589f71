//! What the functions are given: sample events, SDK configuration, settings.

use super::*;

fn sample_event(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample event")).expect("json")
}

#[test]
fn the_sample_events_are_what_the_functions_expect() {
    use livesite_probe_fn::{round_of, Round};
    assert_eq!(round_of(&sample_event("schedule.json")), Round::First);
    assert_eq!(round_of(&sample_event("second-round.json")), Round::Second);
    for name in ["stream-batch.json", "stream-batch-malformed.json"] {
        let event: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(sample_event(name)).expect("a DynamoDB stream event");
        let readable = event
            .records
            .iter()
            .filter(|r| livesite_evaluate_fn::probe_of(r).is_ok())
            .count();
        assert_eq!(
            (event.records.len(), readable),
            if name == "stream-batch.json" {
                (3, 3)
            } else {
                (4, 3)
            },
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_malformed_sample_batch_skips_its_bad_record_without_a_retry() {
    let p = Pipeline::new("sample").await;
    let event = serde_json::from_value(sample_event("stream-batch-malformed.json")).expect("event");
    let failures = p.evaluate(event).await;
    assert_eq!(failures, Vec::<String>::new());
}

/// The functions' SDK client trusts the compiled-in roots, handed to it as
/// PEM: every one must decode to the certificate it came from, or every AWS
/// call would fail its TLS handshake in production.
#[test]
fn the_sdk_trusts_every_compiled_in_root() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let pems = livesite_aws::settings::root_pems();
    assert!(pems.len() > 100, "{}", pems.len());
    let mut store = rustls::RootCertStore::empty();
    for pem in &pems {
        let der = CertificateDer::from_pem_slice(pem).expect("valid PEM");
        store.add(der).expect("a valid root certificate");
    }
    assert_eq!(store.len(), pems.len());
}

/// The functions' own configuration (their HTTPS client included) talks to
/// the emulator like the tests' does.
#[tokio::test(flavor = "multi_thread")]
async fn the_functions_sdk_configuration_reaches_the_emulator() {
    let stack = Stack::new("own-config").await;
    // Only this configuration reads these: the tests' own set theirs.
    std::env::set_var("AWS_ENDPOINT_URL", livesite_tests::emulator::endpoint());
    std::env::set_var("AWS_REGION", "us-east-1");
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    let config = livesite_aws::settings::aws_config().await;
    // One table by name: a list is paged at 100, and a long-lived emulator
    // holds more.
    let table = aws_sdk_dynamodb::Client::new(&config)
        .describe_table()
        .table_name(&stack.tables.state)
        .send()
        .await
        .expect("describe the state table");
    assert_eq!(
        table.table().and_then(|t| t.table_name()),
        Some(stack.tables.state.as_str())
    );
    // The notifier the functions build makes its SNS and SES clients on first
    // use: a page and an email through it arrive.
    use livesite_core::ports::Notifier;
    let settings = livesite_aws::Settings {
        tables: stack.tables.clone(),
        topic_arn: stack.topic_arn.clone(),
        mail_configuration_set: Some(stack.configuration_set.clone()),
        team: stack.team(),
        policy: Policy::default(),
        team_clients: vec![],
        probe: livesite_aws::settings::ProbeSettings {
            tables: stack.tables.clone(),
            tables_region: None,
            location: None,
            second_round_queue_url: None,
            concurrency: None,
            trusted: vec![],
        },
        local_principal: None,
    };
    let notifier = livesite_aws::settings::notifier(&config, &settings);
    let mut n = livesite_tests::contract::notification("own-config", 0);
    n.to = stack.team().emails;
    notifier.deliver(&n).await.expect("email");
    n.channel = livesite_core::Channel::Page;
    n.key = "own-config-page".into();
    notifier.deliver(&n).await.expect("page");
    assert_eq!(stack.pages().await.len(), 1);
    assert_eq!(stack.emails().await.len(), 1);
}

/// Every variable the four functions read is read by `Settings`, in one
/// place; a bad value stops the start with its name, a blank one is unset.
#[test]
fn settings_read_every_variable_and_name_the_bad_one() {
    use livesite_aws::settings::LocalPrincipal;
    use livesite_aws::Settings;
    let base = [
        ("PROBES_TABLE", "p"),
        ("STATE_TABLE", "s"),
        ("PAGE_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
        ("MAIL_SENDER", "livesite@dynamo.example"),
        ("TEAM_EMAILS", "osoc@dynamo.example, noc@dynamo.example"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let vars: std::collections::HashMap<&str, &str> =
            base.iter().chain(extra).copied().collect();
        Settings::from_lookup(&move |name| vars.get(name).map(|v| v.to_string()))
    };
    let s = with(&[]).expect("the required ones suffice");
    assert_eq!(
        (
            s.team.emails.len(),
            s.team_clients.len(),
            s.local_principal.clone(),
            s.probe.concurrency,
            s.probe.second_round_queue_url.clone()
        ),
        (2, 0, None, None, None)
    );
    assert!(s.policy.locations.expected.is_empty());
    let s = with(&[
        ("TEAM_TIMEZONE", "Europe/Madrid"),
        ("TEAM_CLIENT_IDS", "a, b,,"),
        ("LIVESITE_LOCAL_PRINCIPAL", "client:abc"),
        ("PROBE_CONCURRENCY", "64"),
        ("SECOND_ROUND_QUEUE_URL", "https://sqs/q"),
        ("TEAM_PHONE", "+14255389336"),
        ("TEAM_WORKDAYS", "sun, mon,tue,wed,thu"),
        ("TEAM_HOLIDAYS", "2026-12-25, 2027-01-01"),
        ("PROBE_LOCATION", "eu-west-1"),
        ("TABLES_REGION", "us-east-1"),
        ("PROBE_LOCATIONS", "us-east-1, eu-west-1,ap-southeast-2"),
    ])
    .expect("valid");
    assert_eq!(s.probe.location.as_deref(), Some("eu-west-1"));
    assert_eq!(s.probe.tables_region.as_deref(), Some("us-east-1"));
    assert_eq!(
        s.policy.locations.expected,
        ["us-east-1", "eu-west-1", "ap-southeast-2"],
        "the stack's ProbeLocations name the voters"
    );
    assert_eq!(
        s.team.phone.as_ref().map(|p| p.as_str()),
        Some("+14255389336")
    );
    assert_eq!(s.team.calendar.workdays.len(), 5);
    assert!(!s
        .team
        .calendar
        .is_business_day("2026-12-04".parse().expect("a Friday")));
    assert!(s
        .team
        .calendar
        .is_business_day("2026-12-06".parse().expect("a Sunday")));
    assert!(!s
        .team
        .calendar
        .is_business_day("2026-12-25".parse().expect("a holiday")));
    assert_eq!(s.team_clients, ["a", "b"]);
    assert_eq!(
        s.local_principal,
        Some(LocalPrincipal::Client("abc".into()))
    );
    assert_eq!(s.probe.concurrency, Some(64));
    assert_eq!(
        s.probe.second_round_queue_url.as_deref(),
        Some("https://sqs/q")
    );
    assert_eq!(
        s.team.calendar.timezone,
        "Europe/Madrid".parse::<livesite_core::Tz>().expect("tz")
    );
    for (name, value) in [
        ("TEAM_TIMEZONE", "Mars/Olympus"),
        ("LIVESITE_LOCAL_PRINCIPAL", "root"),
        ("PROBE_CONCURRENCY", "many"),
        ("POLICY_JSON", "{\"outage_after\": 5}"),
        // The stack's schedule fixes the cadence the rounds are decided on.
        ("POLICY_JSON", "{\"probe_interval\": \"1m\"}"),
        ("MAIL_SENDER", "not an address"),
        ("TEAM_PHONE", "+1 425-538-9336"),
        ("TEAM_WORKDAYS", "mon,funday"),
        ("TEAM_HOLIDAYS", "2026-13-01"),
        ("PROBE_LOCATION", "EU West"),
        ("TABLES_REGION", "us east"),
        ("PROBE_LOCATIONS", "us-east-1,EU"),
    ] {
        let e = with(&[(name, value)]).expect_err(name).to_string();
        assert!(e.contains(name), "{name}: {e}");
    }
    let e = Settings::from_lookup(&|_| None)
        .expect_err("nothing set")
        .to_string();
    assert!(e.contains("is not set"), "{e}");
    // A probe stack in another region is given its tables and location only.
    let probe = livesite_aws::settings::ProbeSettings::from_lookup(&|name| {
        let v = match name {
            "PROBES_TABLE" => "p",
            "STATE_TABLE" => "s",
            "TABLES_REGION" => "us-east-1",
            "PROBE_LOCATION" => "eu-west-1",
            _ => return None,
        };
        Some(v.to_string())
    })
    .expect("enough for the probe");
    assert_eq!(
        (probe.tables.probes.as_str(), probe.location.as_deref()),
        ("p", Some("eu-west-1"))
    );
}

/// The probe function's environment in `cargo lambda watch` (the Cargo
/// metadata docs/deploy.md runs) reaches the local portal; the same
/// trusted network without a local emulator is refused at start-up, and no
/// stack sets it.
#[tokio::test]
async fn the_local_probe_reaches_a_portal_on_this_machine_and_only_beside_an_emulator() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo: toml::Value = std::fs::read_to_string(root.join("functions/probe/Cargo.toml"))
        .expect("Cargo.toml")
        .parse()
        .expect("toml");
    let env: std::collections::HashMap<String, String> = cargo["package"]["metadata"]["lambda"]
        ["env"]
        .as_table()
        .expect("[package.metadata.lambda.env]")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let settings = |env: &std::collections::HashMap<String, String>| {
        livesite_aws::settings::ProbeSettings::from_lookup(&|n| env.get(n).cloned())
    };
    let local = settings(&env).expect("the documented local settings");
    let portal = livesite_tests::portal::spawn(livesite_tests::portal::Behavior::Respond {
        status: 200,
        body: "MO Direct".into(),
    })
    .await;
    let prober = livesite_probe_fn::prober(&local, 8).expect("prober");
    let check = livesite_core::PortalCheck::new(portal.http_url("/modirect").parse().expect("url"));
    let r = prober.check(&check).await;
    assert_eq!(r.outcome, livesite_core::Outcome::Up, "{r:?}");

    for endpoint in [None, Some("https://dynamodb.us-east-1.amazonaws.com")] {
        let mut deployed = env.clone();
        match endpoint {
            None => deployed.remove("AWS_ENDPOINT_URL"),
            Some(e) => deployed.insert("AWS_ENDPOINT_URL".into(), e.into()),
        };
        let e = settings(&deployed).expect_err("refused").to_string();
        assert!(e.contains("PROBE_TRUSTED_NETS"), "{e}");
    }
    for template in ["infra/template.yaml", "infra/probe-region.yaml"] {
        let text = std::fs::read_to_string(root.join(template)).expect("template");
        assert!(
            !text.contains("PROBE_TRUSTED_NETS") && !text.contains("AWS_ENDPOINT_URL"),
            "{template} sets a local-only variable"
        );
    }
}
