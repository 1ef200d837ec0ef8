package localserver

import (
	"context"
	"encoding/json"
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

// ZooKeeperJars is the class path of Debian's zookeeper package: the jar's
// manifest names every library it needs.
const ZooKeeperJars = "/usr/share/java/zookeeper.jar"

// ClusterName is the name of the private cluster in every node's
// remote_servers.
const ClusterName = "trustpipe_test"

// Node is one ClickHouse server of a private cluster.
type Node struct {
	Shard   int    `json:"shard"`   // 1-based
	Replica int    `json:"replica"` // 1-based
	Dir     string `json:"dir"`
	Port    int    `json:"port"` // native protocol; HTTP is Port+1
	// InterserverPort serves the replicas' part fetches.
	InterserverPort int `json:"interserver_port"`
}

// Addr is the node's native-protocol address.
func (n Node) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// Cluster is a private ZooKeeper and Shards x Replicas ClickHouse servers,
// described by cluster.json in its directory so another process (a test
// that kills and restarts a node) can find them.
type Cluster struct {
	Dir           string `json:"dir"`
	Name          string `json:"name"`
	ZooKeeperPort int    `json:"zookeeper_port"`
	Nodes         []Node `json:"nodes"`
}

// Addrs are the nodes' native addresses, comma-separated, in shard order:
// the form of the ClickHouse address setting (comma-separated host:port).
func (c *Cluster) Addrs() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return strings.Join(addrs, ",")
}

// ClusterOptions shape StartCluster.
type ClusterOptions struct {
	Shards, Replicas int
	// BasePort: ZooKeeper listens on it, node i (0-based) on BasePort+10+10*i
	// (native), +1 (HTTP) and +2 (interserver). 0 picks free ports.
	BasePort int
	Options
}

// nodeCacheBytes keeps the mark and uncompressed caches of a cluster node
// small: several servers share a test machine.
const nodeCacheBytes = 32 << 20

var nodeConfigTemplate = template.Must(template.New("node").Parse(`  <interserver_http_port>{{.Node.InterserverPort}}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <zookeeper>
    <node><host>127.0.0.1</host><port>{{.ZooKeeperPort}}</port></node>
    <session_timeout_ms>6000</session_timeout_ms>
  </zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <macros><shard>{{.Node.Shard}}</shard><replica>s{{.Node.Shard}}r{{.Node.Replica}}</replica></macros>
  <remote_servers>
    <{{.Name}}>{{range .Shards}}
      <shard>
        <internal_replication>true</internal_replication>{{range .}}
        <replica><host>127.0.0.1</host><port>{{.Port}}</port></replica>{{end}}
      </shard>{{end}}
    </{{.Name}}>
  </remote_servers>
  <merge_tree><replicated_deduplication_window>100</replicated_deduplication_window></merge_tree>
`))

// StartCluster starts ZooKeeper and the ClickHouse nodes under dir (a
// cluster left there by an interrupted run is stopped first) and waits
// until every node answers.
func StartCluster(ctx context.Context, dir string, opt ClusterOptions) (*Cluster, error) {
	if !Installed() {
		return nil, errors.New(InstallHint)
	}
	if _, err := os.Stat(ZooKeeperJars); err != nil {
		return nil, fmt.Errorf("zookeeper is not installed (sudo apt-get install zookeeper): %w", err)
	}
	if opt.Shards < 1 || opt.Replicas < 1 {
		return nil, fmt.Errorf("cluster of %d shards x %d replicas: both must be at least 1", opt.Shards, opt.Replicas)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := StopCluster(dir); err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Name: ClusterName}
	port := func(offset int) (int, error) {
		if opt.BasePort == 0 {
			return freePort()
		}
		return opt.BasePort + offset, nil
	}
	if c.ZooKeeperPort, err = port(0); err != nil {
		return nil, err
	}
	for s := 1; s <= opt.Shards; s++ {
		for r := 1; r <= opt.Replicas; r++ {
			i := len(c.Nodes)
			n := Node{Shard: s, Replica: r, Dir: filepath.Join(dir, fmt.Sprintf("s%dr%d", s, r))}
			if opt.BasePort == 0 {
				if n.Port, err = freePortPair(); err != nil {
					return nil, err
				}
				if n.InterserverPort, err = freePort(); err != nil {
					return nil, err
				}
			} else {
				n.Port, n.InterserverPort = opt.BasePort+10+10*i, opt.BasePort+12+10*i
			}
			c.Nodes = append(c.Nodes, n)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster dir: %w", err)
	}
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "cluster.json"), raw, 0o644); err != nil {
		return nil, err
	}
	if err := c.startZooKeeper(ctx, opt.Options); err != nil {
		return nil, err
	}
	for i := range c.Nodes {
		if err := c.StartNode(ctx, i, opt.Options); err != nil {
			_ = StopCluster(dir)
			return nil, err
		}
	}
	return c, nil
}

// LoadCluster reads the description StartCluster left in dir.
func LoadCluster(dir string) (*Cluster, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	c := &Cluster{}
	if err := json.Unmarshal(raw, c); err != nil {
		return nil, fmt.Errorf("local cluster %s: %w", dir, err)
	}
	return c, nil
}

// StartNode (re)starts node i with its generated configuration; its data
// directory is kept, so a restarted replica catches up from the others.
func (c *Cluster) StartNode(ctx context.Context, i int, opt Options) error {
	n := c.Nodes[i]
	shards := make([][]Node, 0)
	for _, m := range c.Nodes {
		if len(shards) < m.Shard {
			shards = append(shards, nil)
		}
		shards[m.Shard-1] = append(shards[m.Shard-1], m)
	}
	var extra strings.Builder
	vars := map[string]any{"Node": n, "ZooKeeperPort": c.ZooKeeperPort, "Name": c.Name, "Shards": shards}
	if err := nodeConfigTemplate.Execute(&extra, vars); err != nil {
		return err
	}
	opt.extra, opt.cacheBytes = extra.String(), nodeCacheBytes
	if _, err := Start(ctx, n.Dir, n.Port, opt); err != nil {
		return fmt.Errorf("cluster node shard %d replica %d: %w", n.Shard, n.Replica, err)
	}
	return nil
}

// KillNode SIGKILLs node i, as a crash would, and waits until it is gone.
func (c *Cluster) KillNode(i int) error {
	pidFile := filepath.Join(c.Nodes[i].Dir, "pid")
	pid, err := readPid(pidFile)
	if err != nil {
		return err
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return os.Remove(pidFile)
}

// StopCluster stops the nodes and ZooKeeper of the cluster in dir, if any.
func StopCluster(dir string) error {
	c, err := LoadCluster(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range c.Nodes {
		errs = append(errs, StopDir(n.Dir))
	}
	errs = append(errs, StopDir(filepath.Join(dir, "zookeeper")))
	return errors.Join(errs...)
}

// startZooKeeper runs Debian's ZooKeeper standalone (ZooKeeperServerMain:
// port and data directory, no config file), without its admin web server.
func (c *Cluster) startZooKeeper(ctx context.Context, opt Options) error {
	dir := filepath.Join(c.Dir, "zookeeper")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return fmt.Errorf("zookeeper dir: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC",
		"-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=ruok",
		"-cp", "/etc/zookeeper/conf:"+ZooKeeperJars,
		"org.apache.zookeeper.server.ZooKeeperServerMain",
		strconv.Itoa(c.ZooKeeperPort), filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if !opt.Detach {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start zookeeper: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	addr := "127.0.0.1:" + strconv.Itoa(c.ZooKeeperPort)
	deadline := time.Now().Add(max(opt.Wait, 60*time.Second))
	for !zooKeeperOK(addr) {
		select {
		case <-exited:
			return fmt.Errorf("zookeeper exited during start-up; see %s/zookeeper.log", dir)
		case <-ctx.Done():
			_ = StopDir(dir)
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = StopDir(dir)
			return fmt.Errorf("zookeeper did not answer on %s; see %s/zookeeper.log", addr, dir)
		}
	}
	return nil
}

// zooKeeperOK asks ZooKeeper "ruok"; it answers "imok" once it serves.
func zooKeeperOK(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("ruok")); err != nil {
		return false
	}
	buf := make([]byte, 4)
	n, _ := conn.Read(buf)
	return string(buf[:n]) == "imok"
}
