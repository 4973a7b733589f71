# livesite: the two commands everyone needs are `make demo` and `make test`.

CARGO ?= cargo

.PHONY: demo test lint unit build bench clean

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

clean:
	$(CARGO) clean
