// Command localclickhouse starts and stops the private ClickHouse servers the
// test suite uses (see sink/localserver): one server, or a cluster of
// ZooKeeper and 2 shards x 2 replicas whose node i listens on
// BASEPORT+10+10*i (ZooKeeper on BASEPORT):
//
//	go run ./cmd/localclickhouse start DIR PORT
//	go run ./cmd/localclickhouse stop DIR
//	go run ./cmd/localclickhouse start-cluster DIR BASEPORT
//	go run ./cmd/localclickhouse stop-cluster DIR
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/trustpipe/trustpipe/sink/localserver"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "localclickhouse:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 3 && args[0] == "start":
		port, err := strconv.Atoi(args[2])
		if err != nil {
			return fmt.Errorf("port %q: %w", args[2], err)
		}
		_ = localserver.StopDir(args[1]) // a server left behind by an interrupted run
		s, err := localserver.Start(context.Background(), args[1], port, localserver.Options{Detach: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "localclickhouse: ready on %s (data in %s)\n", s.Addr(), s.Dir)
		return nil
	case len(args) == 2 && args[0] == "stop":
		return localserver.StopDir(args[1])
	case len(args) == 3 && args[0] == "start-cluster":
		port, err := strconv.Atoi(args[2])
		if err != nil {
			return fmt.Errorf("base port %q: %w", args[2], err)
		}
		opt := localserver.ClusterOptions{Shards: 2, Replicas: 2, BasePort: port, Options: localserver.Options{Detach: true}}
		c, err := localserver.StartCluster(context.Background(), args[1], opt)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "localclickhouse: cluster %s ready on %s (ZooKeeper on %d, data in %s)\n", c.Name, c.Addrs(), c.ZooKeeperPort, c.Dir)
		return nil
	case len(args) == 2 && args[0] == "stop-cluster":
		return localserver.StopCluster(args[1])
	}
	return fmt.Errorf("usage: localclickhouse start DIR PORT | stop DIR | start-cluster DIR BASEPORT | stop-cluster DIR")
}
