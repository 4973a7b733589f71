//! `livesite replay`: decisions from recorded probe results, as a user runs it.

mod common;

use common::{livesite, stderr, stdout, CONFIG};
use livesite_tests::fixtures::{failures, probe};
use serde_json::Value;
use std::io::Write;
use std::process::Output;

fn write_jsonl(lines: &[String]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("tmp");
    for l in lines {
        writeln!(f, "{l}").expect("write");
    }
    f
}

fn decisions(out: &Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn kinds(d: &[Value]) -> Vec<String> {
    d.iter()
        .map(|v| v["kind"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn outage_history() -> Vec<String> {
    let mut probes = failures("contoso", 0, 1830);
    probes.push(probe("contoso", 1860, true));
    probes.push(probe("contoso", 1890, true));
    probes
        .iter()
        .map(|p| serde_json::to_string(p).expect("json"))
        .collect()
}

#[test]
fn replay_prints_one_line_per_decision() {
    let f = write_jsonl(&outage_history());
    let out = livesite(&["replay", "--probes", f.path().to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let d = decisions(&out);
    assert_eq!(
        kinds(&d),
        [
            "incident_opened",
            "page",
            "email",
            "incident_resolved",
            "page",
            "email"
        ]
    );
    assert_eq!(d[0]["severity"], "high");
    assert_eq!(d[0]["operator"], "contoso");
    assert_eq!(d[0]["at"], "2026-11-24T10:30:30Z");
    assert_eq!(d[3]["at"], "2026-11-24T10:31:30Z");
    for v in &d {
        assert!(v["at"].is_string() && v["operator"].is_string(), "{v}");
    }
}

/// A portal up but slow: the latency SLA decision shows in the replay like
/// every other (a Low incident by email, no page), and its resolution.
#[test]
fn replay_shows_the_latency_sla_decisions() {
    let lines: Vec<String> = (0..100)
        .map(|i| {
            let mut p = probe("contoso", i * 30, true);
            p.latency_ms = Some(if i < 40 { 900.0 } else { 120.0 });
            serde_json::to_string(&p).expect("json")
        })
        .collect();
    let f = write_jsonl(&lines);
    let out = livesite(&["replay", "--probes", f.path().to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let d = decisions(&out);
    assert_eq!(
        kinds(&d),
        ["incident_opened", "email", "incident_resolved", "email"],
        "{}",
        stdout(&out)
    );
    assert_eq!(
        (d[0]["severity"].as_str(), d[0]["at"].as_str()),
        (Some("low"), Some("2026-11-24T10:09:30Z"))
    );
    assert!(stdout(&out).contains("latency_sla"), "{}", stdout(&out));
}

#[test]
fn replay_of_the_minimal_schema_and_of_duplicates() {
    let mut lines: Vec<String> = (0..=61)
        .map(|i| {
            format!(
                r#"{{"operator":"fabrikam","probed_at":"2026-11-24T10:{:02}:{:02}Z","outcome":"down","reason":"timeout","status":null,"latency_ms":10000}}"#,
                i * 30 / 60,
                i * 30 % 60
            )
        })
        .collect();
    let dup = lines[61].clone();
    lines.push(dup);
    let f = write_jsonl(&lines);
    let out = livesite(&["replay", "--probes", f.path().to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        kinds(&decisions(&out)),
        ["incident_opened", "page", "email", "stale"]
    );
}

#[test]
fn replay_errors_name_the_file_line_and_field() {
    let mut lines = outage_history();
    lines[2] =
        r#"{"operator":"contoso","probed_at":"yesterday","outcome":"down","reason":"dns"}"#.into();
    let f = write_jsonl(&lines);
    let out = livesite(&["replay", "--probes", f.path().to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:3:", f.path().display())), "{err}");
    assert!(err.contains(":3: field `probed_at`: "), "{err}");
    assert!(stdout(&out).is_empty(), "nothing decided from a bad file");

    lines[2] =
        r#"{"operator":"contoso","probed_at":"2026-11-24T10:01:00Z","outcome":"down"}"#.into();
    let f = write_jsonl(&lines);
    let err = stderr(&livesite(&[
        "replay",
        "--probes",
        f.path().to_str().expect("path"),
    ]));
    assert!(err.contains(":3: field `reason`"), "{err}");
}

#[test]
fn replay_with_config_honours_maintenance() {
    let mut cfg = tempfile::NamedTempFile::new().expect("tmp");
    cfg.write_all(CONFIG.replace("URL", "http://127.0.0.1:9/").as_bytes())
        .expect("write");
    let f = write_jsonl(&outage_history());
    let out = livesite(&[
        "replay",
        "--probes",
        f.path().to_str().expect("path"),
        "--config",
        cfg.path().to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(kinds(&decisions(&out)), ["page_suppressed"]);
}

/// Recorded history replayed into a store is reported on like monitored
/// history: two days around a 40-minute outage (the maintenance window in
/// the config held back its page, so it is maintenance, not downtime),
/// then a 10-minute outage; replaying the same file again changes nothing.
#[test]
fn replay_into_a_store_is_reported_on_from_its_decided_days() {
    let mut cfg = tempfile::NamedTempFile::new().expect("tmp");
    cfg.write_all(CONFIG.replace("URL", "http://127.0.0.1:9/").as_bytes())
        .expect("write");
    // From 24 Nov 10:00 for two days: down 10:00-10:40 (inside the window to
    // 11:00) and 25 Nov 10:00-10:10.
    let lines: Vec<String> = (0..2 * 2880)
        .map(|i| {
            let secs = i * 30;
            let down = secs < 2400 || (86_400..86_400 + 600).contains(&secs);
            serde_json::to_string(&probe("contoso", secs, !down)).expect("json")
        })
        .collect();
    let f = write_jsonl(&lines);
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("replayed.db");
    let (probes, db, cfg) = (
        f.path().to_str().expect("path"),
        db.to_str().expect("path"),
        cfg.path().to_str().expect("path"),
    );
    let replay = ["replay", "--probes", probes, "--config", cfg, "--db", db];
    for _ in 0..2 {
        let out = livesite(&replay);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("5760 probe result(s)"),
            "{}",
            stderr(&out)
        );
    }
    let out = livesite(&[
        "report", "--month", "2026-11", "--config", cfg, "--db", db, "--format", "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let r = if r.is_array() { r[0].clone() } else { r };
    assert_eq!(r["rounds"], 5760, "{r}");
    assert_eq!(r["downtime_minutes"], 10.0, "{r}");
    assert_eq!(r["down_in_maintenance_minutes"], 40.0, "{r}");
    assert_eq!(r["maintenance_minutes"], 60.0, "{r}");
}
