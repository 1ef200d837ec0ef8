#!/usr/bin/env bash
# `make bench`: the performance targets of DESIGN.md, measured by Go
# benchmarks (never by timed assertions in tests):
#   - decode + validate (+ pseudonymize + aggregate) per core
#   - end to end, Kafka → exact rows in ClickHouse, beside a bare kafka-go loop
# Starts a private ClickHouse like `make test` does.
set -euo pipefail
cd "$(dirname "$0")/.."
chdir=$PWD/.tmp/clickhouse-bench
chport=${TRUSTPIPE_BENCH_CLICKHOUSE_PORT:-19100}
if [ -z "${TRUSTPIPE_TEST_CLICKHOUSE_ADDR:-}" ]; then
  go run ./cmd/localclickhouse start "$chdir" "$chport"
  trap 'go run ./cmd/localclickhouse stop "$chdir"' EXIT
  export TRUSTPIPE_TEST_CLICKHOUSE_ADDR=127.0.0.1:$chport
  # The benchmark charges the server's CPU time to each contender.
  export TRUSTPIPE_BENCH_CLICKHOUSE_PID=$(cat "$chdir/pid")
fi
go test -run '^$' -bench 'Decode|Aggregate|AppendJSON' -benchmem -benchtime 2s ./consumers/... ./aggregate/...
go test -run '^$' -bench 'EndToEnd' -benchtime 1x -timeout 30m ./consumers/
