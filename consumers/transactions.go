package consumers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	fetchAPI "github.com/segmentio/kafka-go/protocol/fetch"
)

// RecordKind says whether a fetched record is an event to judge or an
// offset that carries none.
type RecordKind uint8

const (
	// Data is a record of a committed transaction or of a plain producer.
	Data RecordKind = iota
	// Marker is a transaction control record (commit or abort marker).
	Marker
	// Aborted is a record of an aborted transaction.
	Aborted
)

// Classifier tells transaction markers and aborted records apart from data.
type Classifier interface {
	Classify(ctx context.Context, m *kafka.Message) (RecordKind, error)
}

// Transactions classifies records for readers that see transactional
// topics. kafka-go's Reader hands control records over as ordinary messages
// and does not drop aborted transactions (kafka-go issue 1332), and its
// Message carries neither batch attributes nor producer ids. So, for the
// offsets it has not classified yet, Transactions fetches the partition once
// more through kafka-go's protocol layer (read committed, as the reader), where
// the response keeps what the Reader drops: each batch's control and
// transactional attributes and producer id, and the broker's list of aborted
// transactions. From these it derives, as Kafka's own consumer does, which
// offsets are markers and which belong to aborted transactions.
//
// Cost: while records flow, every byte is fetched twice (once by the
// reader, once here, in fetches of up to maxBytes of one partition). Only
// offsets that are not data are remembered, and only for the range last fetched per partition.
// So that the pipeline does not wait for the second fetch, the range after
// the current one is fetched ahead, in the background, when the broker
// said it already holds records past it (a backfill; at the live tail there
// is nothing to fetch ahead); at most maxPrefetches such fetches run at once.
type Transactions struct {
	transport kafka.RoundTripper
	addr      net.Addr
	maxBytes  int32
	parts     map[partitionKey]*txnPartition
	// prefetches holds a token per fetch running ahead (bounding the
	// responses in memory at once).
	prefetches chan struct{}
}

// maxPrefetches bounds the fetches running ahead, over all partitions.
const maxPrefetches = 2

// txnPartition is one partition's current range and the fetch of the next.
type txnPartition struct {
	cur  *txnRange
	next chan fetched // nil: none under way; buffered, so the fetch never blocks
}

type fetched struct {
	r   *txnRange
	err error
}

// txnRange is what one raw fetch taught about a partition: offsets in
// [from, to) not listed in kinds are data. more says the broker held
// readable records at or past to when it answered.
type txnRange struct {
	from, to int64
	kinds    map[int64]RecordKind
	more     bool
}

// NewTransactions returns a classifier fetching from brokers through
// transport (nil: kafka-go's default transport) in fetches of up to
// maxBytes.
func NewTransactions(brokers []string, transport kafka.RoundTripper, maxBytes int) *Transactions {
	if transport == nil {
		transport = kafka.DefaultTransport
	}
	return &Transactions{transport: transport, addr: kafka.TCP(brokers...), maxBytes: int32(maxBytes),
		parts: map[partitionKey]*txnPartition{}, prefetches: make(chan struct{}, maxPrefetches)}
}

// Classify returns the kind of m. It is called by one goroutine.
func (t *Transactions) Classify(ctx context.Context, m *kafka.Message) (RecordKind, error) {
	k := partitionKey{m.Topic, m.Partition}
	p := t.parts[k]
	if p == nil {
		p = &txnPartition{}
		t.parts[k] = p
	}
	if p.cur == nil || m.Offset < p.cur.from || m.Offset >= p.cur.to {
		r, err := t.take(ctx, p, m.Topic, m.Partition, m.Offset)
		if err != nil {
			return Data, err
		}
		p.cur = r
	}
	if p.next == nil && p.cur.more {
		t.prefetch(ctx, p, m.Topic, m.Partition, p.cur.to)
	}
	return p.cur.kinds[m.Offset], nil
}

// take returns the range holding offset: the one fetched ahead if it does
// (waiting for it), else a fresh fetch. A failed or empty fetch ahead is
// dropped: the fresh fetch reports its own error.
func (t *Transactions) take(ctx context.Context, p *txnPartition, topic string, partition int, offset int64) (*txnRange, error) {
	if next := p.next; next != nil {
		p.next = nil
		select {
		case f := <-next:
			if f.err == nil && offset >= f.r.from && offset < f.r.to {
				return f.r, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return t.fetch(ctx, topic, partition, offset)
}

// prefetch starts fetching the range at offset in the background, unless
// maxPrefetches are running already.
func (t *Transactions) prefetch(ctx context.Context, p *txnPartition, topic string, partition int, offset int64) {
	select {
	case t.prefetches <- struct{}{}:
	default:
		return
	}
	next := make(chan fetched, 1)
	p.next = next
	go func() {
		defer func() { <-t.prefetches }()
		r, err := t.fetch(ctx, topic, partition, offset)
		next <- fetched{r, err}
	}()
}

func (t *Transactions) fetch(ctx context.Context, topic string, partition int, offset int64) (*txnRange, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := t.transport.RoundTrip(ctx, t.addr, &fetchAPI.Request{
		ReplicaID:   -1,
		MaxWaitTime: 0,
		MinBytes:    0,
		// Only the partition's limit bounds the answer: a broker that hits
		// the response's limit may stop before listing the partition's
		// aborted transactions (kfake does), which would make every
		// aborted record of a range cut short by size look committed.
		MaxBytes:       math.MaxInt32,
		IsolationLevel: int8(kafka.ReadCommitted),
		SessionID:      -1,
		SessionEpoch:   -1,
		Topics: []fetchAPI.RequestTopic{{
			Topic: topic,
			Partitions: []fetchAPI.RequestPartition{{
				Partition:          int32(partition),
				CurrentLeaderEpoch: -1,
				FetchOffset:        offset,
				LogStartOffset:     -1,
				PartitionMaxBytes:  t.maxBytes,
			}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("classify transactions of %s/%d at offset %d: %w", topic, partition, offset, err)
	}
	fr, ok := res.(*fetchAPI.Response)
	if !ok || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("classify transactions of %s/%d at offset %d: unexpected fetch response", topic, partition, offset)
	}
	p := &fr.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return nil, fmt.Errorf("classify transactions of %s/%d at offset %d: %w", topic, partition, offset, kafka.Error(p.ErrorCode))
	}
	r, err := classifyBatches(offset, p.RecordSet.Records, p.AbortedTransactions)
	if err != nil {
		return nil, fmt.Errorf("classify transactions of %s/%d at offset %d: %w", topic, partition, offset, err)
	}
	// Under read committed the last stable offset bounds what can be read
	// (-1 from brokers that do not send it).
	readable := p.HighWatermark
	if p.LastStableOffset >= 0 {
		readable = min(readable, p.LastStableOffset)
	}
	r.more = r.to < readable
	if r.to <= offset {
		// The record was fetched by the reader, so the broker holds it; an
		// empty answer (a leader change under way) is retried by the caller.
		return nil, fmt.Errorf("classify transactions of %s/%d: no records at offset %d", topic, partition, offset)
	}
	return r, nil
}

// classifyBatches walks the batches of one fetch response from offset as
// Kafka's consumer does: an aborted transaction's producer is "aborting"
// from the transaction's first offset until its abort marker; its
// transactional batches in between are aborted; control batches are
// markers.
func classifyBatches(offset int64, records protocol.RecordReader, abortedTxns []fetchAPI.ResponseTransaction) (*txnRange, error) {
	aborted := append([]fetchAPI.ResponseTransaction(nil), abortedTxns...)
	sort.Slice(aborted, func(i, j int) bool { return aborted[i].FirstOffset < aborted[j].FirstOffset })
	aborting := map[int64]bool{}
	r := &txnRange{from: offset, to: offset, kinds: map[int64]RecordKind{}}
	var batches []protocol.RecordReader
	switch rs := records.(type) {
	case nil:
	case *protocol.RecordStream:
		batches = rs.Records
	default:
		batches = []protocol.RecordReader{rs}
	}
	for _, b := range batches {
		var kind RecordKind
		var attrs protocol.Attributes
		var producer int64
		switch b := b.(type) {
		case *protocol.ControlBatch:
			kind, attrs, producer = Marker, b.Attributes, b.ProducerID
		case *protocol.RecordBatch:
			attrs, producer = b.Attributes, b.ProducerID
		}
		offs, controlTypes, err := readOffsets(b, kind == Marker)
		if err != nil {
			return nil, err
		}
		if len(offs) == 0 {
			continue
		}
		for len(aborted) > 0 && aborted[0].FirstOffset <= offs[len(offs)-1] {
			aborting[aborted[0].ProducerID] = true
			aborted = aborted[1:]
		}
		switch {
		case kind == Marker:
			for _, typ := range controlTypes {
				if typ == controlAbort {
					delete(aborting, producer)
				}
			}
		case attrs.Transactional() && aborting[producer]:
			kind = Aborted
		}
		for _, o := range offs {
			if o < offset {
				continue // batches may start before the requested offset
			}
			if kind != Data {
				r.kinds[o] = kind
			}
			r.to = max(r.to, o+1)
		}
	}
	return r, nil
}

// controlAbort is the control record type of an abort marker (1: commit).
const controlAbort = 0

// readOffsets reads the offsets of a batch's records and, for a control
// batch, their control types. A batch cut short by the response size limit
// yields the records it holds.
func readOffsets(b protocol.RecordReader, control bool) (offs []int64, types []int16, err error) {
	for {
		rec, err := b.ReadRecord()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return offs, types, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read record batch: %w", err)
		}
		offs = append(offs, rec.Offset)
		if control {
			cr, err := protocol.ReadControlRecord(rec)
			if err != nil {
				return nil, nil, fmt.Errorf("read control record at offset %d: %w", rec.Offset, err)
			}
			types = append(types, cr.Type)
			continue
		}
		if rec.Key != nil {
			rec.Key.Close()
		}
		if rec.Value != nil {
			rec.Value.Close()
		}
	}
}
