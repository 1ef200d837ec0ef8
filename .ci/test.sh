#!/usr/bin/env bash
# The project's whole test suite, as the README's test command (`make test`)
# and CI (`.ci/run`) run it: installs what the tests need from Debian, starts
# a private ClickHouse 18.16 (own data dir and ports), fetches current
# ClickHouse as chDB's in-process engine (.ci/chdb.sh), then vets and runs
# every Go test with the race detector. Under CI=true no integration test
# may skip.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server)
command -v clickhouse-client >/dev/null || need+=(clickhouse-client)
# prometheus: promtool (rule unit tests) and the server (alerting end-to-end test)
{ command -v promtool && command -v prometheus; } >/dev/null || need+=(prometheus)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v amtool >/dev/null || need+=(prometheus-alertmanager)
# The report page's browser test renders it in headless Chromium.
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "test: installing ${need[*]} from Debian" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

go mod download

# Current ClickHouse beside the 18.16 server: the tests compare every
# statement on both (sink/chdbtest). Without CI a failed fetch only makes
# those tests skip.
if [ -z "${TRUSTPIPE_TEST_CHDB_LIB:-}" ]; then
  if lib=$(.ci/chdb.sh); then
    export TRUSTPIPE_TEST_CHDB_LIB=$lib
  elif [ "${CI:-}" = true ]; then
    echo "test: cannot fetch current ClickHouse (chDB) under CI=true" >&2
    exit 1
  else
    echo "test: cannot fetch current ClickHouse (chDB): its comparison tests will skip" >&2
  fi
fi

# Servers this script started, stopped on exit.
cleanup=()
trap 'for c in "${cleanup[@]}"; do $c; done' EXIT
chdir=${TRUSTPIPE_TEST_CLICKHOUSE_DIR:-$PWD/.tmp/clickhouse-test}
chport=${TRUSTPIPE_TEST_CLICKHOUSE_PORT:-19000}
if [ -z "${TRUSTPIPE_TEST_CLICKHOUSE_ADDR:-}" ]; then
  go run ./cmd/localclickhouse start "$chdir" "$chport"
  cleanup+=("go run ./cmd/localclickhouse stop $chdir")
  export TRUSTPIPE_TEST_CLICKHOUSE_ADDR=127.0.0.1:$chport
fi

# The 2 shards x 2 replicas cluster (and its ZooKeeper) of the cluster
# tests, from the same Debian packages.
cldir=${TRUSTPIPE_TEST_CLICKHOUSE_CLUSTER_DIR:-$PWD/.tmp/clickhouse-cluster}
if [ -z "${TRUSTPIPE_TEST_CLICKHOUSE_CLUSTER_DIR:-}" ]; then
  go run ./cmd/localclickhouse start-cluster "$cldir" "${TRUSTPIPE_TEST_CLICKHOUSE_CLUSTER_PORT:-19200}"
  cleanup+=("go run ./cmd/localclickhouse stop-cluster $cldir")
  export TRUSTPIPE_TEST_CLICKHOUSE_CLUSTER_DIR=$cldir
fi

go vet ./...
# Every package under the race detector, except the end-to-end tests: they
# run the trustpipe binary — built with -race by their TestMain — as a
# subprocess, while the test process itself hosts the in-process Kafka
# broker, which under -race is too slow for the 20-minute CI budget.
go test -race -count=1 -timeout 15m $(go list ./... | grep -v '/cmd/trustpipe$') "$@"
go test -count=1 -timeout 20m ./cmd/trustpipe "$@"
