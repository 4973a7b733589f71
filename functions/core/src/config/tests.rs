use super::*;

mod tests {
    use super::*;

    const GOOD: &str = r#"
[team]
sender = "livesite@dynamo.example"
emails = ["osoc@dynamo.example"]

[[operator]]
id = "contoso"
name = "Contoso Mobile"
contacts = ["noc@contoso.example"]
timezone = "Europe/Madrid"
holidays = ["2026-12-25"]
[operator.portal]
url = "https://modirect.contoso.example/health"
expect_body = "OK"
timeout = "5s"
"#;

    fn parse(s: &str) -> Config {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn a_portal_check_and_the_policy_default_to_the_seed() {
        let c = PortalCheck::new("https://p.example/".parse().unwrap());
        assert_eq!(
            (
                c.expect_status.clone(),
                c.timeout,
                c.max_redirects,
                c.body_scan_bytes
            ),
            (vec![200], Duration::from_secs(10), 5, 65_536)
        );
        let p = Policy::default();
        assert_eq!(
            (
                p.flapping.close_at_or_below,
                p.flapping.open_above,
                p.api_requests_per_minute,
                p.maintenance_lead_business_days,
                p.high_initial_response,
            ),
            (0.1, 0.5, 120, 5, Duration::from_secs(3600))
        );
        p.validate().unwrap();
    }

    #[test]
    fn every_policy_setting_is_refused_alone_when_it_can_never_work() {
        type Change = fn(&mut Policy);
        let table: Vec<(&str, Change)> = vec![
            ("api_requests_per_minute", |p| p.api_requests_per_minute = 0),
            ("outage_after", |p| p.outage_after = Duration::ZERO),
            ("recovery_successes", |p| p.recovery_successes = 0),
            ("probe_interval", |p| p.probe_interval = Duration::ZERO),
            ("blind_after", |p| p.blind_after = p.probe_interval),
            ("availability_target_percent", |p| {
                p.availability_target_percent = 100.0
            }),
            ("availability_target_percent", |p| {
                p.availability_target_percent = 100.5
            }),
            ("availability_target_percent", |p| {
                p.availability_target_percent = -0.1
            }),
            ("flapping", |p| p.flapping.open_above = 1.0),
            ("flapping", |p| p.flapping.close_at_or_below = -0.1),
            ("flapping", |p| {
                p.flapping.close_at_or_below = p.flapping.open_above
            }),
            ("burn_tiers[0]", |p| p.burn_tiers[0].short = Duration::ZERO),
            ("burn_tiers[0]", |p| {
                p.burn_tiers[0].short = p.burn_tiers[0].long
            }),
            ("burn_tiers[1]", |p| {
                p.burn_tiers[1].long = Duration::from_secs(24 * 3600 + 1)
            }),
            ("burn_tiers[0]", |p| p.burn_tiers[0].factor = 0.0),
            ("flapping", |p| p.flapping.min_probes = 0),
            ("locations", |p| {
                p.locations.expected = vec!["eu-west-1".into(), "EU".into()]
            }),
            ("locations", |p| {
                p.locations.expected = vec!["a".into(), "b".into()];
                p.locations.quorum = Quorum::Count(3);
            }),
            ("locations", |p| p.locations.quorum = Quorum::Share(1.0)),
            ("locations", |p| p.locations.quorum = Quorum::Count(0)),
            ("locations", |p| {
                p.locations.expected = vec!["a".into(), "b".into()];
                p.locations.min_locations = 3;
            }),
            ("locations", |p| p.locations.grace = Duration::from_secs(30)),
            ("flapping", |p| p.flapping.window = Duration::ZERO),
        ];
        for (field, change) in table {
            let mut p = Policy::default();
            change(&mut p);
            let e = p.validate().expect_err(field);
            assert_eq!(e.path, format!("policy.{field}"), "{e:?}");
        }
        // The edges that still work.
        let mut p = Policy {
            availability_target_percent: 0.0,
            ..Policy::default()
        };
        p.flapping.close_at_or_below = 0.0;
        p.burn_tiers[1].long = Duration::from_secs(24 * 3600);
        p.blind_after = p.probe_interval + Duration::from_secs(1);
        p.validate().unwrap();
    }

    #[test]
    fn an_operators_portal_limits_hold_at_their_edges() {
        let ok = parse(GOOD).operators[0].clone();
        type Change = fn(&mut Operator);
        let table: Vec<(&str, Change, bool)> = vec![
            (
                "portal.timeout",
                |o| o.portal.timeout = PortalCheck::MAX_TIMEOUT,
                true,
            ),
            (
                "portal.timeout",
                |o| o.portal.timeout = PortalCheck::MAX_TIMEOUT + Duration::from_millis(1),
                false,
            ),
            (
                "portal.timeout",
                |o| o.portal.timeout = Duration::ZERO,
                false,
            ),
            (
                "portal.body_scan_bytes",
                |o| o.portal.body_scan_bytes = PortalCheck::MAX_BODY_SCAN,
                true,
            ),
            (
                "portal.body_scan_bytes",
                |o| o.portal.body_scan_bytes = PortalCheck::MAX_BODY_SCAN + 1,
                false,
            ),
            (
                "portal.body_scan_bytes",
                |o| o.portal.body_scan_bytes = 0,
                false,
            ),
            (
                "portal.max_redirects",
                |o| o.portal.max_redirects = PortalCheck::MAX_REDIRECTS,
                true,
            ),
            (
                "portal.max_redirects",
                |o| o.portal.max_redirects = PortalCheck::MAX_REDIRECTS + 1,
                false,
            ),
            (
                "maintenance[0].end",
                |o| {
                    let t = "2026-12-10T08:00:00Z".parse().unwrap();
                    o.maintenance = vec![MaintenanceWindow {
                        start: t,
                        end: t,
                        announced_at: None,
                        description: None,
                    }];
                },
                false,
            ),
            (
                "maintenance[0].end",
                |o| {
                    let t: chrono::DateTime<chrono::Utc> = "2026-12-10T08:00:00Z".parse().unwrap();
                    o.maintenance = vec![MaintenanceWindow {
                        start: t,
                        end: t + chrono::Duration::seconds(1),
                        announced_at: None,
                        description: None,
                    }];
                },
                true,
            ),
        ];
        for (field, change, valid) in table {
            let mut o = ok.clone();
            change(&mut o);
            match o.validate("op") {
                Ok(()) => assert!(valid, "{field} accepted"),
                Err(e) => {
                    assert!(!valid, "{field} refused: {e:?}");
                    assert_eq!(e.path, format!("op.{field}"));
                }
            }
        }
    }

    #[test]
    fn an_operator_is_found_by_its_id() {
        let mut c = parse(GOOD);
        let mut other = c.operators[0].clone();
        other.id = OperatorId::new("fabrikam").unwrap();
        c.operators.push(other);
        let id = |s: &str| OperatorId::new(s).unwrap();
        assert_eq!(
            c.operator(&id("fabrikam")).map(|o| o.id.as_str()),
            Some("fabrikam")
        );
        assert_eq!(
            c.operator(&id("contoso")).map(|o| o.id.as_str()),
            Some("contoso")
        );
        assert!(c.operator(&id("nobody")).is_none());
    }

    #[test]
    fn good_config_has_the_seed_defaults() {
        let c = parse(GOOD);
        c.validate().unwrap();
        assert_eq!(c.policy.outage_after, Duration::from_secs(1800));
        assert_eq!(c.policy.latency_sla_ms, 400);
        assert_eq!(c.policy.recovery_successes, 2);
        assert_eq!(c.operators[0].portal.expect_status, vec![200]);
        assert_eq!(c.operators[0].portal.timeout, Duration::from_secs(5));
    }

    #[test]
    fn mistakes_are_located() {
        let cases = [
            (
                "expect_body = \"OK\"",
                "expect_status = [700]",
                "operator[0].portal.expect_status",
            ),
            (
                "url = \"https://modirect.contoso.example/health\"",
                "url = \"ftp://x.example/\"",
                "operator[0].portal.url",
            ),
            (
                "contacts = [\"noc@contoso.example\"]",
                "contacts = []",
                "operator[0].contacts",
            ),
            (
                "timeout = \"5s\"",
                "timeout = \"90s\"",
                "operator[0].portal.timeout",
            ),
            (
                "timeout = \"5s\"",
                "timeout = \"21s\"",
                "operator[0].portal.timeout",
            ),
        ];
        for (from, to, path) in cases {
            let c = parse(&GOOD.replace(from, to));
            assert_eq!(c.validate().unwrap_err().path, path, "{to}");
        }
        // The bound itself is allowed.
        assert!(
            parse(&GOOD.replace("timeout = \"5s\"", "timeout = \"20s\""))
                .validate()
                .is_ok()
        );
        let dup = format!("{GOOD}\n{}", &GOOD[GOOD.find("[[operator]]").unwrap()..]);
        assert_eq!(parse(&dup).validate().unwrap_err().path, "operator[1].id");
    }

    /// A Sunday-to-Thursday operator, escalation phones and the team's line,
    /// as a configuration states them.
    #[test]
    fn working_days_and_phones_are_read_and_checked() {
        let sun_thu = GOOD.replace(
            "timezone = \"Europe/Madrid\"",
            "timezone = \"Asia/Riyadh\"\nworkdays = [\"sun\", \"mon\", \"tue\", \"wed\", \"thu\"]\nescalation_phones = [\"+966112345678\"]",
        ).replace(
            "emails = [\"osoc@dynamo.example\"]",
            "emails = [\"osoc@dynamo.example\"]\nphone = \"+14255389336\"\n[team.calendar]\ntimezone = \"America/Los_Angeles\"\nholidays = [\"2026-12-25\"]",
        );
        let c = parse(&sun_thu);
        c.validate().unwrap();
        let cal = c.operators[0].calendar();
        let day = |d: &str| d.parse::<NaiveDate>().unwrap();
        // (date, business day): 2026-12-04 is a Friday.
        for (d, business) in [
            ("2026-12-03", true),
            ("2026-12-04", false),
            ("2026-12-05", false),
            ("2026-12-06", true),
        ] {
            assert_eq!(cal.is_business_day(day(d)), business, "{d}");
        }
        assert_eq!(
            c.operators[0].escalation_phones[0].as_str(),
            "+966112345678"
        );
        let written = serde_json::to_value(&c.operators[0]).unwrap();
        assert_eq!(
            written["workdays"],
            serde_json::json!(["sun", "mon", "tue", "wed", "thu"])
        );
        let read: Operator = serde_json::from_value(written).unwrap();
        assert_eq!(read, c.operators[0]);
        assert_eq!(
            c.team.phone.as_ref().map(|p| p.as_str()),
            Some("+14255389336")
        );
        let none = parse(&sun_thu.replace("[\"sun\", \"mon\", \"tue\", \"wed\", \"thu\"]", "[]"));
        assert_eq!(none.validate().unwrap_err().path, "operator[0].workdays");
        for bad in ["\"+966 11 234 5678\"", "\"00966112345678\""] {
            let text = sun_thu.replace("\"+966112345678\"", bad);
            let e = toml::from_str::<Config>(&text).unwrap_err().to_string();
            assert!(e.contains("E.164"), "{e}");
        }
    }

    #[test]
    fn a_quorum_is_a_count_or_a_share() {
        for (text, quorum) in [("2", Quorum::Count(2)), ("0.5", Quorum::Share(0.5))] {
            let c = parse(&GOOD.replace(
                "[team]",
                &format!("[policy.locations]\nexpected = [\"eu-west-1\", \"us-east-1\", \"agent-1\"]\nquorum = {text}\n\n[team]"),
            ));
            c.validate().unwrap();
            assert_eq!(c.policy.locations.quorum, quorum);
            assert!(c.policy.locations.voting());
        }
        // (quorum, down votes, of reported, down)
        let table = [
            (Quorum::Share(0.5), 2, 3, true),
            (Quorum::Share(0.5), 1, 2, false),
            (Quorum::Share(0.5), 2, 2, true),
            (Quorum::Count(2), 2, 2, true),
            (Quorum::Count(2), 1, 3, false),
            (Quorum::Count(3), 2, 2, false),
        ];
        for (q, down, reported, is_down) in table {
            assert_eq!(
                q.is_down(down, reported),
                is_down,
                "{q:?} {down}/{reported}"
            );
        }
    }

    #[test]
    fn the_documented_example_is_a_valid_configuration() {
        let c = parse(include_str!("../../../../docs/livesite.example.toml"));
        c.validate().unwrap();
        assert!(c.team.phone.is_some() && !c.operators[0].escalation_phones.is_empty());
    }

    /// Every key path of a document: tables' keys dotted, arrays as `[]`;
    /// a map of data (a location's `resolve`) is one key.
    fn key_paths(v: &serde_json::Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(m) if !at.ends_with(".resolve") => {
                for (k, v) in m {
                    key_paths(v, &format!("{at}.{k}"), out);
                }
            }
            serde_json::Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                for i in items {
                    key_paths(i, &format!("{at}[]"), out);
                }
            }
            _ => {
                out.insert(at.to_string());
            }
        }
    }

    /// The example shows every field the configuration has (what the
    /// parsed configuration writes back is no more than what the file
    /// says), and docs/config.md names each one.
    #[test]
    fn the_example_and_the_reference_list_every_field() {
        let text = include_str!("../../../../docs/livesite.example.toml");
        let written: toml::Value = toml::from_str(text).unwrap();
        let mut shown = std::collections::BTreeSet::new();
        key_paths(&serde_json::to_value(&written).unwrap(), "", &mut shown);
        let mut fields = std::collections::BTreeSet::new();
        key_paths(&serde_json::to_value(parse(text)).unwrap(), "", &mut fields);
        // An empty list of tables is shown by any of its tables' fields.
        let missing: Vec<&String> = fields
            .iter()
            .filter(|f| {
                !shown.contains(*f) && !shown.iter().any(|s| s.starts_with(&format!("{f}[]")))
            })
            .collect();
        assert!(missing.is_empty(), "the example omits {missing:?}");
        let reference = include_str!("../../../../docs/config.md");
        let unnamed: Vec<&String> = fields
            .iter()
            .filter(|f| {
                let name = f.rsplit('.').next().unwrap_or(f).trim_end_matches("[]");
                !reference.contains(&format!("`{name}`"))
            })
            .collect();
        assert!(
            unnamed.is_empty(),
            "docs/config.md does not name {unnamed:?}"
        );
    }

    #[test]
    fn typos_are_refused_by_the_parser() {
        let typo = GOOD.replace("expect_body", "expect_bdy");
        let e = toml::from_str::<Config>(&typo).unwrap_err().to_string();
        assert!(e.contains("expect_bdy"), "{e}");
    }

    #[test]
    fn maintenance_window_is_half_open() {
        let w = MaintenanceWindow {
            start: "2026-11-27T10:00:00Z".parse().unwrap(),
            end: "2026-11-27T11:00:00Z".parse().unwrap(),
            announced_at: None,
            description: None,
        };
        assert!(!w.contains("2026-11-27T09:59:59Z".parse().unwrap()));
        assert!(w.contains("2026-11-27T10:00:00Z".parse().unwrap()));
        assert!(!w.contains("2026-11-27T11:00:00Z".parse().unwrap()));
    }

    /// Agent and location names are one namespace: a config naming an
    /// agent like a simulated location or like another operator's agent is
    /// refused with its place; an agent listed among the expected
    /// locations is allowed (it never votes there).
    #[test]
    fn agent_names_clash_with_no_location_and_no_other_agent() {
        let op = |id: &str, agent: &str| {
            format!(
                "[[operator]]\nid = \"{id}\"\nname = \"{id}\"\ncontacts = [\"noc@{id}.example\"]\nagents = [\"{agent}\"]\n[operator.portal]\nurl = \"https://{id}.example/\"\n"
            )
        };
        let team = "[team]\nsender = \"l@d.example\"\nemails = [\"o@d.example\"]\n";
        let location = "[[location]]\nname = \"agent-2\"\n";
        let listed = "[policy.locations]\nexpected = [\"us-east-1\", \"eu-west-1\", \"agent-1\"]\n";
        let cases = [
            (
                format!(
                    "{team}{}{}",
                    op("contoso", "agent-1"),
                    op("fabrikam", "agent-1")
                ),
                Some("operator[0].agents"),
            ),
            (
                format!(
                    "{team}{}{}",
                    op("contoso", "agent-1"),
                    op("fabrikam", "agent-2")
                ),
                None,
            ),
            (
                format!("{team}{location}{}", op("contoso", "agent-2")),
                Some("operator[0].agents"),
            ),
            (format!("{team}{listed}{}", op("contoso", "agent-1")), None),
        ];
        for (text, refused) in cases {
            let got = toml::from_str::<Config>(&text)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map_err(|e| e.path));
            assert_eq!(got.err().as_deref(), refused, "{text}");
        }
    }
}
