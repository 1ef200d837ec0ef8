package sink

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/trustpipe/trustpipe/aggregate/testkit"
)

// TestOnClusterGolden derives the cluster form of the whole schema — every
// migration, a shadow set of storage tables and every view — and compares
// it with testdata/cluster_ddl.golden, reviewed by hand: Replicated engines
// with the {shard}/{replica} path, Distributed tables sharded by (topic,
// partition, block) or the sorting key, ON CLUSTER everywhere.
func TestOnClusterGolden(t *testing.T) {
	var single []string
	for _, m := range migrations {
		single = append(single, m.statements("db")...)
	}
	single = append(single, storageDDL("db", LiveTables().Prefixed("shadow_"))...)
	for _, v := range baseViews("db", LiveTables()) {
		single = append(single, createView("db", v.Name, v.query("db")))
	}
	// ensureView's replacement of a changed view.
	single = append(single, "RENAME TABLE db.v TO db._old_v_1, db._new_v_1 TO db.v", "DROP TABLE IF EXISTS db._old_v_1")
	var out strings.Builder
	for _, q := range single {
		stmts, err := onCluster("c1", q)
		if err != nil {
			t.Fatalf("%s: %v", firstLine(q), err)
		}
		for _, s := range stmts {
			out.WriteString(s + ";\n\n")
		}
	}
	testkit.Golden(t, filepath.Join("testdata", "cluster_ddl.golden"), []byte(out.String()))
}

func TestOnCluster(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // nil: an error
	}{
		{"sorting key without block shards by the whole key",
			"CREATE TABLE IF NOT EXISTS d.t (\n\ta String,\n\tb Int64\n) ENGINE = MergeTree()\nORDER BY (a, b)",
			[]string{
				"CREATE TABLE IF NOT EXISTS d.t_local ON CLUSTER c (\n\ta String,\n\tb Int64\n) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/d.t', '{replica}')\nORDER BY (a, b)",
				"CREATE TABLE IF NOT EXISTS d.t ON CLUSTER c AS d.t_local ENGINE = Distributed(c, d, t_local, cityHash64(a, b))",
			}},
		{"a bare sorting column",
			"CREATE TABLE IF NOT EXISTS d.m (\n\tversion UInt32\n) ENGINE = ReplacingMergeTree() ORDER BY version",
			[]string{
				"CREATE TABLE IF NOT EXISTS d.m_local ON CLUSTER c (\n\tversion UInt32\n) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/d.m', '{replica}') ORDER BY version",
				"CREATE TABLE IF NOT EXISTS d.m ON CLUSTER c AS d.m_local ENGINE = Distributed(c, d, m_local, cityHash64(version))",
			}},
		{"an expression in the sorting key cannot be sharded by",
			"CREATE TABLE IF NOT EXISTS d.t (\n\ta DateTime\n) ENGINE = MergeTree() ORDER BY (toDate(a))", nil},
		{"no sorting key", "CREATE TABLE IF NOT EXISTS d.t (\n\ta String\n) ENGINE = MergeTree()", nil},
		{"alter: local part first",
			"ALTER TABLE d.t ADD COLUMN x UInt8 DEFAULT 0",
			[]string{"ALTER TABLE d.t_local ON CLUSTER c ADD COLUMN x UInt8 DEFAULT 0", "ALTER TABLE d.t ON CLUSTER c ADD COLUMN x UInt8 DEFAULT 0"}},
		{"rename", "RENAME TABLE d.a TO d.b, d.c TO d.a", []string{"RENAME TABLE d.a TO d.b, d.c TO d.a ON CLUSTER c"}},
		{"view", "CREATE VIEW d.v AS SELECT 1", []string{"CREATE VIEW d.v ON CLUSTER c AS SELECT 1"}},
		{"drop database", "DROP DATABASE IF EXISTS d", []string{"DROP DATABASE IF EXISTS d ON CLUSTER c"}},
		{"unknown statement", "OPTIMIZE TABLE d.t FINAL", nil},
		{"create without IF NOT EXISTS", "CREATE TABLE d.t (a String) ENGINE = MergeTree() ORDER BY a", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := onCluster("c", tc.in)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("want an error, got %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n;\n") != strings.Join(tc.want, "\n;\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n;\n"), strings.Join(tc.want, "\n;\n"))
			}
		})
	}
}
