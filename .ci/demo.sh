#!/usr/bin/env bash
# `make demo`: on a fresh Debian machine, installs what the demo needs
# (Debian's clickhouse-server, unless a ClickHouse is configured), builds
# trustpipe and runs `trustpipe demo`. Extra arguments go to the demo,
# e.g. `make demo ARGS=--once`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TRUSTPIPE_CLICKHOUSE_ADDR:-}" ] && [ ! -x /usr/sbin/clickhouse-server ]; then
  echo "demo: installing Debian's clickhouse-server (a private server is started for the demo; nothing runs system-wide)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
fi
make -s build   # stamps version, commit and date (trustpipe version)
# The default ClickHouse address is only used when something answers there;
# otherwise the demo starts its own private server.
exec ./trustpipe demo "$@"
