# The two commands a newcomer needs (see README.md):
#   make demo   — install what is missing, then run the quick start
#   make test   — install what is missing, start a private ClickHouse, run every test

.PHONY: demo test build image bench

# Version stamps (`trustpipe version`, the trustpipe_build_info metric):
# the nearest tag, the commit and the commit's time, so two builds of the
# same commit are identical. Override on the command line, e.g.
# `make build VERSION=v1.2.0`.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

build:
	go build -ldflags "$(LDFLAGS)" -o trustpipe ./cmd/trustpipe

# The container image, stamped like `make build`.
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) -t trustpipe:$(VERSION) .

test:
	.ci/test.sh

bench:
	.ci/bench.sh

demo: build
	.ci/demo.sh $(ARGS)
