// Package localserver runs a private ClickHouse server as a child process —
// its own data directory, ports and users file — for the demo and the test
// suite on machines where Debian's clickhouse-server is installed but no
// server is configured. It never touches a system-wide installation.
package localserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// Binary is where Debian's clickhouse-server package installs the server.
const Binary = "/usr/sbin/clickhouse-server"

// InstallHint tells a person how to get a ClickHouse server.
const InstallHint = `no ClickHouse server is reachable and clickhouse-server is not installed.
  Install one:  sudo apt-get install clickhouse-server clickhouse-client   (Debian/Ubuntu)
  or start one: docker compose up -d clickhouse   (from the repository root)
  then point trustpipe at its native port (default 127.0.0.1:9000).`

// Installed reports whether the server binary is present.
func Installed() bool {
	_, err := os.Stat(Binary)
	return err == nil
}

var configTemplate = template.Must(template.New("config").Parse(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{{.Dir}}/log/server.log</log><errorlog>{{.Dir}}/log/error.log</errorlog><size>100M</size><count>2</count></logger>
  <tcp_port>{{.Port}}</tcp_port>
  <http_port>{{.HTTPPort}}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>{{.CacheBytes}}</uncompressed_cache_size>
  <mark_cache_size>{{.CacheBytes}}</mark_cache_size>
  <path>{{.Dir}}/data/</path>
  <tmp_path>{{.Dir}}/tmp/</tmp_path>
  <user_files_path>{{.Dir}}/user_files/</user_files_path>
  <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
  <users_config>{{.Dir}}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <!-- librdkafka settings of the Kafka table engine, which the end-to-end
       benchmark compares against: a new consumer group starts at the
       earliest offset, like trustpipe's. -->
  <kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>
{{.Extra}}</yandex>
`))

const usersXML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`

// Server is a running private ClickHouse.
type Server struct {
	Dir  string
	Port int // native protocol; HTTP is Port+1
	cmd  *exec.Cmd
}

// Addr is the native-protocol address.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Options tune Start.
type Options struct {
	// Detach keeps the server running after this process exits (the test
	// suite's start/stop commands). Otherwise the server is killed with its
	// parent, so a demo never leaves one behind.
	Detach bool
	// Wait bounds how long Start waits for the server to answer.
	Wait time.Duration
	// extra is XML inserted into the server's config (a cluster node's
	// replication, ZooKeeper, remote_servers and macros settings).
	extra string
	// cacheBytes sizes the mark and uncompressed caches; 0 means 256 MiB.
	cacheBytes int
}

// Start writes a config under dir and starts the server on port (0 picks a
// free one), waiting until it accepts connections.
func Start(ctx context.Context, dir string, port int, opt Options) (*Server, error) {
	if !Installed() {
		return nil, errors.New(InstallHint)
	}
	if opt.Wait == 0 {
		opt.Wait = 60 * time.Second
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("clickhouse dir: %w", err)
		}
	}
	if port == 0 {
		if port, err = freePortPair(); err != nil {
			return nil, err
		}
	}
	var cfg strings.Builder
	if opt.cacheBytes == 0 {
		opt.cacheBytes = 256 << 20
	}
	vars := map[string]any{"Dir": dir, "Port": port, "HTTPPort": port + 1, "Extra": opt.extra, "CacheBytes": opt.cacheBytes}
	if err := configTemplate.Execute(&cfg, vars); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg.String()), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(usersXML), 0o644); err != nil {
		return nil, err
	}
	// A server already on the port would answer the readiness check below
	// for the new one, which then exits, leaving a pid file of nothing.
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond); err == nil {
		conn.Close()
		return nil, fmt.Errorf("port %d is in use: is a server already running from %s?", port, dir)
	}
	logFile, err := os.Create(filepath.Join(dir, "log", "stdout.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(Binary, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !opt.Detach {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", Binary, err)
	}
	s := &Server{Dir: dir, Port: port, cmd: cmd}
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(opt.Wait)
	for {
		conn, err := net.DialTimeout("tcp", s.Addr(), 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return s, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("clickhouse-server exited during start-up; see %s/log/error.log and stdout.log", dir)
		case <-ctx.Done():
			_ = s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, fmt.Errorf("clickhouse-server did not accept connections on %s within %s; see %s/log", s.Addr(), opt.Wait, dir)
		}
	}
}

// Stop terminates the server started by Start.
func (s *Server) Stop() error {
	return StopDir(s.Dir)
}

// StopDir terminates the server whose pid file is in dir, waiting for it to
// exit (so its ports and files are free afterwards).
func StopDir(dir string) error {
	pid, err := readPid(filepath.Join(dir, "pid"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return os.Remove(filepath.Join(dir, "pid"))
}

func readPid(file string) (int, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", file, err)
	}
	return pid, nil
}

// freePort returns a port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePortPair finds a port p such that p and p+1 are free.
func freePortPair() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1)); err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free port pair for a local ClickHouse")
}
