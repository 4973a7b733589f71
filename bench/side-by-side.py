#!/usr/bin/env python3
"""livesite's prober beside prometheus-blackbox-exporter and curl, in one run.

The same loopback portals (plain HTTP and HTTPS with a private CA, answering
at once, from `round_share serve`) are probed, one probe at a time, by:

  * livesite's prober, in a process of its own (`round_share sequential`):
    CPU time of the process per probe, and the latency it records;
  * blackbox_exporter (Debian's prometheus-blackbox-exporter), scraped at
    /probe: CPU time of the exporter per probe (a scrape is how it probes,
    so its HTTP handling is part of the cost), and its probe_duration_seconds;
  * curl -w '%{time_total}', a fresh process a probe: the reference latency.

It prints one JSON line per scheme with the ratios the issue asks for: CPU
per probe against blackbox_exporter's (target <= 1) and the latency
difference against curl's (target within 5 ms), and then the evaluator's
own figures from `cargo bench -p livesite-local --bench evaluate`.

    make bench                 (or: python3 bench/side-by-side.py [PROBES])

Needs prometheus-blackbox-exporter and curl (tests/setup-bench.sh installs
them). Loopback only; every server it starts is stopped at the end.
"""

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/examples/round_share")
EXPORTER = shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User plus system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(") ", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(path, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {path}")


def blackbox(work, url, probes):
    """CPU per probe of the exporter and its probe durations, in ms."""
    config = os.path.join(work, "blackbox.yml")
    with open(config, "w") as f:
        f.write(
            "modules:\n"
            "  portal:\n"
            "    prober: http\n"
            "    timeout: 10s\n"
            "    http:\n"
            "      preferred_ip_protocol: ip4\n"
            "      fail_if_body_not_matches_regexp: ['MO Direct']\n"
            f"      tls_config: {{ca_file: {work}/ca.pem}}\n"
        )
    port = free_port()
    proc = subprocess.Popen(
        [EXPORTER, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        scrape = f"http://127.0.0.1:{port}/probe?module=portal&target={url}"
        for _ in range(100):
            try:
                urllib.request.urlopen(scrape, timeout=5).read()
                break
            except OSError:
                time.sleep(0.05)
        before = cpu_seconds(proc.pid)
        durations = []
        for _ in range(probes):
            body = urllib.request.urlopen(scrape, timeout=15).read().decode()
            if not re.search(r"^probe_success 1$", body, re.M):
                sys.exit(f"blackbox_exporter probe failed:\n{body}")
            m = re.search(r"^probe_duration_seconds (\S+)$", body, re.M)
            durations.append(float(m.group(1)) * 1000)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return cpu * 1000 / probes, durations


def curl(work, url, probes):
    times = []
    for _ in range(probes):
        out = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "--cacert", f"{work}/ca.pem", "-w", "%{time_total}",
             url], capture_output=True, text=True, check=True).stdout
        times.append(float(out) * 1000)
    return times


def livesite(work, scheme, probes):
    out = subprocess.run([BIN, "sequential", work, str(probes), scheme],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    probes = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    if not EXPORTER or not shutil.which("curl"):
        sys.exit("needs prometheus-blackbox-exporter and curl: tests/setup-bench.sh")
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "livesite-prober",
                    "--example", "round_share"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp()
    server = subprocess.Popen([BIN, "serve", "0", work])
    try:
        wait_for(os.path.join(work, "port"))
        ports = {
            "http": open(os.path.join(work, "http_port")).read().strip(),
            "https": open(os.path.join(work, "port")).read().strip(),
        }
        for scheme in ("http", "https"):
            host = "localhost" if scheme == "https" else "127.0.0.1"
            url = f"{scheme}://{host}:{ports[scheme]}/"
            ours = livesite(work, scheme, probes)
            bb_cpu, bb_durations = blackbox(work, url, probes)
            curl_times = curl(work, url, min(probes, 200))
            curl_p50 = statistics.median(curl_times)
            print(json.dumps({
                "scheme": scheme,
                "probes": probes,
                "livesite_cpu_ms_per_probe": round(ours["cpu_ms_per_probe"], 3),
                "blackbox_cpu_ms_per_probe": round(bb_cpu, 3),
                "cpu_ratio": round(ours["cpu_ms_per_probe"] / bb_cpu, 2),
                "livesite_latency_p50_ms": round(ours["latency_p50_ms"], 3),
                "blackbox_latency_p50_ms": round(statistics.median(bb_durations), 3),
                "curl_latency_p50_ms": round(curl_p50, 3),
                "livesite_minus_curl_ms": round(ours["latency_p50_ms"] - curl_p50, 3),
            }))
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    # The evaluator: decisions a second (pure rules) and a batch on SQLite.
    subprocess.run(["cargo", "bench", "--quiet", "-p", "livesite-local", "--bench", "evaluate"],
                   cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
