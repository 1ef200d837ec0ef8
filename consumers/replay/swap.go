package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/trustpipe/trustpipe/sink"
)

// Comparison holds the live and shadow tables side by side, computed with
// the read surface's own formulas (sink's view SQL applied to each set).
type Comparison struct {
	Database       string
	Live, Shadow   sink.Tables
	LiveTotals     map[sink.DayType]uint64
	ShadowTotals   map[sink.DayType]uint64
	LiveCoverage   []sink.Coverage
	ShadowCoverage []sink.Coverage
	LiveReach      uint64 // engaged contact-days
	ShadowReach    uint64
}

// Compare reads both sets of tables through st (any store of the database).
func Compare(ctx context.Context, st *sink.Store, live, shadow sink.Tables) (*Comparison, error) {
	c := &Comparison{Database: st.Database(), Live: live, Shadow: shadow}
	var err error
	if c.LiveTotals, err = st.TotalsByDayType(ctx, live); err != nil {
		return nil, err
	}
	if c.ShadowTotals, err = st.TotalsByDayType(ctx, shadow); err != nil {
		return nil, err
	}
	if c.LiveCoverage, err = st.LedgerCoverage(ctx, live); err != nil {
		return nil, err
	}
	if c.ShadowCoverage, err = st.LedgerCoverage(ctx, shadow); err != nil {
		return nil, err
	}
	if c.LiveReach, err = st.EngagedContactDays(ctx, live); err != nil {
		return nil, err
	}
	if c.ShadowReach, err = st.EngagedContactDays(ctx, shadow); err != nil {
		return nil, err
	}
	return c, nil
}

// DifferingCells lists the (day, event type) cells whose totals differ.
func (c *Comparison) DifferingCells() []sink.DayType {
	var out []sink.DayType
	for _, k := range c.cells() {
		if c.LiveTotals[k] != c.ShadowTotals[k] {
			out = append(out, k)
		}
	}
	return out
}

func (c *Comparison) cells() []sink.DayType {
	set := map[sink.DayType]bool{}
	for k := range c.LiveTotals {
		set[k] = true
	}
	for k := range c.ShadowTotals {
		set[k] = true
	}
	return slices.SortedFunc(maps.Keys(set), func(a, b sink.DayType) int {
		return cmp.Or(strings.Compare(a.Day, b.Day), strings.Compare(a.EventType, b.EventType))
	})
}

// maxCells bounds the differing cells listed one by one.
const maxCells = 60

// Print writes the comparison report: totals per event type and per day,
// every differing day × type cell (up to maxCells), engaged reach and the
// ledger coverage per partition. Differences are marked with "≠".
func (c *Comparison) Print(w io.Writer) {
	fmt.Fprintf(w, "Comparing live tables %s.{%s} with shadow %s.{%s}\n",
		c.Database, strings.Join(c.Live.Names(), ","), c.Database, strings.Join(c.Shadow.Names(), ","))
	fmt.Fprintln(w, "(totals through the trust_counts, engaged_contacts and ingest_ledger view formulas; diff = shadow - live)")
	byType := func(m map[sink.DayType]uint64) map[string]uint64 {
		out := map[string]uint64{}
		for k, v := range m {
			out[k.EventType] += v
		}
		return out
	}
	byDay := func(m map[sink.DayType]uint64) map[string]uint64 {
		out := map[string]uint64{}
		for k, v := range m {
			out[k.Day] += v
		}
		return out
	}
	table(w, "\nEvents by type", "event_type", byType(c.LiveTotals), byType(c.ShadowTotals), true)
	table(w, "\nEvents by UTC day", "day", byDay(c.LiveTotals), byDay(c.ShadowTotals), false)

	cells := c.cells()
	diff := c.DifferingCells()
	fmt.Fprintf(w, "\nDay × type cells: %d compared, %d differ\n", len(cells), len(diff))
	if len(diff) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "\tday\tevent_type\tlive\tshadow\tdiff\t")
		for i, k := range diff {
			if i == maxCells {
				fmt.Fprintf(tw, "≠\t… and %d more\t\t\t\t\t\n", len(diff)-maxCells)
				break
			}
			l, s := c.LiveTotals[k], c.ShadowTotals[k]
			fmt.Fprintf(tw, "≠\t%s\t%s\t%d\t%d\t%+d\t\n", k.Day, k.EventType, l, s, int64(s)-int64(l))
		}
		tw.Flush()
	}
	mark := ""
	if c.LiveReach != c.ShadowReach {
		mark = "  ≠"
	}
	fmt.Fprintf(w, "\nEngaged contact-days: live %d, shadow %d%s\n", c.LiveReach, c.ShadowReach, mark)

	fmt.Fprintln(w, "\nLedger coverage per partition (offsets first-last, blocks, consumed = accepted + rejected)")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tpartition\tlive offsets\tlive blocks\tlive consumed\tshadow offsets\tshadow blocks\tshadow consumed")
	type key struct {
		topic string
		part  int32
	}
	rows := map[key][2]*sink.Coverage{}
	for i := range c.LiveCoverage {
		cv := &c.LiveCoverage[i]
		r := rows[key{cv.Topic, cv.Partition}]
		r[0] = cv
		rows[key{cv.Topic, cv.Partition}] = r
	}
	for i := range c.ShadowCoverage {
		cv := &c.ShadowCoverage[i]
		r := rows[key{cv.Topic, cv.Partition}]
		r[1] = cv
		rows[key{cv.Topic, cv.Partition}] = r
	}
	keys := slices.SortedFunc(maps.Keys(rows), func(a, b key) int {
		return cmp.Or(strings.Compare(a.topic, b.topic), cmp.Compare(a.part, b.part))
	})
	cov := func(cv *sink.Coverage) (string, string, string) {
		if cv == nil {
			return "-", "0", "0"
		}
		return fmt.Sprintf("%d-%d", cv.FirstOffset, cv.LastOffset), fmt.Sprint(cv.Blocks), fmt.Sprint(cv.Consumed)
	}
	for _, k := range keys {
		r := rows[k]
		lo, lb, lc := cov(r[0])
		so, sb, sc := cov(r[1])
		m := " "
		if lo != so || lc != sc {
			m = "≠"
		}
		fmt.Fprintf(tw, "%s\t%s/%d\t%s\t%s\t%s\t%s\t%s\t%s\n", m, k.topic, k.part, lo, lb, lc, so, sb, sc)
	}
	tw.Flush()
	if len(diff) == 0 && c.LiveReach == c.ShadowReach {
		fmt.Fprintln(w, "\nThe shadow's totals are identical to the live tables'.")
	} else {
		fmt.Fprintln(w, "\nThe shadow differs from the live tables (≠ above). Differences on the newest offsets are expected while the live pipeline runs:\n"+
			"the swap catches the new live tables up from the end of the shadow's ledger.")
	}
}

func table(w io.Writer, title, col string, live, shadow map[string]uint64, total bool) {
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\tlive\tshadow\tdiff\t\n", col)
	keys := slices.Sorted(maps.Keys(func() map[string]bool {
		m := map[string]bool{}
		for k := range live {
			m[k] = true
		}
		for k := range shadow {
			m[k] = true
		}
		return m
	}()))
	var tl, ts uint64
	for _, k := range keys {
		l, s := live[k], shadow[k]
		tl, ts = tl+l, ts+s
		m, d := "", ""
		if l != s {
			m, d = "≠", fmt.Sprintf("%+d", int64(s)-int64(l))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t\n", m, k, l, s, d)
	}
	if total {
		m, d := "", ""
		if tl != ts {
			m, d = "≠", fmt.Sprintf("%+d", int64(ts)-int64(tl))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t\n", m, "total", tl, ts, d)
	}
	tw.Flush()
}

// CatchUp returns the selection that brings swapped-in tables up to date:
// for every partition of topics (and of any topic the shadow covers), from
// the start of the last block the shadow's ledger covers — or the log start
// where it covers nothing — to the end of the partition. Re-reading the
// shadow's last block is deliberate: it may be partial, and replays are
// idempotent.
func (r *Replayer) CatchUp(ctx context.Context, shadow []sink.Coverage, topics []string) (Selection, error) {
	b := r.cfg.Pipeline.Aggregate.BlockSize
	last := map[string]map[int]int64{}
	for _, c := range shadow {
		if last[c.Topic] == nil {
			last[c.Topic] = map[int]int64{}
		}
		last[c.Topic][int(c.Partition)] = c.LastOffset
	}
	all := slices.Clone(topics)
	for t := range last {
		if !slices.Contains(all, t) {
			all = append(all, t)
		}
	}
	var sel Selection
	for _, t := range all {
		parts, err := r.broker.partitions(ctx, t)
		if err != nil {
			var ie *InputError
			if errors.As(err, &ie) && !slices.Contains(topics, t) {
				continue // a topic the shadow covers that no longer exists
			}
			return sel, err
		}
		for _, p := range parts {
			from := FromStart
			if l, ok := last[t][p]; ok {
				from = l / b * b
			}
			sel.Offsets = append(sel.Offsets, Range{Topic: t, Partition: p, From: from, To: ToEnd})
		}
	}
	return sel, nil
}

// SwapOptions drive Swap.
type SwapOptions struct {
	// Live and Shadow are the table sets to exchange.
	Live, Shadow sink.Tables
	// Topics are the live pipeline's topics, caught up after the swap.
	Topics []string
	// Report receives the comparison report and progress notes.
	Report io.Writer
	// Confirm, if set, is asked after the report; false aborts the swap.
	Confirm func(*Comparison) (bool, error)
}

// ErrSwapDeclined is returned when Confirm answers no.
var ErrSwapDeclined = errors.New("swap cancelled: nothing was changed")

// SwapResult says what Swap did.
type SwapResult struct {
	Comparison *Comparison
	Method     string // EXCHANGE TABLES or RENAME TABLE
	CatchUp    *Plan
	Summary    *Summary
}

// Swap compares the shadow with the live tables, asks for confirmation,
// exchanges the two sets of tables (st.Swap), and then replays, into the
// new live tables, everything past the shadow's ledger — the rows the live
// pipeline wrote into the old tables during and after the backfill. The
// Replayer's target must be a store on o.Live's names, and shadowSt a store
// on o.Shadow. The old live tables keep existing under the shadow names, so
// swapping again undoes a swap.
func (r *Replayer) Swap(ctx context.Context, st, shadowSt *sink.Store, o SwapOptions) (*SwapResult, error) {
	for _, t := range []sink.Tables{o.Live, o.Shadow} {
		missing, err := st.MissingTables(ctx, t)
		if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("table %s.%s does not exist (backfill the shadow first with `trustpipe replay --target NAME`)",
				st.Database(), strings.Join(missing, ", "+st.Database()+"."))
		}
	}
	agg := r.cfg.Pipeline.Aggregate
	if err := shadowSt.CheckCompatible(ctx, agg.BlockSize, agg.BucketSize); err != nil {
		return nil, fmt.Errorf("shadow tables: %w", err)
	}
	comp, err := Compare(ctx, st, o.Live, o.Shadow)
	if err != nil {
		return nil, err
	}
	res := &SwapResult{Comparison: comp}
	comp.Print(o.Report)
	sel, err := r.CatchUp(ctx, comp.ShadowCoverage, o.Topics)
	if err != nil {
		return res, err
	}
	if preview, err := r.Plan(ctx, sel); err == nil {
		fmt.Fprintf(o.Report, "\nAfter the swap, the new live tables are caught up from the end of the shadow's ledger: %d offsets in %d partitions now.\n",
			preview.Offsets(), preview.Partitions())
	}
	if o.Confirm != nil {
		ok, err := o.Confirm(comp)
		if err != nil {
			return res, err
		}
		if !ok {
			return res, ErrSwapDeclined
		}
	}
	if res.Method, err = st.Swap(ctx, o.Live, o.Shadow); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Report, "swap: %s done: %s.{%s} now hold the backfill; the previous live tables are now %s.{%s}\n",
		res.Method, st.Database(), strings.Join(o.Live.Names(), ","), st.Database(), strings.Join(o.Shadow.Names(), ","))
	// The high watermarks are read now, after the swap: every record the
	// live pipeline stored into the old tables is below them.
	if res.CatchUp, err = r.Plan(ctx, sel); err != nil {
		return res, fmt.Errorf("catch-up after the swap: %w", err)
	}
	res.CatchUp.Print(o.Report)
	res.Summary, err = r.Run(ctx, res.CatchUp)
	if err != nil {
		return res, fmt.Errorf("the swap is done, but catching up failed: %w; finish it with `trustpipe replay --offsets …` over the ranges above", err)
	}
	return res, nil
}
