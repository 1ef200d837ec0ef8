package sink

import (
	"context"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/trustpipe/trustpipe/aggregate"
)

// This file stores the contact memory (aggregate.ContactBlock): the state
// each contact-state change left, which a later read loads back, and the
// breaches found, which the contact_breaches view unfolds.

const contactStateColumns = "topic, partition, block, base_offset, state_offsets, state_contacts, state_channels, state_since, state_updated, state_sources, state_tiers, " +
	"breach_offsets, breach_kinds, breach_times, breach_campaigns, breach_channels, breach_sources, breach_recorded, version"

// contactStateDDL creates the table of contact-state blocks: one row per
// (topic, partition, block), keyed and versioned like the count rows so
// re-reads replace their block's row, holding the block's state changes
// and breaches as parallel arrays. Only unsubscribes, opt-ups that undo
// one, consent changes and breaching sends make entries, so rows are small
// and most blocks have none. Contacts are pseudonyms.
func contactStateDDL(db string, t Tables) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	topic String,
	partition Int32,
	block Int64,
	base_offset Int64,
	state_offsets Array(UInt32),
	state_contacts Array(String),
	state_channels Array(String),
	state_since Array(UInt32),
	state_updated Array(UInt32),
	state_sources Array(String),
	state_tiers Array(UInt8),
	breach_offsets Array(UInt32),
	breach_kinds Array(UInt8),
	breach_times Array(UInt32),
	breach_campaigns Array(String),
	breach_channels Array(String),
	breach_sources Array(String),
	breach_recorded Array(String),
	version Int64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (topic, partition, block)`, db, t.ContactStates)
}

// ViewContactBreaches is the read-surface view of the sends that should
// not have happened, one row per breach: sent_at (DateTime, the send's
// occurred_at), kind ('post_unsubscribe' or 'consent_mismatch'),
// campaign_id, channel, source (the sending system), record_source (the
// system that recorded the unsubscribe or the consent tier). The rates
// are in the indicator views; this is their breakdown by both sources.
const ViewContactBreaches = "contact_breaches"

func contactBreachesView(db string, t Tables) View {
	return View{Name: ViewContactBreaches, Query: fmt.Sprintf(`SELECT
	toDateTime(at) AS sent_at,
	if(k = %d, 'post_unsubscribe', 'consent_mismatch') AS kind,
	campaign AS campaign_id, ch AS channel, src AS source, rec AS record_source
FROM (
	SELECT breach_kinds, breach_times, breach_campaigns, breach_channels, breach_sources, breach_recorded
	FROM %s.%s FINAL
) ARRAY JOIN breach_kinds AS k, breach_times AS at, breach_campaigns AS campaign, breach_channels AS ch,
	breach_sources AS src, breach_recorded AS rec`, aggregate.BreachPostUnsubscribe, db, t.ContactStates)}
}

func (s *Store) writeContactStates(ctx context.Context, rows []aggregate.ContactBlock) error {
	return s.insert(ctx, s.tables.ContactStates, contactStateColumns, len(rows), func(b driver.Batch) error {
		n := len(rows)
		topic := make([]string, n)
		partition := make([]int32, n)
		block, base, version := make([]int64, n), make([]int64, n), make([]int64, n)
		offsets, since, updated := make([][]uint32, n), make([][]uint32, n), make([][]uint32, n)
		contacts, channels, sources := make([][]string, n), make([][]string, n), make([][]string, n)
		tiers := make([][]uint8, n)
		for i := range rows {
			r := &rows[i]
			topic[i], partition[i], block[i], base[i], version[i] = r.Topic, r.Partition, r.Block, r.Base, r.Version
			for _, st := range r.States {
				offsets[i] = append(offsets[i], uint32(st.Offset-r.Base))
				contacts[i], channels[i], sources[i] = append(contacts[i], st.Contact), append(channels[i], st.Channel), append(sources[i], st.Source)
				since[i], updated[i], tiers[i] = append(since[i], st.Since), append(updated[i], st.Updated), append(tiers[i], st.Tier)
			}
		}
		bOffsets, bTimes := make([][]uint32, n), make([][]uint32, n)
		kinds := make([][]uint8, n)
		campaigns, bChannels, bSources, recorded := make([][]string, n), make([][]string, n), make([][]string, n), make([][]string, n)
		for i := range rows {
			r := &rows[i]
			bOffsets[i], kinds[i], bTimes[i] = r.BreachOffsets, r.BreachKinds, r.BreachTimes
			campaigns[i], bChannels[i], bSources[i], recorded[i] = r.BreachCampaign, r.BreachChannel, r.BreachSource, r.BreachRecorded
		}
		return appendColumns(b, topic, partition, block, base, offsets, contacts, channels, since, updated, sources, tiers,
			bOffsets, kinds, bTimes, campaigns, bChannels, bSources, recorded, version)
	})
}

// ContactHistory loads the stored contact states a read of q's partition
// starting at q.Before needs (aggregate.ContactHistory): the newest change
// time before it, and per key the latest state before it, of the
// q.ContactLimit keys changed last — all after FINAL, so every condition
// applies to the winning row of each block. "Latest" is by block, then
// position in the block's arrays (offset order; several events of one
// native record share an offset).
func (s *Store) ContactHistory(ctx context.Context, q aggregate.HistoryQuery) (aggregate.ContactHistory, error) {
	var h aggregate.ContactHistory
	where := fmt.Sprintf(`FROM (
	SELECT block, base_offset, state_offsets, state_contacts, state_channels, state_since, state_updated, state_sources, state_tiers
	FROM %s.%s FINAL
	WHERE topic = ? AND partition = ? AND block <= ? AND base_offset < ?
) ARRAY JOIN state_offsets AS rel, state_contacts AS contact, state_channels AS channel, state_since AS since,
	state_updated AS updated, state_sources AS source, state_tiers AS tier, arrayEnumerate(state_offsets) AS i
WHERE base_offset + rel < ?`, s.db, s.tables.ContactStates)
	args := []any{q.Topic, q.Partition, q.Block, q.Before, q.Before}
	what := fmt.Sprintf("contact states of %s/%d before offset %d", q.Topic, q.Partition, q.Before)
	var newest uint32
	if err := s.conn.QueryRow(ctx, "SELECT max(updated) "+where, args...).Scan(&newest); err != nil {
		return h, fmt.Errorf("%s: newest change: %w", what, err)
	}
	h.Newest = newest
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT contact, channel, argMax(base_offset + rel, (block, i)) AS off,
	argMax(since, (block, i)), argMax(updated, (block, i)), argMax(source, (block, i)), argMax(tier, (block, i))
%s
GROUP BY contact, channel
ORDER BY max((block, i)) DESC
LIMIT %d`, where, q.ContactLimit), args...)
	if err != nil {
		return h, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st aggregate.ContactState
		if err := rows.Scan(&st.Contact, &st.Channel, &st.Offset, &st.Since, &st.Updated, &st.Source, &st.Tier); err != nil {
			return h, fmt.Errorf("%s: %w", what, err)
		}
		h.States = append(h.States, st)
	}
	if err := rows.Err(); err != nil {
		return h, fmt.Errorf("%s: %w", what, err)
	}
	slices.Reverse(h.States) // in the order of the changes
	return h, nil
}
