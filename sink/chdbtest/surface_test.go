package chdbtest_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/chdbtest"
	"github.com/trustpipe/trustpipe/sink/readback"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// surfaceViews are every view the pipeline creates: the storage read
// surface (created by every Migrate), the indicator views and the Trust
// Index views of the default configuration and the account views.
func surfaceViews() []sink.View {
	return append(append(sink.IndicatorViews(), sink.IndexViews(indicator.DefaultIndexConfig())...),
		sink.AccountViews([]string{sinktest.Pseudonym("acct-00002")})...)
}

// loadSettings is the settings fingerprint loadPair records, as the
// pipeline records its own.
const loadSettings = "block_size=10000 bucket=1m0s"

// loadPair migrates both engines with every view and loads the
// trust-spiral scenario ending now (a week), with a few dead letters and
// re-sent duplicates, and the ignored-unsubscribes scenario on a topic of
// its own, into both.
func loadPair(t *testing.T) chdbtest.Pair {
	t.Helper()
	p := chdbtest.OpenPair(t, surfaceViews())
	start := time.Now()
	l := p.Load(t, scenario.Config{Name: "trust-spiral", Events: 10000, Days: 7, Seed: 5,
		End: time.Now().UTC().Truncate(time.Minute), InvalidRatio: 0.002, DuplicateRatio: 0.01}, sinktest.LoadOptions{})
	t.Logf("ClickHouse %s: %d records (%d dead letters) loaded into both in %s",
		p.Versions(), l.Records, l.Rejected, time.Since(start).Round(time.Millisecond))
	// A second topic where sends should not have happened, so the contact
	// state and contact_breaches hold rows.
	p.Load(t, scenario.Config{Name: "ignored-unsubscribes", Events: 6000, Days: 14, Seed: 5, Contacts: 300,
		End: time.Now().UTC().Truncate(time.Minute)}, sinktest.LoadOptions{Topic: "rogue-events"})
	for _, st := range p.Stores() {
		if err := st.CheckSettings(context.Background(), loadSettings); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestSurfaceSameOnBothEngines runs the storage and read surface on
// ClickHouse 18.16 and on current ClickHouse over the same rows: every
// table and view created by the migrations lists the same columns and
// holds the same rows, and every query of sink's replay support returns
// the same answer.
func TestSurfaceSameOnBothEngines(t *testing.T) {
	p := loadPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	db := p.Old.Database()

	tables := fmt.Sprintf("SELECT name FROM system.tables WHERE database = '%s' ORDER BY name", db)
	res, err := p.Compare(ctx, tables)
	if err != nil {
		t.Fatal(err)
	}
	// Every table and view: the same columns, in the same order, and the
	// same rows. The storage tables are read with FINAL, as the views do:
	// which of a replaced key's rows survives unmerged is up to each
	// engine's merges.
	var names []string
	for _, r := range res.Rows {
		name := strings.TrimPrefix(r[0].Text, "s")
		names = append(names, name)
		// 18.16 names the server's time zone in the type of a
		// toStartOfHour result (DateTime('Etc/UTC')); current releases
		// leave it implicit. Both mean the same with a UTC server.
		cols := fmt.Sprintf(`SELECT name, replaceAll(type, 'DateTime(\'Etc/UTC\')', 'DateTime')
FROM system.columns WHERE database = '%s' AND table = '%s'`, db, name)
		if _, err := p.Compare(ctx, cols); err != nil {
			t.Errorf("columns of %s: %v", name, err)
		}
		final := ""
		if slices.Contains(sink.LiveTables().Names(), name) {
			final = " FINAL"
		}
		q := fmt.Sprintf("SELECT * FROM %s.%s%s", db, name, final)
		// Without the times of writing.
		switch name {
		case "schema_migrations":
			q = fmt.Sprintf("SELECT version, name FROM %s.schema_migrations", db)
		case "pipeline_settings":
			q = fmt.Sprintf("SELECT tables, settings FROM %s.pipeline_settings FINAL", db)
		}
		start := time.Now()
		res, err := p.Compare(ctx, q)
		switch {
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case len(res.Rows) == 0:
			t.Errorf("%s is empty: the comparison proves nothing", name)
		default:
			t.Logf("%s: %d rows agree (%s)", name, len(res.Rows), time.Since(start).Round(time.Millisecond))
		}
	}
	for _, v := range surfaceViews() {
		if !slices.Contains(names, v.Name) {
			t.Errorf("view %s is missing", v.Name)
		}
	}

	// Replay support (sink/swap.go) on both: its answers are the same.
	same := func(what string, f func(st *sink.Store) (any, error)) {
		t.Helper()
		a, errA := f(p.Old)
		b, errB := f(p.New)
		if errA != nil || errB != nil {
			t.Errorf("%s: %v / %v", what, errA, errB)
			return
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs:\n  %v\n  %v", what, a, b)
		}
	}
	live := sink.LiveTables()
	same("TotalsByDayType", func(st *sink.Store) (any, error) { return st.TotalsByDayType(ctx, live) })
	same("LedgerCoverage", func(st *sink.Store) (any, error) { return st.LedgerCoverage(ctx, live) })
	same("EngagedContactDays", func(st *sink.Store) (any, error) { return st.EngagedContactDays(ctx, live) })
	same("MissingTables", func(st *sink.Store) (any, error) { return st.MissingTables(ctx, live.Prefixed("shadow_")) })
	compatible := func(blockSize int64, bucket time.Duration) func(st *sink.Store) (any, error) {
		return func(st *sink.Store) (any, error) {
			err := st.CheckCompatible(ctx, blockSize, bucket)
			return fmt.Sprint(err), nil
		}
	}
	cfg := aggregate.DefaultConfig()
	same("CheckCompatible (same settings)", compatible(cfg.BlockSize, cfg.BucketSize))
	same("CheckCompatible (other block size)", compatible(cfg.BlockSize/2, cfg.BucketSize))
	same("CheckCompatible (coarser bucket)", compatible(cfg.BlockSize, time.Hour))

	// Settings fingerprints (sink/settings.go).
	same("RecordedSettings", func(st *sink.Store) (any, error) {
		v, ok, err := st.RecordedSettings(ctx)
		return fmt.Sprint(v, ok), err
	})
	same("CheckSettings (other settings)", func(st *sink.Store) (any, error) {
		return fmt.Sprint(st.CheckSettings(ctx, "block_size=5000 bucket=1m0s")), nil
	})

	// Dedup support (sink/store.go): the same counts and history.
	now := time.Now()
	// The account read (sink/accounts.go) over the loaded week.
	today := now.UTC().Truncate(24 * time.Hour)
	same("AccountHistories", func(st *sink.Store) (any, error) {
		return st.AccountHistories(ctx, indicator.DefaultAccountRule(), today.AddDate(0, 0, -6), today)
	})
	same("Duplicates", func(st *sink.Store) (any, error) { return st.Duplicates(ctx, now.AddDate(0, 0, -30), now) })
	for part := int32(0); part < 3; part++ {
		hq := aggregate.HistoryQuery{Topic: "trust-events", Partition: part, FromOffset: 0, Before: 1 << 40, Block: 1 << 30, Window: 30 * 24 * time.Hour}
		same(fmt.Sprintf("DedupHistory (partition %d)", part), func(st *sink.Store) (any, error) { return st.DedupHistory(ctx, hq) })
		mq := hq
		mq.Messages = aggregate.MessagesQuery{FromOffset: 0, Horizon: 7 * 24 * time.Hour}
		same(fmt.Sprintf("MessageHistory (partition %d)", part), func(st *sink.Store) (any, error) {
			h, err := st.MessageHistory(ctx, mq)
			if err == nil && len(h.Sends) == 0 {
				err = errors.New("no sends: the comparison proves nothing")
			}
			return h, err
		})
		// Contact state (sink/contacts.go): the same states, in the same
		// order, with and without a cap that cuts the list.
		for _, limit := range []int{5, 1_000_000} {
			cq := aggregate.HistoryQuery{Topic: "rogue-events", Partition: part, Before: 1 << 40, Block: 1 << 30, ContactLimit: limit}
			same(fmt.Sprintf("ContactHistory (partition %d, limit %d)", part, limit), func(st *sink.Store) (any, error) { return st.ContactHistory(ctx, cq) })
		}
	}
	// Provenance (sink/lineage.go).
	same("Provenance", func(st *sink.Store) (any, error) {
		p, err := st.Provenance(ctx, report.Period{From: now.AddDate(0, 0, -30), To: now}, report.Filter{})
		if err == nil && len(p.Facts) == 0 {
			err = errors.New("no facts: the comparison proves nothing")
		}
		return p, err
	})
}

// TestUpgradeOnBothEngines runs the migrations that only upgrade older
// databases (a fresh one records them as applied): on both engines, a
// database made by migration 1 alone is migrated, and its ledger and
// dedup tables then have the same columns and rows on both.
func TestUpgradeOnBothEngines(t *testing.T) {
	p := chdbtest.OpenPair(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := p.Old.Database()
	for _, q := range sinktest.MigrationOneDatabase(db) {
		if err := p.CompareExec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var applied [2][]string
	for i, st := range p.Stores() {
		var err error
		if applied[i], err = st.Migrate(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(applied[0]) < 2 || !reflect.DeepEqual(applied[0], applied[1]) {
		t.Fatalf("applied %v on the server, %v on chDB: want the same later migrations", applied[0], applied[1])
	}
	// In table order (18.16's system.columns has no position). The
	// default expressions differ in form only (18.16 keeps
	// CAST(0, 'UInt64') for DEFAULT 0): the old row's values, read next,
	// are what counts.
	for _, q := range []string{
		"SELECT table, groupArray(name), groupArray(type) FROM system.columns WHERE database = '" + db + "' GROUP BY table",
		"SELECT * FROM " + db + ".ingest_ledger",
		"SELECT version FROM " + db + ".schema_migrations FINAL ORDER BY version",
	} {
		if _, err := p.Compare(ctx, q); err != nil {
			t.Error(err)
		}
	}
}

// TestSwapOnBothEngines swaps a shadow backfill with the live tables on
// both engines: RENAME TABLE on 18.16 (database engine Ordinary), EXCHANGE
// TABLES on current ClickHouse (Atomic) — both branches of Store.Swap —
// and the read surface then shows the same backfill on both.
func TestSwapOnBothEngines(t *testing.T) {
	p := chdbtest.OpenPair(t, surfaceViews())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sc := scenario.Config{Name: "trust-spiral", Events: 3000, Days: 3, Seed: 8, End: time.Now().UTC().Truncate(time.Minute)}
	p.Load(t, sc, sinktest.LoadOptions{})
	kinds := map[string]string{}
	for name, st := range map[string]*sink.Store{"server": p.Old, "chdb": p.New} {
		shadow, err := sink.NewStore(st.Conn(), st.Database(), sink.LiveTables().Prefixed("shadow_"))
		if err != nil {
			t.Fatal(err)
		}
		if err := shadow.CreateStorage(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sc2 := sc
		sc2.Seed = 9
		sinktest.LoadScenario(t, shadow, sc2, sinktest.LoadOptions{})
		kind, err := st.Swap(ctx, sink.LiveTables(), shadow.Tables())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		kinds[name] = kind
	}
	if kinds["server"] != "RENAME TABLE" || kinds["chdb"] != "EXCHANGE TABLES" {
		t.Errorf("swap statements: %v, want RENAME TABLE on the server (Ordinary) and EXCHANGE TABLES on chDB (Atomic)", kinds)
	}
	for _, q := range []string{
		"SELECT event_type, sum(events) FROM %s.trust_counts GROUP BY event_type",
		"SELECT event_type, sum(events) FROM %s.shadow_trust_counts_blocks FINAL GROUP BY event_type",
		"SELECT count() FROM %s.ingest_ledger",
	} {
		if _, err := p.Compare(ctx, fmt.Sprintf(q, p.Old.Database())); err != nil {
			t.Error(err)
		}
	}
}

// TestReadBackSameOnBothEngines runs the read-back — every query it sends,
// with each breakdown dimension — against both engines and compares every
// exported series.
func TestReadBackSameOnBothEngines(t *testing.T) {
	p := loadPair(t)
	now := time.Now()
	for _, dim := range append([]string{""}, readback.BreakdownDimensions()...) {
		cfg := readback.Config{Interval: time.Minute, BucketSize: time.Minute, Breakdown: dim, TopN: 5}
		a, b := gather(t, p.Old, cfg, now), gather(t, p.New, cfg, now)
		if len(a) < 20 {
			t.Fatalf("breakdown %q: only %d read-back series", dim, len(a))
		}
		for k, v := range a {
			w, ok := b[k]
			switch {
			case !ok:
				t.Errorf("%s = %v on the server, missing on chDB", k, v)
			case math.Abs(v-w) > 1e-9*math.Max(1, math.Abs(v)):
				t.Errorf("%s = %v on the server, %v on chDB", k, v, w)
			}
		}
		for k, w := range b {
			if _, ok := a[k]; !ok {
				t.Errorf("%s = %v on chDB, missing on the server", k, w)
			}
		}
		t.Logf("breakdown %q: %d read-back series agree", dim, len(a))
	}
}

// gather refreshes a read-back once and returns its series by name and
// labels, without those that tell when and how fast rather than what.
func gather(t *testing.T, st *sink.Store, cfg readback.Config, now time.Time) map[string]float64 {
	t.Helper()
	{
		reg := prometheus.NewPedanticRegistry()
		rb, err := readback.New(cfg,
			readback.Deps{Source: st, Registerer: reg, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if err := rb.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			switch mf.GetName() {
			case "trustpipe_readback_success_timestamp_seconds", "trustpipe_readback_duration_seconds":
				continue // when and how fast, not what
			}
			for _, m := range mf.GetMetric() {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
				out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
			}
		}
		return out
	}
}
