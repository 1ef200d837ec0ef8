# The two commands a newcomer needs (see README.md):
#   make demo   — install what is missing, then run the quick start
#   make test   — install what is missing, start a private ClickHouse, run every test

.PHONY: demo test build bench

build:
	go build -o trustpipe ./cmd/trustpipe

test:
	.ci/test.sh

bench:
	.ci/bench.sh

demo: build
	.ci/demo.sh $(ARGS)
