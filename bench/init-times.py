#!/usr/bin/env python3
"""Init time of each Lambda binary: from exec to its first request for an event.

A fake Lambda Runtime API on 127.0.0.1 notes when GET .../invocation/next
arrives; the binary is started with the environment its Cargo metadata gives
`cargo lambda watch` (plus the variables the runtime reads), and killed once
it asks. Median of 11 runs per binary, beside a bare lambda_runtime bootstrap
(functions/probe/examples/bare.rs) measured in the same run.

    cargo build --release -p livesite-probe-fn -p livesite-evaluate-fn \\
        -p livesite-api-fn -p livesite-sweep-fn --bins --example bare
    python3 bench/init-times.py
"""

import http.server
import os
import statistics
import subprocess
import threading
import time
import tomllib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
RUNS = 11
FUNCTIONS = [("probe", "functions/probe"), ("evaluate", "functions/evaluate"),
             ("api", "functions/api"), ("sweep", "functions/sweep")]

asked = threading.Event()
asked_at = [0]


class Runtime(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/invocation/next") and not asked.is_set():
            asked_at[0] = time.monotonic_ns()
            asked.set()
        # Never hand out an event: the measurement ends at the request.
        time.sleep(5)

    def log_message(self, *args):
        pass


def serve():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def env_of(crate_dir, port):
    with open(os.path.join(ROOT, crate_dir, "Cargo.toml"), "rb") as f:
        meta = tomllib.load(f).get("package", {}).get("metadata", {})
    env = {"PATH": os.environ.get("PATH", "")}
    env.update(meta.get("lambda", {}).get("env", {}))
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "init-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "RUST_LOG": "error",
    })
    return env


def init_ms(binary, env):
    times = []
    for _ in range(RUNS):
        asked.clear()
        start = time.monotonic_ns()
        p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        ok = asked.wait(10)
        p.kill()
        p.wait()
        if not ok:
            raise SystemExit(f"{binary} never asked for an event")
        times.append((asked_at[0] - start) / 1e6)
    return statistics.median(times)


def main():
    port = serve()
    release = os.path.join(ROOT, "target", "release")
    bare = init_ms(os.path.join(release, "examples", "bare"), env_of("functions/probe", port))
    print(f"| bare lambda_runtime bootstrap | {bare:.1f} ms | 1.0x |")
    for name, crate in FUNCTIONS:
        ms = init_ms(os.path.join(release, name), env_of(crate, port))
        print(f"| {name} | {ms:.1f} ms | {ms / bare:.1f}x |")


if __name__ == "__main__":
    main()
