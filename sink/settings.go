package sink

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// settingsTable records, per set of storage tables (keyed by its count
// table's name), the settings that shaped its rows — a fingerprint built by
// the pipeline (consumers.SettingsFingerprint). A replay into tables made
// with other settings would add rows beside the old ones (another block or
// bucket size) or mix pseudonyms and verdicts, and nothing in the rows
// themselves could tell; the recorded fingerprint lets it refuse.
const settingsTable = "pipeline_settings"

func settingsDDL(db string) string {
	return fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s.%s (
	tables String,
	settings String,
	recorded_at DateTime,
	version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY tables`, db, settingsTable)
}

// RecordedSettings returns the settings last recorded for this store's
// tables; ok is false when none were (tables written before fingerprints
// existed, or new ones).
func (s *Store) RecordedSettings(ctx context.Context) (settings string, ok bool, err error) {
	return s.recordedSettings(ctx, s.tables)
}

func (s *Store) recordedSettings(ctx context.Context, t Tables) (string, bool, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT settings FROM %s.%s FINAL WHERE tables = ?", s.db, settingsTable), t.Counts)
	if err != nil {
		return "", false, fmt.Errorf("read the recorded settings of %s.%s: %w (run `trustpipe migrate`)", s.db, t.Counts, err)
	}
	defer rows.Close()
	var settings string
	for rows.Next() {
		if err := rows.Scan(&settings); err != nil {
			return "", false, fmt.Errorf("read the recorded settings of %s.%s: %w", s.db, t.Counts, err)
		}
	}
	if err := rows.Err(); err != nil {
		return "", false, fmt.Errorf("read the recorded settings of %s.%s: %w", s.db, t.Counts, err)
	}
	return settings, settings != "", nil
}

// RecordSettings records the settings this store's tables are written with.
func (s *Store) RecordSettings(ctx context.Context, settings string) error {
	return s.recordSettings(ctx, s.tables, settings)
}

func (s *Store) recordSettings(ctx context.Context, t Tables, settings string) error {
	now := time.Now()
	err := s.insert(ctx, settingsTable, "tables, settings, recorded_at, version", 1, func(b driver.Batch) error {
		return b.Append(t.Counts, settings, now, uint64(now.UnixNano()))
	})
	if err != nil {
		return fmt.Errorf("record the settings of %s.%s: %w", s.db, t.Counts, err)
	}
	return nil
}

// CheckSettings refuses to write into tables whose recorded settings differ
// from settings, naming the settings that differ; tables without recorded
// settings get these. The error says what to do instead.
func (s *Store) CheckSettings(ctx context.Context, settings string) error {
	recorded, ok, err := s.RecordedSettings(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return s.RecordSettings(ctx, settings)
	}
	if recorded == settings {
		return nil
	}
	diff := settingsDiff(recorded, settings)
	if len(diff) == 0 {
		// Only settings newer than the recorded fingerprint were added:
		// record the complete one, so the next change to them is caught.
		return s.RecordSettings(ctx, settings)
	}
	advice := "replay with the live pipeline's settings, or backfill new settings into a shadow with --target NAME and swap it in with `trustpipe replay swap`"
	if s.tables != LiveTables() {
		advice = "use the settings this shadow was backfilled with, or another --target name"
	}
	return fmt.Errorf("%s.%s were written with other settings (%s): writing into them would mix rows of both; %s.\n  recorded: %s\n  now:      %s",
		s.db, strings.Join(s.tables.Names(), ", "), strings.Join(diff, ", "), advice, recorded, settings)
}

// settingsDiff names the fields ("name=value", space-separated) of the
// recorded fingerprint whose values differ in the current one, or that it
// no longer has. A field the recorded fingerprint lacks is not a
// difference: fields are only added with the settings they describe, so a
// fingerprint without one was recorded by a release without that feature,
// whose tables hold no rows it shaped (an upgrade must not make replays
// refuse tables written with the same settings).
func settingsDiff(recorded, current string) []string {
	now := map[string]string{}
	for _, f := range strings.Fields(current) {
		k, v, _ := strings.Cut(f, "=")
		now[k] = v
	}
	var diff []string
	for _, f := range strings.Fields(recorded) {
		k, v, _ := strings.Cut(f, "=")
		if cur, ok := now[k]; !ok || cur != v {
			diff = append(diff, k)
		}
	}
	return diff
}

// swapSettings exchanges the recorded settings of two table sets after Swap
// exchanged their tables, so each fingerprint stays with its rows.
func (s *Store) swapSettings(ctx context.Context, a, b Tables) error {
	wrap := func(err error) error {
		return fmt.Errorf("swap: the tables were exchanged, but not yet their recorded settings (swap again to undo): %w", err)
	}
	sa, _, err := s.recordedSettings(ctx, a)
	if err != nil {
		return wrap(err)
	}
	sb, _, err := s.recordedSettings(ctx, b)
	if err != nil {
		return wrap(err)
	}
	if err := s.recordSettings(ctx, a, sb); err != nil {
		return wrap(err)
	}
	if err := s.recordSettings(ctx, b, sa); err != nil {
		return wrap(err)
	}
	return nil
}
