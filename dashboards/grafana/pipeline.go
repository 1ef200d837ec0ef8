package grafana

// gateMappings show a 0/1 gate as closed/open.
func gateMappings(open, closed string) []any {
	return []any{Obj{"type": "value", "options": Obj{
		"0": Obj{"text": closed, "color": "red", "index": 0},
		"1": Obj{"text": open, "color": "green", "index": 1},
	}}}
}

// Pipeline is the data engineers' dashboard: is the data flowing, complete
// and fresh? Prometheus for the service's own metrics, ClickHouse for the
// ledger and the data itself.
func Pipeline() *Dashboard {
	d := newDashboard("pipeline-health.json", UIDPipeline, "trustpipe — Pipeline health",
		"Is the data trustworthy right now? Throughput, lag, dead letters, flush latency and sink errors (Prometheus), and "+
			"ledger conservation and freshness (ClickHouse). Trust alerts only fire while every health gate is open.",
		"pipeline", "engineers")
	d.Time = TimeRange{From: "now-6h", To: "now"}
	d.Refresh = "30s"
	l := newLayout(d)

	// --- Gates --------------------------------------------------------------
	l.row("Health gates — trust alerts are armed only when all are open", "trust-drop-or-data-drop")
	l.add(4, 6, stat("Pipeline healthy",
		"trustpipe:pipeline_healthy: 1 when every gate is open (fresh data, complete ledger, bounded lag, sink not failing, "+
			"dead letters under 5 %). While 0, trust alerts are suppressed: the data, not trust, is in question.",
		"none", steps(step("red", nil), step("green", 1)),
		promInstant("A", "trustpipe:pipeline_healthy", "healthy"),
	).set("mappings", gateMappings("HEALTHY", "NOT HEALTHY")))
	l.add(12, 6, stat("Gates",
		"Each health gate of trustpipe:pipeline_gate_ok (see dashboards/prometheus/recording.rules.yml and RUNBOOK.md).",
		"none", steps(step("red", nil), step("green", 1)),
		promInstant("A", "trustpipe:pipeline_gate_ok", "{{gate}}"),
	).set("mappings", gateMappings("open", "CLOSED")).option("textMode", "value_and_name"))
	l.add(4, 6, stat("Data age",
		"trustpipe:data_age_seconds: age of the newest event in ClickHouse as of now (read-back freshness plus the time since "+
			"the read-back). The data_fresh gate closes above 30 minutes.",
		"s", steps(step("green", nil), step("orange", 900), step("red", 1800)),
		promInstant("A", "trustpipe:data_age_seconds", "data age"),
	))
	l.add(4, 6, stat("Since last flush",
		"Seconds since the last snapshot was stored in ClickHouse (any instance).", "s",
		steps(step("green", nil), step("orange", 60), step("red", 600)),
		promInstant("A", "trustpipe:last_flush_age_seconds", "since last flush"),
	))

	// --- Throughput ---------------------------------------------------------
	l.row("Throughput and dead letters", "deadletterratehigh")
	l.add(8, 8, timeseries("Records consumed per second",
		"Kafka records processed (accepted + rejected) per second, by topic, summed over instances.", "ops",
		promTarget("A", "sum by (topic) (rate(trustpipe_records_consumed_total[$__rate_interval]))", "{{topic}}"),
	))
	l.add(8, 8, timeseries("Valid events per second by type",
		"Events counted per second, by event type.", "ops",
		promTarget("A", "sum by (type) (rate(trustpipe_events_accepted_total[$__rate_interval]))", "{{type}}"),
	).stacked())
	l.add(8, 8, timeseries("Dead letters per second by reason",
		"Rejected records sent to the dead-letter topic, by rejection reason. A single reason jumping usually means a "+
			"producer changed its format.", "ops",
		promTarget("A", "sum by (reason) (rate(trustpipe_events_rejected_total[$__rate_interval])) > 0", "{{reason}}"),
		promTarget("B", "trustpipe:dead_letter_ratio:rate15m", "dead-letter share (15 m)"),
	).stacked().override("byFrameRefID", "B", append(rightAxis("percentunit"), prop("custom.stacking", Obj{"mode": "none"}))...))

	// --- Lag ----------------------------------------------------------------
	l.row("Lag", "consumerlaghigh")
	l.add(12, 8, timeseries("Consumer lag by topic",
		"Records behind the high watermark, per topic (partitions summed, each counted once). The lag_bounded gate closes "+
			"above 100 000.", "short",
		promTarget("A", "trustpipe:consumer_lag:sum_by_topic", "{{topic}}"),
	).thresholdLines(steps(step("green", nil), step("red", 100000))))
	l.add(12, 8, timeseries("Consumer lag by partition",
		"Records behind the high watermark per partition: one partition lagging alone points at a slow or stuck member.",
		"short",
		promTarget("A", "max by (topic, partition) (trustpipe_consumer_lag)", "{{topic}}/{{partition}}"),
	))

	// --- Sink ---------------------------------------------------------------
	l.row("Flushes and the ClickHouse sink", "sinkfailing")
	l.add(8, 8, timeseries("Flush latency",
		"Time to store one snapshot (dead letters, ClickHouse rows, offset commit), retries included: median and 99th percentile.",
		"s",
		promTarget("A", "histogram_quantile(0.5, sum by (le) (rate(trustpipe_flush_duration_seconds_bucket[$__rate_interval])))", "p50"),
		promTarget("B", "histogram_quantile(0.99, sum by (le) (rate(trustpipe_flush_duration_seconds_bucket[$__rate_interval])))", "p99"),
	))
	l.add(8, 8, timeseries("Sink errors and retries",
		"Failed attempts to store a snapshot and retries per second. Retries that succeed are harmless; errors without a "+
			"moving flush timestamp close the sink_ok gate.", "ops",
		promTarget("A", "sum(rate(trustpipe_sink_errors_total[$__rate_interval]))", "errors"),
		promTarget("B", "sum(rate(trustpipe_sink_retries_total[$__rate_interval]))", "retries"),
	))
	l.add(8, 8, timeseries("Rows written and commits",
		"Rows inserted per second by storage table, and offset commits, rebalances and partition re-reads per second.", "ops",
		promTarget("A", "sum by (table) (rate(trustpipe_rows_written_total[$__rate_interval]))", "rows: {{table}}"),
		promTarget("B", "sum(rate(trustpipe_offsets_committed_total[$__rate_interval]))", "commits"),
		promTarget("C", "sum(rate(trustpipe_rebalances_total[$__rate_interval]))", "rebalances"),
		promTarget("D", "sum(rate(trustpipe_partition_rereads_total[$__rate_interval]))", "re-reads"),
	))

	// --- ClickHouse: ledger and freshness ----------------------------------
	l.row("Ledger conservation and freshness (ClickHouse)", "ledgergap")
	l.add(6, 7, stat("Accepted (ledger) − counted (trust_counts)",
		"Every accepted offset must be counted exactly once: the ledger's accepted total minus the sum of trust_counts.events. "+
			"0 is correct; it can be briefly positive or negative while a flush is in flight, never for long.",
		"short", steps(step("red", nil), step("green", 0), step("red", 1)),
		sqlTarget("A", true, `SELECT
	toInt64((SELECT sum(accepted) FROM `+"ingest_ledger"+`)) - toInt64((SELECT sum(events) FROM `+countRows+`)) AS "Difference"`),
	))
	l.add(6, 7, stat("Newest event in ClickHouse",
		"Seconds between now and the start of the newest base bucket in trust_counts (event time). Includes the bucket width; "+
			"compare with Data age above, which is what the gates use.", "s",
		steps(step("green", nil), step("orange", 900), step("red", 1800)),
		sqlTarget("A", true, `SELECT toInt64(toUInt32(now())) - toInt64(toUInt32(max(bucket))) AS "Age" FROM `+countRows),
	))
	l.add(12, 7, timeseries("Valid events by event time",
		"Events in trust_counts per interval of event time (occurred_at). A gap or a ramp at the right edge is data that is late "+
			"or not flushed yet.", "short",
		sqlTarget("A", false, `SELECT `+bucket("bucket")+` AS time, sum(events) AS "Valid events"
FROM `+countRows+`
WHERE $__timeFilter(bucket)
GROUP BY time
ORDER BY time`),
	).bars())
	ledger := table("Ledger per partition",
		"ingest_ledger summed per partition. Consumed = accepted + rejected on every row, so the conservation column must be 0; "+
			"offset gaps are offsets between the first and last block not accounted for (0 unless compaction or transaction "+
			"markers skip offsets); open blocks are still being read.",
		sqlTarget("A", true, `SELECT
	topic AS "Topic",
	partition AS "Partition",
	count() AS "Blocks",
	countIf(complete = 0) AS "Open blocks",
	min(first_offset) AS "First offset",
	max(last_offset) AS "Last offset",
	sum(consumed) AS "Consumed",
	sum(accepted) AS "Accepted",
	sum(rejected) AS "Rejected",
	toInt64(sum(consumed)) - toInt64(sum(accepted)) - toInt64(sum(rejected)) AS "Consumed − accepted − rejected",
	(max(last_offset) - min(first_offset) + 1) - toInt64(sum(consumed)) AS "Offset gaps",
	sum(rejected) / nullIf(sum(consumed), 0) AS "Rejected share"
FROM `+"ingest_ledger"+`
GROUP BY topic, partition
ORDER BY topic, partition`))
	ledger.override("byName", "Rejected share", prop("unit", "percentunit"), prop("decimals", 2))
	for _, c := range []string{"Consumed − accepted − rejected", "Offset gaps"} {
		ledger.override("byName", c, prop("custom.cellOptions", Obj{"type": "color-background"}),
			prop("thresholds", steps(step("red", nil), step("green", 0), step("red", 1))))
	}
	l.add(24, 8, ledger)
	return d
}
