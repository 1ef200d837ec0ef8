package main

import (
	"errors"

	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/sink"
)

// advice maps the stages' typed errors to what the user should check, in
// the command line's vocabulary: the stages know what failed, only cmd
// knows which variable configured it.
var advice = []struct {
	err  error
	hint string
}{
	{sink.ErrAuthentication, "ClickHouse answered but refused the login: check TRUSTPIPE_CLICKHOUSE_USERNAME and " +
		"TRUSTPIPE_CLICKHOUSE_PASSWORD (or TRUSTPIPE_CLICKHOUSE_PASSWORD_FILE); the address is right"},
	{sink.ErrUnreachable, "check TRUSTPIPE_CLICKHOUSE_ADDR (native protocol, usually port 9000; 9440 with " +
		"TRUSTPIPE_CLICKHOUSE_TLS=true) and that ClickHouse is running"},
	{consumers.ErrUnreachable, "check TRUSTPIPE_KAFKA_BROKERS (host:port of a running broker) and, if the brokers " +
		"require them, TRUSTPIPE_KAFKA_TLS and TRUSTPIPE_KAFKA_SASL_*"},
	{consumers.ErrFetch, "check TRUSTPIPE_KAFKA_BROKERS and that every topic of TRUSTPIPE_KAFKA_TOPICS exists"},
	{sink.ErrBlockSizeMismatch, "set TRUSTPIPE_BLOCK_SIZE to the live pipeline's value"},
	{sink.ErrBucketSizeMismatch, "set TRUSTPIPE_BUCKET_SIZE to the live pipeline's value, or backfill a new definition with --target"},
}

// withAdvice is err's message followed by the advice for the first typed
// error it wraps, on its own indented line.
func withAdvice(err error) string {
	for _, a := range advice {
		if errors.Is(err, a.err) {
			return err.Error() + "\n  " + a.hint
		}
	}
	return err.Error()
}
