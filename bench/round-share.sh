#!/usr/bin/env bash
# The probe round on the probe function's CPU share and memory.
#
# Lambda gives CPU in proportion to memory: 1,769 MB is one vCPU, so 256 MB is
# about 0.145 of one. This runs 1,000 HTTPS portals (answering after 100 ms)
# in one process, and the prober in another held by cgroup v1 to the share and
# the memory of each setting; the portals stay outside the limits. It prints
# one JSON line per setting: latency error (recorded minus the true 100 ms)
# p50/p99/max, TLS handshake times, the round's wall time, peak memory.
#
#   sudo bench/round-share.sh [PROBES] [SPREAD_MS] [CONCURRENCY...]   (root: cgroups)
#
# SPREAD_MS spreads the probes' starts evenly over that long (the probe
# function paces its round so); 0 starts them all at once.
#
# Needs cgroup v1 cpu and memory controllers writable (as on these machines).
set -euo pipefail
cd "$(dirname "$0")/.."
probes=${1:-1000}
spread=${2:-0}
shift 2 || shift $# || true
concurrencies=("${@:-900}")
cargo build --quiet --release -p livesite-prober --example round_share
bin=target/release/examples/round_share
work=$(mktemp -d)
"$bin" serve 100 "$work" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"; for m in 256 512 1024 1769; do rmdir /sys/fs/cgroup/cpu/livesite-$m /sys/fs/cgroup/memory/livesite-$m 2>/dev/null || true; done' EXIT
for _ in $(seq 1 50); do [[ -s "$work/port" ]] && break; sleep 0.1; done
for mb in 256 512 1024 1769; do
    quota=$(( mb * 100000 / 1769 ))
    for ctl in cpu memory; do mkdir -p /sys/fs/cgroup/$ctl/livesite-$mb; done
    echo 100000 > /sys/fs/cgroup/cpu/livesite-$mb/cpu.cfs_period_us
    echo "$quota" > /sys/fs/cgroup/cpu/livesite-$mb/cpu.cfs_quota_us
    echo $(( mb * 1024 * 1024 )) > /sys/fs/cgroup/memory/livesite-$mb/memory.limit_in_bytes
    for c in "${concurrencies[@]}"; do
        printf '{"memory_mb":%d,"cpu_quota":%s} ' "$mb" "$(awk "BEGIN{printf \"%.3f\", $quota/100000}")"
        sh -c "echo \$\$ > /sys/fs/cgroup/cpu/livesite-$mb/cgroup.procs; echo \$\$ > /sys/fs/cgroup/memory/livesite-$mb/cgroup.procs; exec $bin probe $work $probes $c $spread"
    done
done
