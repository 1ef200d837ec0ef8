package sink

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/indicator"
	"github.com/trustpipe/trustpipe/aggregate/report"
)

// This file stores and reads the provenance rows (aggregate/messages.go):
// counts per send fact, and the message memory's sends for later seeds.

// ViewLineageRows: the replaced per-block rows of the counts per send fact:
// day (Date, UTC day of the send), facet ('input', 'reason',
// 'unattributed'), fact (an input tag, 'none', 'model:other'; 'visible',
// 'hidden', 'none'; empty for unattributed), event_type (the send itself or
// a follow-up attributed to it), detail, campaign_id, channel, events.
// Several rows per key: always aggregate. A send with several inputs counts
// under each, so rows of different facts must not be added up.
const ViewLineageRows = "lineage_count_rows"

const lineageColumns = "day, facet, fact, event_type, detail, campaign_id, channel, topic, partition, block, events, version"

const messageColumns = "topic, partition, block, base_offset, offsets, id_hashes, record_times, days, inputs, flags, watermark, version"

// lineageDDL creates the provenance tables (migration 8). Lineage rows
// follow the count rows' layout — keyed by day, fact, dimensions and
// (topic, partition, block), versioned by offset — so they are exact for
// the same reasons. Message blocks follow the dedup table's: one row of
// parallel arrays per block, replaced by re-reads, read back by offset
// range when a partition is seeded (HistoryQuery.Messages).
func lineageDDL(db string, t Tables) []string {
	return []string{
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	day Date,
	facet String,
	fact String,
	event_type String,
	detail String,
	campaign_id String,
	channel String,
	topic String,
	partition Int32,
	block Int64,
	events UInt64,
	version Int64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(day)
ORDER BY (day, facet, fact, event_type, detail, campaign_id, channel, topic, partition, block)`, db, t.Lineage),
		fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	topic String,
	partition Int32,
	block Int64,
	base_offset Int64,
	offsets Array(UInt32),
	id_hashes Array(UInt64),
	record_times Array(UInt32),
	days Array(UInt32),
	inputs Array(UInt32),
	flags Array(UInt8),
	watermark Int64,
	version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, partition, block)`, db, t.Messages),
	}
}

func (s *Store) writeLineage(ctx context.Context, rows []aggregate.LineageRow) error {
	for _, run := range byMonth(rows, func(r *aggregate.LineageRow) int64 { return r.Day }, MaxPartitionsPerInsert) {
		err := s.insert(ctx, s.tables.Lineage, lineageColumns, len(run), func(b driver.Batch) error {
			n := len(run)
			day := make([]time.Time, n)
			facet, fact, eventType, detail := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			campaign, channel, topic := make([]string, n), make([]string, n), make([]string, n)
			partition := make([]int32, n)
			block, version := make([]int64, n), make([]int64, n)
			events := make([]uint64, n)
			for i := range run {
				r := &run[i]
				day[i] = time.Unix(r.Day, 0).UTC()
				facet[i], fact[i], eventType[i], detail[i] = r.Facet, r.Fact, r.EventType.String(), r.Detail
				campaign[i], channel[i], topic[i], partition[i], block[i] = r.CampaignID, r.Channel, r.Topic, r.Partition, r.Block
				events[i], version[i] = r.Events, r.Version
			}
			return appendColumns(b, day, facet, fact, eventType, detail, campaign, channel, topic, partition, block, events, version)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) writeMessages(ctx context.Context, rows []aggregate.MessageBlock) error {
	return s.insert(ctx, s.tables.Messages, messageColumns, len(rows), func(b driver.Batch) error {
		n := len(rows)
		topic := make([]string, n)
		partition := make([]int32, n)
		block, base, watermark, version := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		offsets, times, days, inputs := make([][]uint32, n), make([][]uint32, n), make([][]uint32, n), make([][]uint32, n)
		hashes := make([][]uint64, n)
		flags := make([][]uint8, n)
		for i := range rows {
			r := &rows[i]
			topic[i], partition[i], block[i], base[i], watermark[i], version[i] = r.Topic, r.Partition, r.Block, r.Base, r.Watermark, r.Version
			offsets[i], hashes[i], times[i], days[i], inputs[i], flags[i] = r.Offsets, r.Hashes, r.RecordTimes, r.Days, r.Inputs, r.Flags
		}
		return appendColumns(b, topic, partition, block, base, offsets, hashes, times, days, inputs, flags, watermark, version)
	})
}

// MessageHistory loads the sends a read starting at q.Before needs
// (aggregate.MessagesQuery): every send of the block rows starting in
// [q.Messages.FromOffset, q.Before) with an offset in that range, after
// FINAL, and the largest watermark of the partition's blocks below q.Block.
func (s *Store) MessageHistory(ctx context.Context, q aggregate.HistoryQuery) (aggregate.MessageHistory, error) {
	var h aggregate.MessageHistory
	what := fmt.Sprintf("message memory of %s/%d before offset %d", q.Topic, q.Partition, q.Before)
	// Every version of a block's row carries a watermark of the same log
	// prefix, never above the final one, so max needs no FINAL.
	wm := fmt.Sprintf("SELECT max(watermark) FROM %s.%s WHERE topic = ? AND partition = ? AND block < ?", s.db, s.tables.Messages)
	if err := s.conn.QueryRow(ctx, wm, q.Topic, q.Partition, q.Block).Scan(&h.Watermark); err != nil {
		return h, readError(what, err)
	}
	from := q.Messages.FromOffset
	err := s.query(ctx, what, fmt.Sprintf(`SELECT base_offset + rel AS off, h, toInt64(at), d, i, f
FROM (
	SELECT base_offset, offsets, id_hashes, record_times, days, inputs, flags FROM %s.%s FINAL
	WHERE topic = ? AND partition = ? AND block <= ? AND base_offset >= ? AND base_offset < ?
) ARRAY JOIN offsets AS rel, id_hashes AS h, record_times AS at, days AS d, inputs AS i, flags AS f
WHERE off >= ? AND off < ?
ORDER BY off`, s.db, s.tables.Messages), []any{q.Topic, q.Partition, q.Block, from, q.Before, from, q.Before}, func(rows driver.Rows) error {
		var m aggregate.SeenSend
		if err := rows.Scan(&m.Offset, &m.Hash, &m.RecordTime, &m.Facts.Day, &m.Facts.Inputs, &m.Facts.Flags); err != nil {
			return err
		}
		h.Sends = append(h.Sends, m)
		return nil
	})
	return h, err
}

// Provenance reads the lineage rows of the sends made on the UTC days that
// [p.From, p.To) touches, per send fact, and the follow-ups that could not
// be attributed. The rows keep campaign and channel only: with a segment
// or source filter Available is false and nothing is read.
func (s *Store) Provenance(ctx context.Context, p report.Period, f report.Filter) (report.Provenance, error) {
	var out report.Provenance
	if f.Segment != nil || f.Source != nil {
		return out, nil
	}
	out.Available = true
	cond, args := where("day >= toDate(toDateTime(?)) AND day <= toDate(toDateTime(?))", []any{p.From.Unix(), p.To.Add(-time.Second).Unix()}, f)
	q := "SELECT facet, fact, " + cohortTotalsColumns + " FROM " + s.db + "." + ViewLineageRows + cond + " GROUP BY facet, fact, " + cohortGroup
	facts := map[[2]string]*indicator.Totals{}
	err := s.query(ctx, "lineage counts", q, args, func(rows driver.Rows) error {
		var facet, fact string
		r, err := scanCohortRow(rows, &facet, &fact)
		if err != nil {
			return err
		}
		if facet == aggregate.FacetUnattributed {
			out.Unattributed += r.Events
			return nil
		}
		k := [2]string{facet, fact}
		if facts[k] == nil {
			facts[k] = &indicator.Totals{}
		}
		facts[k].Add(r)
		return nil
	})
	keys := make([][2]string, 0, len(facts))
	for k := range facts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return slices.Compare(a[:], b[:]) })
	for _, k := range keys {
		out.Facts = append(out.Facts, indicator.FactTotals{Facet: k[0], Fact: k[1], Totals: *facts[k]})
	}
	return out, err
}
