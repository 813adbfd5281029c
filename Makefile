# breakerbox: every module of the repository is driven from here.
# `make test` is what CI runs (through .ci/run); `make demo` runs the demo.

GO      ?= go
MODULES := $(shell find . -name go.mod -not -path '*/testdata/*' -exec dirname {} \; | sort)
BENCHTIME ?= 1s
BENCHCOUNT ?= 6

.PHONY: test vet tidy-check deps-check race demo bench fmt-check

test: fmt-check vet tidy-check deps-check race

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@set -e; for m in $(MODULES); do echo "== vet $$m"; (cd $$m && $(GO) vet ./...); done

tidy-check:
	@set -e; mod=$$(mktemp); sum=$$(mktemp); \
	trap 'rm -f "$$mod" "$$sum"' EXIT; trap 'exit 1' HUP INT TERM; \
	for m in $(MODULES); do \
		(cd $$m && cp go.mod "$$mod" && hadsum=0 && if [ -f go.sum ]; then cp go.sum "$$sum"; hadsum=1; fi && \
		$(GO) mod tidy && \
		if ! cmp -s go.mod "$$mod" || \
			{ [ $$hadsum = 1 ] && ! cmp -s go.sum "$$sum"; } || { [ $$hadsum = 0 ] && [ -f go.sum ]; }; then \
			echo "go mod tidy changes $$m/go.mod or go.sum; run it and commit"; \
			cp "$$mod" go.mod; if [ $$hadsum = 1 ]; then cp "$$sum" go.sum; else rm -f go.sum; fi; exit 1; fi); \
	done

# Every module requires one version of each shared dependency (e2e/apmtool,
# the pinned Jaeger build, is exempt; see the script).
deps-check:
	@sh scripts/deps-check.sh

race:
	@set -e; for m in $(MODULES); do echo "== test $$m"; (cd $$m && $(GO) test -race -count=1 ./...); done
	@# Stripes follow goroutine stacks only without the race detector.
	$(GO) test -count=1 ./internal/stripe

# The storefront demo (examples/storefront); pass flags with DEMOFLAGS,
# such as DEMOFLAGS="-tour=false -ops-port 0". It builds the demo into
# DEMOBIN and runs that, not `go run`: `go run` exits 1 after a Ctrl-C even
# when the demo stops cleanly, which make reports as an error. `exec`, so
# that no shell stands between make and the demo (a shell killed by the
# Ctrl-C is an error too).
DEMOBIN ?= $(or $(TMPDIR),/tmp)/breakerbox-storefront-demo
demo:
	$(GO) -C examples build -o $(DEMOBIN) ./storefront
	exec $(DEMOBIN) $(DEMOFLAGS)

bench:
	cd benchmarks && $(GO) test -run '^$$' -bench . -benchmem -cpu 1,2 -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./... | tee bench.txt
