# livesite: the two commands everyone needs are `make demo` and `make test`.

CARGO ?= cargo

.PHONY: demo test lint unit build lambdas emulator bench mutants clean

## Runs the monitor end to end on this machine: a simulated portal fails for
## 35 minutes (on an accelerated clock) and recovers; no AWS account needed.
demo:
	$(CARGO) run --quiet -p livesite -- demo

## Every check and every test, installing what they need.
test:
	tests/run-all.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

unit:
	$(CARGO) test --workspace

build:
	$(CARGO) build --release -p livesite

## The Lambda binaries for arm64, as SAM deploys them (needs cargo-lambda: tests/setup-venv.sh).
lambdas:
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --arm64 -p livesite-probe-fn -p livesite-evaluate-fn -p livesite-api-fn -p livesite-sweep-fn

## A local AWS emulator on 127.0.0.1:5000 with livesite's resources, for `cargo lambda watch`.
emulator:
	tests/setup-venv.sh
	.venv/bin/moto_server -H 127.0.0.1 -p 5000 & sleep 3; .venv/bin/python infra/emulator-resources.py

## Side by side, one run: the prober against prometheus-blackbox-exporter and
## curl on the same loopback HTTP and HTTPS portals (CPU per probe, latency),
## then the evaluator's decisions a second. Not part of `make test`: numbers,
## not verdicts (docs/measurements.md). The round on the probe function's CPU
## share is `sudo bench/round-share.sh`, init times `bench/init-times.py`.
bench:
	tests/setup-bench.sh
	python3 bench/side-by-side.py

## Mutation testing of the core's rules with the core's own tests (about an
## hour on two cores; not in `make test`). Per-file figures: docs/measurements.md.
mutants:
	command -v cargo-mutants >/dev/null || $(CARGO) install cargo-mutants --locked
	$(CARGO) mutants -p livesite-core --test-workspace false --timeout 30

clean:
	$(CARGO) clean
