// Package produce writes a scenario generator's records to Kafka, optionally
// paced, for `trustpipe gen`, the demo and the tests. It is a leaf: it knows
// the generator and a one-method writer, nothing of the pipeline.
package produce

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
)

// Writer is the part of *kafka.Writer that Produce needs; tests and
// decorators (pacing, fault injection) implement it without a broker.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// DefaultBatch is the number of records per WriteMessages call when Produce
// is given batch <= 0.
const DefaultBatch = 1000

// Produce writes every remaining record of g to w, batch records per
// WriteMessages call, and returns how many records were written.
//
// Each message carries the record's key and value and Time = event time, so
// that the topic's timestamps follow event time and timestamp offset
// look-ups (replays by time range) land where the events are.
//
// progress, if not nil, is called with (0, total) before the first batch and
// after every batch; Progress.Update fits.
//
// Every batch gets freshly allocated buffers, so an asynchronous writer may
// keep the messages after WriteMessages returns. With a synchronous
// *kafka.Writer, the count returned is the number of records acknowledged.
// On error (including cancellation of ctx) it stops and returns the records
// written by earlier batches; the failed batch may be partially written (a
// retry would then duplicate records: regenerate the topic rather than
// resume).
func Produce(ctx context.Context, w Writer, g *scenario.Generator, batch int, progress func(done, total int)) (int, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	total := g.Remaining()
	written := 0
	if progress != nil {
		progress(0, total)
	}
	arenaSize := 0
	for written < total {
		if err := ctx.Err(); err != nil {
			return written, fmt.Errorf("produce: stopped after %d of %d records: %w", written, total, err)
		}
		n := min(batch, total-written)
		msgs := make([]kafka.Message, 0, n)
		// One arena per batch for all keys and values: two allocations per
		// batch instead of two per record.
		arena := make([]byte, 0, max(arenaSize, 256*n))
		for range n {
			rec, ok := g.Next()
			if !ok {
				break
			}
			k := len(arena)
			arena = append(arena, rec.Key...)
			v := len(arena)
			arena = append(arena, rec.Value...)
			m := kafka.Message{Value: arena[v:len(arena):len(arena)], Time: rec.Time}
			if rec.Key != nil {
				m.Key = arena[k:v:v]
			}
			msgs = append(msgs, m)
		}
		// Slices taken before the arena grew keep pointing at the old
		// backing array, whose bytes append never changes: they stay valid.
		arenaSize = max(arenaSize, len(arena))
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return written, fmt.Errorf("produce: writing records %d-%d of %d: %w", written+1, written+len(msgs), total, err)
		}
		written += len(msgs)
		if progress != nil {
			progress(written, total)
		}
		if len(msgs) < n {
			break
		}
	}
	return written, nil
}

// Paced wraps w so that records are written at no more than perSecond on
// average (the `--rate` of `trustpipe gen`, and the live tail of the demo).
// perSecond <= 0 returns w unchanged. Pacing sleeps before a batch that would
// run ahead of the schedule, so choose batches of well under a second's
// worth of records for a smooth rate.
func Paced(w Writer, perSecond float64) Writer {
	if perSecond <= 0 {
		return w
	}
	return &paced{w: w, rate: perSecond}
}

type paced struct {
	w     Writer
	rate  float64
	start time.Time
	sent  int
}

func (p *paced) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	now := time.Now()
	if p.start.IsZero() {
		p.start = now
	}
	due := p.start.Add(time.Duration(float64(p.sent) / p.rate * float64(time.Second)))
	if wait := due.Sub(now); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	p.sent += len(msgs)
	return p.w.WriteMessages(ctx, msgs...)
}
