package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/consumers/adapter"
	"github.com/trustpipe/trustpipe/consumers/produce"
	"github.com/trustpipe/trustpipe/consumers/progress"
)

// genOptions are the per-run arguments of `trustpipe gen`.
type genOptions struct {
	scenario     string
	events       int
	days         int
	seed         int64
	rate         float64
	live         bool
	invalidRatio float64
	topic        string
	format       string
}

func parseGenFlags(args []string) (genOptions, error) {
	var o genOptions
	fs := genFlags(&o)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if _, ok := scenario.Describe(o.scenario); !ok {
		return o, usagef("--scenario %q: choose one of %s", o.scenario, strings.Join(scenario.Names(), ", "))
	}
	if o.events < 0 || (o.events == 0 && !o.live) {
		return o, usagef("--events %d: give a positive number of records (0 is allowed only with --live)", o.events)
	}
	if _, ok := adapter.Lookup(o.format); o.format != "" && !ok {
		return o, usagef("--format %q: choose one of %s (or none for contract records)", o.format, strings.Join(adapter.Names(), ", "))
	}
	if o.format != "" && o.live {
		return o, usagef("--format writes a history, not a live feed: drop --live")
	}
	if o.rate < 0 || o.invalidRatio < 0 || o.invalidRatio > 1 {
		return o, usagef("--rate must be >= 0 and --invalid-ratio within [0, 1]")
	}
	return o, nil
}

// genFlags is gen's flag set, bound to o.
func genFlags(o *genOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.StringVar(&o.scenario, "scenario", "healthy", "scenario: "+strings.Join(scenario.Names(), ", "))
	fs.IntVar(&o.events, "events", 100000, "exact number of records to produce (with --live, 0 = until Ctrl-C)")
	fs.IntVar(&o.days, "days", scenario.DefaultDays, "days of history, ending now")
	fs.Int64Var(&o.seed, "seed", 1, "random seed: the same seed gives the same stream")
	fs.Float64Var(&o.rate, "rate", 0, "records per second (0 = as fast as the broker takes them)")
	fs.BoolVar(&o.live, "live", false, "stamp events with the current time, as a live feed (use with --rate)")
	fs.Float64Var(&o.invalidRatio, "invalid-ratio", 0, "fraction of deliberately invalid records, to exercise the dead-letter path")
	fs.StringVar(&o.topic, "topic", "", "topic to write (default: the first of TRUSTPIPE_KAFKA_TOPICS)")
	fs.StringVar(&o.format, "format", "", "write the events as a platform's native payloads: "+strings.Join(adapter.Names(), ", ")+
		" (for a topic listed in TRUSTPIPE_KAFKA_TOPIC_FORMATS; events the platform cannot report are left out)")
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, "Usage: trustpipe gen [--scenario NAME] [--events N] [--days D] [--rate R] [--live] [--seed S]\n\n"+
			"Writes a synthetic event stream to Kafka (TRUSTPIPE_KAFKA_BROKERS, TLS and SASL as for run).\n\nScenarios:\n")
		for _, n := range scenario.Names() {
			d, _ := scenario.Describe(n)
			fmt.Fprintf(out, "  %-24s %s\n", n, d)
		}
		fmt.Fprintln(out, "\nFlags:")
		printFlags(fs)
	}
	return fs
}

func cmdGen(ctx context.Context, args []string) error {
	o, err := parseGenFlags(args)
	if err != nil {
		return err
	}
	c, err := loadConfig()
	if err != nil {
		return err
	}
	if o.topic == "" {
		o.topic = c.KafkaTopics[0]
	}
	// A dead broker fails here, naming the variable to check, instead of
	// after the writer's retries.
	_, transport, err := connectKafka(ctx, c)
	if err != nil {
		return err
	}
	w := &kafka.Writer{
		Addr: kafka.TCP(c.KafkaBrokers...), Topic: o.topic, Transport: transport,
		Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchSize: 1000, BatchBytes: 8 << 20,
		BatchTimeout: 5 * time.Millisecond, AllowAutoTopicCreation: true,
	}
	defer w.Close()
	n, err := generate(ctx, w, o, time.Now(), os.Stderr)
	fmt.Fprintf(os.Stderr, "gen: wrote %d records of scenario %s to %s\n", n, o.scenario, o.topic)
	if err != nil && ctx.Err() != nil {
		return nil // Ctrl-C: what was written is reported above
	}
	return err
}

// generate writes the scenario to w with progress on out; with --live the
// events are stamped with the wall clock as they are written.
func generate(ctx context.Context, w produce.Writer, o genOptions, now time.Time, out io.Writer) (int, error) {
	events := o.events
	if o.live {
		events = 0 // all records come from NextAt
	}
	g, err := scenario.New(scenario.Config{Name: o.scenario, Events: events, Days: o.days, Seed: o.seed, End: now, InvalidRatio: o.invalidRatio})
	if err != nil {
		return 0, usagef("%v", err)
	}
	paced := produce.Paced(w, o.rate)
	if o.format != "" {
		p := progress.New(out, "gen")
		st, err := produce.ProduceNative(ctx, paced, g, o.format, batchFor(o.rate), p.Update)
		p.Finish()
		fmt.Fprintf(out, "gen: %d %s records hold %d events (%d records deliberately broken); %d events %s cannot report were left out\n",
			st.Records, o.format, st.Events, st.Invalid, st.LeftOut, o.format)
		return st.Records, err
	}
	if !o.live {
		p := progress.New(out, "gen")
		n, err := produce.Produce(ctx, paced, g, batchFor(o.rate), p.Update)
		if err != nil {
			p.Finish()
		}
		return n, err
	}
	return produceLive(ctx, paced, g, o.events, batchFor(o.rate))
}

// batchFor sizes batches to well under a second of records so pacing is
// smooth.
func batchFor(rate float64) int {
	if rate <= 0 {
		return produce.DefaultBatch
	}
	return max(1, min(produce.DefaultBatch, int(rate/10)))
}

// produceLive writes records stamped with the current time until limit
// records (0 = no limit) or ctx ends.
func produceLive(ctx context.Context, w produce.Writer, g *scenario.Generator, limit, batch int) (int, error) {
	written := 0
	for limit == 0 || written < limit {
		n := batch
		if limit > 0 {
			n = min(n, limit-written)
		}
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			r := g.NextAt(time.Now()).Clone()
			msgs[i] = kafka.Message{Key: r.Key, Value: r.Value, Time: r.Time}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return written, fmt.Errorf("write live records: %w", err)
		}
		written += n
	}
	return written, nil
}
