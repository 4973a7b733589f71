#!/usr/bin/env bash
# The monthly report on the sweep and API functions' own CPU share and
# memory (256 MB: 0.145 of a vCPU), as docs/measurements.md reports it.
# Builds a 31-day, 3-location month into a SQLite file first (outside the
# limits), then runs the report alone inside cgroup v1 limits. Needs root.
#   sudo bench/report-share.sh
set -euo pipefail
cd "$(dirname "$0")/.."
db=$(mktemp -d)/month.db
trap 'rm -rf "$(dirname "$db")"' EXIT
cargo bench -p livesite-local --bench report --no-run
bin=$(ls -t target/release/deps/report-* | grep -v '\.d$' | head -1)
LIVESITE_BENCH_DB="$db" "$bin" > /dev/null
for c in cpu memory; do mkdir -p "/sys/fs/cgroup/$c/livesite-report"; done
echo 14500 > /sys/fs/cgroup/cpu/livesite-report/cpu.cfs_quota_us
echo 100000 > /sys/fs/cgroup/cpu/livesite-report/cpu.cfs_period_us
echo $((256 * 1024 * 1024)) > /sys/fs/cgroup/memory/livesite-report/memory.limit_in_bytes
echo 0 > /sys/fs/cgroup/memory/livesite-report/memory.max_usage_in_bytes
status=0
(
    echo $BASHPID > /sys/fs/cgroup/cpu/livesite-report/cgroup.procs
    echo $BASHPID > /sys/fs/cgroup/memory/livesite-report/cgroup.procs
    LIVESITE_BENCH_DB="$db" exec "$bin"
) || status=$?
echo "exit status $status (137: killed at the 256 MB limit)"
echo "peak memory of the process: $(( $(cat /sys/fs/cgroup/memory/livesite-report/memory.max_usage_in_bytes) / 1024 / 1024 )) MB"
