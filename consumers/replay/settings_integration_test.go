package replay

import (
	"context"
	"strings"
	"testing"

	"github.com/trustpipe/trustpipe/consumers/kafkatest"
	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

// TestReplayRefusesOtherSettings: tables written with one pseudonym key
// must not be rewritten by a replay with another (nor with another block
// size or limit: the fingerprint covers them alike) — it would mix
// pseudonyms — while a shadow target takes the new settings, and then
// refuses the old ones in turn. Refused replays write nothing.
func TestReplayRefusesOtherSettings(t *testing.T) {
	st, cfg := sinktest.Open(t, nil)
	ctx := context.Background()
	brokers := kafkatest.Start(t, 1, testTopic)
	oracle := load(t, brokers, 2000, 3)
	const keyA, keyB = "settings-test-key-A-0123456789", "settings-test-key-B-0123456789"
	all := Selection{Topics: []string{testTopic}, All: true}
	runPlan(t, newKeyedReplayer(t, brokers, st, 1000, nil, keyA), all)

	refused := func(r *Replayer, what, advice string) {
		t.Helper()
		p, err := r.Plan(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Run(ctx, p)
		if err == nil || !strings.Contains(err.Error(), "pseudonym_key") || !strings.Contains(err.Error(), advice) {
			t.Fatalf("%s: err = %v, want a refusal naming pseudonym_key with the advice %q", what, err, advice)
		}
	}
	refused(newKeyedReplayer(t, brokers, st, 1000, nil, keyB), "live tables, other key", "--target NAME")
	got, err := st.TotalsByDayType(ctx, sink.LiveTables())
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(oracle, got); len(d) > 0 {
		t.Fatalf("live totals changed by a refused replay: %v", d)
	}

	shadow, err := sink.Open(ctx, sink.Config{Addr: cfg.Addr, Database: cfg.Database}, sink.LiveTables().Prefixed("v2_"))
	if err != nil {
		t.Fatal(err)
	}
	defer shadow.Close()
	if err := shadow.CreateStorage(ctx); err != nil {
		t.Fatal(err)
	}
	runPlan(t, newKeyedReplayer(t, brokers, shadow, 1000, nil, keyB), all)
	refused(newKeyedReplayer(t, brokers, shadow, 1000, nil, keyA), "shadow, its old key", "another --target name")

	// A swap moves each fingerprint with its tables.
	if _, err := st.Swap(ctx, sink.LiveTables(), sink.LiveTables().Prefixed("v2_")); err != nil {
		t.Fatal(err)
	}
	runPlan(t, newKeyedReplayer(t, brokers, st, 1000, nil, keyB), all)
	refused(newKeyedReplayer(t, brokers, st, 1000, nil, keyA), "live tables after the swap, the old key", "--target NAME")
}
