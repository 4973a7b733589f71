//! CloudWatch metrics as the functions report them: one log line in the
//! embedded metric format (EMF), which CloudWatch turns into metrics without
//! an API call or a permission. Pure: the caller prints the line.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The namespace of every livesite metric (the template's alarms watch it).
pub const NAMESPACE: &str = "livesite";

/// One metric: name, CloudWatch unit, value.
pub type Metric<'a> = (&'a str, &'a str, f64);

/// The EMF line for `metrics` at `at`, with `extra` properties kept in the
/// log (searchable, not metrics).
pub fn emf_line(at: DateTime<Utc>, metrics: &[Metric<'_>], extra: Value) -> String {
    let mut line = Map::new();
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
        .collect();
    line.insert(
        "_aws".into(),
        json!({"Timestamp": at.timestamp_millis(), "CloudWatchMetrics": [{
            "Namespace": NAMESPACE, "Dimensions": [[]], "Metrics": definitions
        }]}),
    );
    for (name, _, value) in metrics {
        line.insert((*name).to_string(), json!(value));
    }
    if let Value::Object(extra) = extra {
        line.extend(extra);
    }
    Value::Object(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_defines_each_metric_and_carries_its_value() {
        let at: DateTime<Utc> = "2026-11-27T10:00:00Z".parse().unwrap();
        let line = emf_line(
            at,
            &[("ProbesWritten", "Count", 3.0), ("Age", "Seconds", 12.0)],
            json!({"failed_duties": ["reports"]}),
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_795_773_600_000i64);
        let def = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(def["Namespace"], "livesite");
        assert_eq!(def["Dimensions"], json!([[]]));
        assert_eq!(
            def["Metrics"],
            json!([{"Name": "ProbesWritten", "Unit": "Count"}, {"Name": "Age", "Unit": "Seconds"}])
        );
        assert_eq!(
            (v["ProbesWritten"].as_f64(), v["Age"].as_f64()),
            (Some(3.0), Some(12.0))
        );
        assert_eq!(v["failed_duties"], json!(["reports"]));
    }
}
