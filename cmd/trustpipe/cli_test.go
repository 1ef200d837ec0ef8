package main

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trustpipe/trustpipe/sink/sinktest"
)

type result struct {
	stdout, stderr string
	code           int
}

// runBinary runs the built trustpipe with exactly env (nothing inherited).
func runBinary(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append([]string{}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("trustpipe %v: %v", args, err)
	}
	return r
}

// countingListener accepts and drops connections, counting them: pointed
// at by both Kafka and ClickHouse settings, it proves a command did no I/O.
func countingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), accepted
}

var singleDashFlag = regexp.MustCompile(`(?m)^\s+-[A-Za-z]`)

// Every command answers --help (and -h) on stdout with exit code 0, lists
// its flags GNU-style, and run's help lists every variable.
func TestHelpEveryCommand(t *testing.T) {
	var g genOptions
	var r replayOptions
	var s swapOptions
	var d demoOptions
	flagsOf := map[string]*flag.FlagSet{
		"gen": genFlags(&g), "replay": replayFlags(&r), "replay swap": swapFlags(&s), "demo": demoFlags(&d),
	}
	names := []string{"replay swap"}
	for n := range commands {
		names = append(names, n)
	}
	for _, name := range names {
		for _, h := range []string{"--help", "-h"} {
			args := append(strings.Fields(name), h)
			res := runBinary(t, nil, args...)
			if res.code != 0 || res.stderr != "" {
				t.Errorf("trustpipe %s: exit %d, stderr %q; want 0 and nothing", strings.Join(args, " "), res.code, res.stderr)
				continue
			}
			if !strings.Contains(res.stdout, "Usage:") || !strings.Contains(res.stdout, "trustpipe "+name) {
				t.Errorf("trustpipe %s: no usage line:\n%s", strings.Join(args, " "), res.stdout)
			}
			if singleDashFlag.MatchString(res.stdout) {
				t.Errorf("trustpipe %s: a flag is shown with a single dash:\n%s", strings.Join(args, " "), res.stdout)
			}
			if fs := flagsOf[name]; fs != nil {
				fs.VisitAll(func(f *flag.Flag) {
					if !strings.Contains(res.stdout, "  --"+f.Name+" ") && !strings.Contains(res.stdout, "  --"+f.Name+"\n") {
						t.Errorf("trustpipe %s --help does not list --%s", name, f.Name)
					}
				})
			}
		}
	}
	report := runBinary(t, nil, "report", "--help").stdout
	for _, f := range []string{"--from", "--to", "--campaign", "--channel", "--segment", "--source", "--compare-to", "--format"} {
		if !strings.Contains(report, f) {
			t.Errorf("report --help lacks %s", f)
		}
	}
	run := runBinary(t, nil, "run", "--help").stdout
	for _, r := range helpRows() {
		if !strings.Contains(run, r.name) {
			t.Errorf("run --help lacks %s", r.name)
		}
	}
	if res := runBinary(t, nil, "run", "--nope"); res.code != 2 || !strings.Contains(res.stderr, "see `trustpipe run --help`") {
		t.Errorf("run --nope: exit %d, stderr %q; want 2 and a pointer to --help", res.code, res.stderr)
	}
}

func TestVersionCommand(t *testing.T) {
	a, b := runBinary(t, nil, "version"), runBinary(t, nil, "--version")
	if a.code != 0 || b.code != 0 || a.stdout != b.stdout {
		t.Fatalf("version: %+v; --version: %+v; want the same output, exit 0", a, b)
	}
	if !regexp.MustCompile(`^trustpipe \S+ \(commit \S+, built \S+, go\S+\)\n$`).MatchString(a.stdout) {
		t.Errorf("version output %q", a.stdout)
	}
}

// A bad value stops every command with one line naming the variable, the
// value and what is expected, exit code 2, before any connection.
func TestConfigBadValueExitsTwoBeforeIO(t *testing.T) {
	addr, accepted := countingListener(t)
	base := []string{"TRUSTPIPE_KAFKA_BROKERS=" + addr, "TRUSTPIPE_CLICKHOUSE_ADDR=" + addr, "TRUSTPIPE_PSEUDONYM_KEY=0123456789abcdef0123"}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"TRUSTPIPE_BLOCK_SIZE=10k"}, `TRUSTPIPE_BLOCK_SIZE="10k": expected a whole number, e.g. 10000 (no units or separators)`},
		{[]string{"TRUSTPIPE_FLUSH_INTERVAL=1"}, `TRUSTPIPE_FLUSH_INTERVAL="1": expected a duration with a unit: ms, s, m or h, e.g. 500ms, 30s, 5m, 1h30m`},
		{[]string{"TRUSTPIPE_QUEUE_SIZE=1e3"}, `TRUSTPIPE_QUEUE_SIZE="1e3": expected a whole number, e.g. 10000 (no units or separators)`},
		{[]string{"TRUSTPIPE_BLOCK_SIZE=010"}, `TRUSTPIPE_BLOCK_SIZE="010": expected a whole number, e.g. 10000 (no units or separators)`},
		{[]string{"TRUSTPIPE_MAX_PENDING_ROWS=1_000"}, `TRUSTPIPE_MAX_PENDING_ROWS="1_000": expected a whole number, e.g. 10000 (no units or separators)`},
		{[]string{"TRUSTPIPE_MIGRATE=maybe"}, `TRUSTPIPE_MIGRATE="maybe": expected true or false`},
		{[]string{"TRUSTPIPE_BUCKET_SIZE=7m"}, `TRUSTPIPE_BUCKET_SIZE="7m": the bucket size must be at least 1s and divide 24h evenly (e.g. 1m, 5m, 1h)`},
		{[]string{"TRUSTPIPE_BLOCK_SIZE=0"}, `TRUSTPIPE_BLOCK_SIZE="0": the block size must be a whole number of offsets from 1 to 1000000`},
		{[]string{"TRUSTPIPE_KAFKA_TOPICS="}, `TRUSTPIPE_KAFKA_TOPICS="": at least one input topic is needed`},
		{[]string{"TRUSTPIPE_KAFKA_TOPICS=a,,b"}, `TRUSTPIPE_KAFKA_TOPICS="a,,b": an input topic must be a valid Kafka topic name: "": use 1 to 249 letters, digits, '.', '_' or '-'`},
		{[]string{"TRUSTPIPE_KAFKA_BROKERS="}, `TRUSTPIPE_KAFKA_BROKERS="": at least one Kafka broker (host:port) is needed`},
		{[]string{"TRUSTPIPE_KAFKA_GROUP="}, `TRUSTPIPE_KAFKA_GROUP="": a consumer group id is needed`},
		{[]string{"TRUSTPIPE_KAFKA_DLQ_TOPIC=trust-events"}, `TRUSTPIPE_KAFKA_DLQ_TOPIC="trust-events": the dead-letter topic must not be an input topic (rejected records would be read again)`},
		{[]string{"TRUSTPIPE_KAFKA_TOPICS=a,b", "TRUSTPIPE_KAFKA_DLQ_TOPIC=b"}, `TRUSTPIPE_KAFKA_DLQ_TOPIC="b": the dead-letter topic must not be an input topic (rejected records would be read again)`},
		{[]string{"TRUSTPIPE_CLICKHOUSE_DATABASE=trust-pipe"}, `TRUSTPIPE_CLICKHOUSE_DATABASE="trust-pipe": the ClickHouse database name must be letters, digits and underscores, not starting with a digit`},
		{[]string{"TRUSTPIPE_READBACK_BREAKDOWN=contact"}, `TRUSTPIPE_READBACK_BREAKDOWN="contact": the breakdown must be one of campaign_id, channel, segment, source, or empty for none`},
		{[]string{"TRUSTPIPE_INDEX_COMPONENTS=foo"}, `TRUSTPIPE_INDEX_COMPONENTS="foo": invalid Trust Index components: "foo": expected name:key=value[,key=value]`},
		{[]string{"TRUSTPIPE_LOG_LEVEL=loud"}, `TRUSTPIPE_LOG_LEVEL="loud": expected debug, info, warn or error`},
		{[]string{"TRUSTPIPE_KAFKA_SASL_MECHANISM=gssapi"}, `TRUSTPIPE_KAFKA_SASL_MECHANISM="gssapi": expected plain, scram-sha-256 or scram-sha-512 (or empty for no SASL)`},
		{[]string{"TRUSTPIPE_PSEUDONYM_KEY=short"}, `TRUSTPIPE_PSEUDONYM_KEY: the pseudonym key must be a secret of at least 16 bytes (e.g. the output of ` + "`openssl rand -hex 32`" + `)`},
		{[]string{"TRUSTPIPE_CLICKHOUSE_PASSWORD=x", "TRUSTPIPE_CLICKHOUSE_PASSWORD_FILE=/dev/null"}, `TRUSTPIPE_CLICKHOUSE_PASSWORD: both it and TRUSTPIPE_CLICKHOUSE_PASSWORD_FILE are set; set only one`},
	} {
		res := runBinary(t, append(append([]string{}, base...), c.env...), "run")
		if want := "trustpipe run: " + c.want + "\n"; res.code != 2 || res.stderr != want {
			t.Errorf("%v: exit %d, stderr\n%q\nwant exit 2 and\n%q", c.env, res.code, res.stderr, want)
		}
	}
	// The other commands check the same way (gen, migrate and report do
	// not need the pseudonym key).
	for _, args := range [][]string{{"gen", "--events", "1"}, {"migrate"}, {"report"}, {"replay", "--all"}} {
		res := runBinary(t, append(append([]string{}, base...), "TRUSTPIPE_BLOCK_SIZE=10k"), args...)
		if res.code != 2 || !strings.Contains(res.stderr, `TRUSTPIPE_BLOCK_SIZE="10k"`) || strings.Count(res.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, res.code, res.stderr)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections were made before the configuration was refused", n)
	}
}

// LOG_LEVEL, BLOCK_SIZE, CLICKHOUSE_ADDR… without the prefix are not read:
// the command gets past the configuration and fails on the (prefixed)
// ClickHouse address instead, exit code 1.
func TestConfigUnprefixedVariablesIgnored(t *testing.T) {
	addr, _ := countingListener(t)
	res := runBinary(t, []string{"LOG_LEVEL=bogus", "BLOCK_SIZE=10k", "BUCKET_SIZE=7m", "CLICKHOUSE_ADDR=127.0.0.1:1",
		"TRUSTPIPE_CLICKHOUSE_ADDR=" + addr}, "migrate")
	if res.code != 1 || strings.Contains(res.stderr, "LOG_LEVEL") || strings.Contains(res.stderr, "SIZE") ||
		!strings.Contains(res.stderr, "ClickHouse at "+addr) {
		t.Fatalf("exit %d, stderr %q: want the configured address to be tried, the unprefixed variables ignored", res.code, res.stderr)
	}
}

// Connection errors say which variables to check: credentials for a
// refused login (not the address), the brokers for a dead Kafka; run
// does not log "running" without Kafka, and touches no ClickHouse.
func TestConfigConnectionAdvice(t *testing.T) {
	chAddr, chConns := countingListener(t)
	dead := "127.0.0.1:1"
	res := runBinary(t, []string{"TRUSTPIPE_KAFKA_BROKERS=" + dead, "TRUSTPIPE_CLICKHOUSE_ADDR=" + chAddr,
		"TRUSTPIPE_PSEUDONYM_KEY=0123456789abcdef0123"}, "run")
	if res.code != 1 || strings.Contains(res.stderr, "trustpipe running") || !strings.Contains(res.stderr, "no Kafka broker answered") ||
		!strings.Contains(res.stderr, "\n  check TRUSTPIPE_KAFKA_BROKERS") || chConns.Load() != 0 {
		t.Errorf("run, dead broker: exit %d, %d ClickHouse connections, stderr %q", res.code, chConns.Load(), res.stderr)
	}
	res = runBinary(t, []string{"TRUSTPIPE_KAFKA_BROKERS=" + dead}, "gen", "--events", "10")
	if res.code != 1 || !strings.Contains(res.stderr, "\n  check TRUSTPIPE_KAFKA_BROKERS") {
		t.Errorf("gen, dead broker: exit %d, stderr %q", res.code, res.stderr)
	}
	res = runBinary(t, []string{"TRUSTPIPE_CLICKHOUSE_ADDR=" + dead}, "migrate")
	if res.code != 1 || !strings.Contains(res.stderr, "\n  check TRUSTPIPE_CLICKHOUSE_ADDR") {
		t.Errorf("migrate, dead ClickHouse: exit %d, stderr %q", res.code, res.stderr)
	}
	addr := sinktest.Addr(t)
	res = runBinary(t, []string{"TRUSTPIPE_CLICKHOUSE_ADDR=" + addr, "TRUSTPIPE_CLICKHOUSE_PASSWORD=not-the-password"}, "migrate")
	if res.code != 1 || !strings.Contains(res.stderr, "check TRUSTPIPE_CLICKHOUSE_USERNAME and TRUSTPIPE_CLICKHOUSE_PASSWORD") ||
		strings.Contains(res.stderr, "CLICKHOUSE_ADDR") {
		t.Errorf("migrate, wrong password: exit %d, stderr %q; want the credentials blamed, not the address", res.code, res.stderr)
	}
}
