package sink

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// This file turns the single-node schema into its cluster form
// (Config.Cluster, DESIGN.md "Scaling out"), so every table, migration and
// view is written once, for one node, and the cluster variant is derived:
//
//   - every statement runs ON CLUSTER, so the schema exists on every node;
//   - a storage table db.t becomes db.t_local, a Replicated…MergeTree whose
//     ZooKeeper path is built from the {shard} and {replica} macros, plus
//     db.t, a Distributed table over every shard's db.t_local. Writes and
//     reads keep naming db.t: inserts are routed to the shards, and the
//     views, the report and the read-back read the whole cluster;
//   - the sharding key keeps each (topic, partition, block) on one shard
//     (or, for a table without those columns, each sorting key), so all
//     versions of a row meet on one shard, where FINAL replaces them exactly.

// LocalSuffix names a storage table's shard-local part on a cluster.
const LocalSuffix = "_local"

var (
	createTableRe = regexp.MustCompile(`(?s)^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+) \((.*)\) ENGINE = (\w*MergeTree)\(([^)]*)\)(.*)$`)
	orderByRe     = regexp.MustCompile(`(?s)\bORDER BY (\(.*?\)|\w+)`)
	alterTableRe  = regexp.MustCompile(`(?s)^ALTER TABLE (\w+)\.(\w+) (.*)$`)
	createViewRe  = regexp.MustCompile(`(?s)^(CREATE VIEW (?:IF NOT EXISTS )?\w+\.\w+) (AS .*)$`)
	appendableRe  = regexp.MustCompile(`(?s)^(CREATE DATABASE IF NOT EXISTS \w+|DROP TABLE IF EXISTS \w+\.\w+|DROP DATABASE IF EXISTS \w+|RENAME TABLE .*|EXCHANGE TABLES .*)$`)
)

// blockKey is the sharding key of tables keyed by block: a block's count
// rows, ledger row and re-reads all land on one shard.
var blockKey = []string{"topic", "partition", "block"}

// onCluster returns the statements that apply the single-node DDL statement
// q to every node of cluster. A statement it does not know is an error, so
// a new kind of schema change cannot silently stay single-node.
func onCluster(cluster, q string) ([]string, error) {
	q = strings.TrimSpace(q)
	on := " ON CLUSTER " + cluster
	if m := createTableRe.FindStringSubmatch(q); m != nil {
		db, table, columns, engine, args, rest := m[1], m[2], m[3], m[4], strings.TrimSpace(m[5]), m[6]
		key, err := shardingKey(table, columns, rest)
		if err != nil {
			return nil, err
		}
		replicated := fmt.Sprintf("'/clickhouse/tables/{shard}/%s.%s', '{replica}'", db, table)
		if args != "" {
			replicated += ", " + args
		}
		local := table + LocalSuffix
		return []string{
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s (%s) ENGINE = Replicated%s(%s)%s", db, local, on, columns, engine, replicated, rest),
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s AS %s.%s ENGINE = Distributed(%s, %s, %s, cityHash64(%s))",
				db, table, on, db, local, cluster, db, local, strings.Join(key, ", ")),
		}, nil
	}
	if m := alterTableRe.FindStringSubmatch(q); m != nil {
		// Local part first: the Distributed table must not announce a
		// column the shards cannot serve yet.
		return []string{
			fmt.Sprintf("ALTER TABLE %s.%s%s%s %s", m[1], m[2], LocalSuffix, on, m[3]),
			fmt.Sprintf("ALTER TABLE %s.%s%s %s", m[1], m[2], on, m[3]),
		}, nil
	}
	if m := createViewRe.FindStringSubmatch(q); m != nil {
		return []string{m[1] + on + " " + m[2]}, nil
	}
	if appendableRe.MatchString(q) {
		return []string{q + on}, nil
	}
	return nil, fmt.Errorf("no cluster form for statement %q", firstLine(q))
}

// shardingKey returns the columns a table is sharded by: (topic,
// partition, block) when its sorting key has them, else the whole sorting
// key. Either way rows that ReplacingMergeTree must merge share a shard.
func shardingKey(table, columns, rest string) ([]string, error) {
	m := orderByRe.FindStringSubmatch(rest)
	if m == nil {
		return nil, fmt.Errorf("table %s: no ORDER BY to shard by", table)
	}
	var key []string
	for _, c := range strings.Split(strings.Trim(m[1], "()"), ",") {
		key = append(key, strings.TrimSpace(c))
	}
	if !slices.ContainsFunc(blockKey, func(c string) bool { return !slices.Contains(key, c) }) {
		return blockKey, nil
	}
	for _, c := range key {
		if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(c) + `\s`).MatchString(columns) {
			return nil, fmt.Errorf("table %s: sorting key part %q is not a plain column", table, c)
		}
	}
	return key, nil
}
