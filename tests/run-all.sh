#!/usr/bin/env bash
# The whole test suite: lint, then every test binary, then one closing line
# that adds up every binary's result.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
tests/setup-venv.sh
tests/setup-browser.sh
export SAM_CLI_TELEMETRY=0

cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

# The SAM template: sam's own validation, cfn-lint (pinned to a version that
# still applies the SAM transform) and checkov (each skip is justified next to
# its resource); any finding fails the run.
# Both templates: the home stack and a probe location in another region.
.venv/bin/sam validate --template-file infra/template.yaml --region us-east-1
.venv/bin/sam validate --template-file infra/probe-region.yaml --region eu-west-1
.venv/bin/cfn-lint infra/template.yaml infra/probe-region.yaml
for template in infra/template.yaml infra/probe-region.yaml; do
    .venv-checkov/bin/checkov -f "$template" --framework cloudformation --compact --quiet --skip-download
done

# One local AWS emulator for every test binary, on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p target
.venv/bin/moto_server -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
    sleep 0.2
done
export LIVESITE_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"

set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [[ "$status" == 0 ]]; then
    tests/api-fuzz.sh || status=$?
fi
passed=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "all: ${passed} passed, ${failed} failed"
exit "$status"
