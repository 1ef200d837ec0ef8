#!/usr/bin/env bash
# Starts a private ClickHouse server (own data dir and ports) for tests and
# the demo, installing Debian's clickhouse-server if it is missing.
#
#   .ci/clickhouse.sh start DIR PORT   # native protocol on PORT, HTTP on PORT+1
#   .ci/clickhouse.sh stop DIR
#
# Prints nothing on success except where it waits; exits non-zero with the
# server's log tail when the server does not come up.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
port=${3:-19000}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }

ensure_installed() {
  if [ -x /usr/sbin/clickhouse-server ] && command -v clickhouse-client >/dev/null; then
    return
  fi
  echo "clickhouse: installing Debian's clickhouse-server and clickhouse-client" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

start() {
  ensure_installed
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/log"
  dir=$(cd "$dir" && pwd)
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog><size>100M</size><count>2</count></logger>
  <tcp_port>$port</tcp_port>
  <http_port>$((port + 1))</http_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
</yandex>
XML
  cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><load_balancing>random</load_balancing></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "clickhouse: already running on 127.0.0.1:$port (pid $(cat "$dir/pid"))" >&2
    return
  fi
  nohup /usr/sbin/clickhouse-server --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 120); do
    if clickhouse-client --port "$port" --query "SELECT 1" >/dev/null 2>&1; then
      echo "clickhouse: ready on 127.0.0.1:$port ($(clickhouse-client --port "$port" --query 'SELECT version()'))" >&2
      return
    fi
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  echo "clickhouse: server did not start; log tail:" >&2
  tail -n 30 "$dir/log/error.log" "$dir/log/stdout.log" >&2 2>/dev/null || true
  exit 1
}

stop() {
  if [ -f "$dir/pid" ]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$(cat "$dir/pid")" 2>/dev/null || break; sleep 0.25; done
    rm -f "$dir/pid"
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2 ;;
esac
