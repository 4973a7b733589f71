# livesite: the two commands everyone needs are `make demo` and `make test`.

CARGO ?= cargo

.PHONY: demo test lint unit build lambdas emulator bench clean

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

clean:
	$(CARGO) clean
