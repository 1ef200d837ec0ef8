package sinktest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/aggregate"
	"github.com/trustpipe/trustpipe/aggregate/event"
	"github.com/trustpipe/trustpipe/aggregate/scenario"
	"github.com/trustpipe/trustpipe/sink"
)

// Loaded summarises what LoadScenario stored.
type Loaded struct {
	Records, Accepted, Rejected int
	// Stats are the generator's own totals (valid events by type and day,
	// invalid records by reason): an oracle independent of the pipeline.
	Stats scenario.Stats
}

// LoadOptions tune LoadScenario; the zero value is what the pipeline uses by
// default (one-minute buckets, 10 000-offset blocks) on three partitions.
type LoadOptions struct {
	Aggregate  aggregate.Config // zero: aggregate.DefaultConfig()
	Partitions int              // zero: 3
	Topic      string           // zero: "trust-events"
}

// LoadScenario generates the scenario's stream and stores it in st the way
// the pipeline does — strict decode and validation against the record
// timestamp, aggregation per offset block, a snapshot per block, Store.Write
// — in process, without Kafka, so a test can fill a database with weeks of
// realistic data in seconds. Records are spread over partitions by a hash of
// their key, as a keyed Kafka producer would.
//
// Contact and account pseudonyms are a plain SHA-256 of the id (Pseudonym): fine for tests, which
// need distinct, stable pseudonyms, not secrecy.
func LoadScenario(t testing.TB, st *sink.Store, cfg scenario.Config, opt LoadOptions) Loaded {
	t.Helper()
	if opt.Aggregate.BlockSize == 0 { // unset: Validate refuses a zero block size
		opt.Aggregate = aggregate.DefaultConfig()
	}
	if opt.Partitions <= 0 {
		opt.Partitions = 3
	}
	if opt.Topic == "" {
		opt.Topic = "trust-events"
	}
	g, err := scenario.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := aggregate.New(opt.Aggregate)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	write := func() {
		if err := st.Write(ctx, agg.Snapshot()); err != nil {
			t.Fatalf("load scenario %s: %v", cfg.Name, err)
		}
	}
	dec := event.NewDecoder(event.DefaultLimits())
	offsets := make([]int64, opt.Partitions)
	var out Loaded
	var ev event.Event
	for {
		r, ok := g.Next()
		if !ok {
			break
		}
		// The decoder is zero-copy (event strings alias the record) and the
		// aggregator keeps those strings, while the generator reuses its
		// buffer: every record needs its own bytes, as Kafka messages have.
		r = r.Clone()
		p := 0
		if len(r.Key) > 0 {
			h := fnv.New32a()
			h.Write(r.Key)
			p = int(h.Sum32() % uint32(opt.Partitions))
		}
		off := offsets[p]
		offsets[p]++
		out.Records++
		if rej := dec.Decode(r.Value, r.Time, &ev); rej != nil {
			agg.Reject(opt.Topic, int32(p), off)
			out.Rejected++
		} else {
			ev.ContactID, ev.AccountID = hashPseudonym(ev.ContactID), hashPseudonym(ev.AccountID)
			agg.Accept(opt.Topic, int32(p), off, r.Time, &ev)
			out.Accepted++
		}
		if agg.Pending() >= 100000 {
			write()
		}
	}
	write()
	out.Stats = g.Stats()
	return out
}

// Pseudonym is the pseudonym LoadScenario stores for a raw contact or
// account id.
func Pseudonym(id string) string { return hashPseudonym(id) }

// hashPseudonym stands in for the pipeline's keyed pseudonymization.
func hashPseudonym(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}
