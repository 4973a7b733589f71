//! infra/template.yaml as CloudFormation deploys it: the SAM transform's
//! output (tests/template/transform.py), read once per test process. Tests
//! check what AWS will create and enforce from here, never from a copy.

use serde_json::Value;
use std::sync::OnceLock;

/// The transformed template (intrinsics unresolved).
pub fn deployed() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| transform("infra/template.yaml", "us-east-1"))
}

/// The region where the tests deploy a probe location's stack.
pub const LOCATION_REGION: &str = "eu-west-1";

/// infra/probe-region.yaml (a probe location away from the home region), as
/// deployed in `LOCATION_REGION`.
pub fn probe_region() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| transform("infra/probe-region.yaml", LOCATION_REGION))
}

fn transform(template: &str, region: &str) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run tests/setup-venv.sh (or `make test`, which does)",
        python.display()
    );
    let out = std::process::Command::new(python)
        .arg(root.join("tests/template/transform.py"))
        .arg(root.join(template))
        .arg(region)
        .output()
        .expect("run tests/template/transform.py");
    assert!(
        out.status.success(),
        "the SAM transform of {template} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("transform.py prints JSON")
}

/// One resource of the deployed template, by logical id.
pub fn resource(name: &str) -> &'static Value {
    resource_in(deployed(), name)
}

/// One resource of a deployed template, by logical id.
pub fn resource_in(template: &'static Value, name: &str) -> &'static Value {
    let r = &template["Resources"][name];
    assert!(r.is_object(), "the template has no resource {name}");
    r
}

/// The resources of one type, by logical id.
pub fn resources_of(kind: &str) -> Vec<(&'static str, &'static Value)> {
    resources_of_in(deployed(), kind)
}

/// The resources of one type in a deployed template, by logical id.
pub fn resources_of_in(
    template: &'static Value,
    kind: &str,
) -> Vec<(&'static str, &'static Value)> {
    template["Resources"]
        .as_object()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(k, r)| (k.as_str(), r))
        .collect()
}

/// A function's role: its inline statements and its managed policy ARNs.
pub fn function_role(function: &str) -> (Vec<Value>, Vec<Value>) {
    function_role_in(deployed(), function)
}

/// A function's role in a deployed template.
pub fn function_role_in(template: &'static Value, function: &str) -> (Vec<Value>, Vec<Value>) {
    let role = resource_in(template, function)["Properties"]["Role"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{function} has no role of its own"));
    let props = &resource_in(template, role)["Properties"];
    let mut statements = Vec::new();
    for policy in props["Policies"].as_array().into_iter().flatten() {
        match &policy["PolicyDocument"]["Statement"] {
            Value::Array(a) => statements.extend(a.iter().cloned()),
            s => statements.push(s.clone()),
        }
    }
    let managed = props["ManagedPolicyArns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (statements, managed)
}

/// A function's `Timeout` as deployed.
pub fn function_timeout(function: &str) -> std::time::Duration {
    function_timeout_in(deployed(), function)
}

/// A function's `Timeout` in a deployed template.
pub fn function_timeout_in(template: &'static Value, function: &str) -> std::time::Duration {
    let secs = resource_in(template, function)["Properties"]["Timeout"]
        .as_u64()
        .unwrap_or_else(|| panic!("{function} has no numeric Timeout"));
    std::time::Duration::from_secs(secs)
}

/// The deadline of an invocation of `function` starting now, as the Lambda
/// context gives it.
pub fn invocation_deadline(function: &str) -> std::time::Instant {
    std::time::Instant::now() + function_timeout(function)
}
