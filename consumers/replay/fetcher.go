package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
)

// readerConfig is what a partition reader needs.
type readerConfig struct {
	Brokers  []string
	Dialer   *kafka.Dialer
	Parallel int           // partitions read at once
	Idle     time.Duration // how long to wait for a record before checking where the reader is
}

// fetcher is a bounded consumers.Fetcher over a plan's ranges: one kafka-go
// Reader per partition (Partition set, no GroupID, so SetOffset works and no
// consumer group is joined or committed to), at most Parallel partitions at a
// time. Each partition's ranges are read in offset order by one goroutine,
// so the pipeline sees every partition's records in order. FetchMessage
// returns io.EOF once every range is read.
type fetcher struct {
	msgs chan kafka.Message
	mu   sync.Mutex
	err  error

	done   atomic.Int64 // offsets read, for progress
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// lister looks up a partition's log start offset (to tell retention from a
// gap left by compaction or transaction markers).
type lister interface {
	bounds(ctx context.Context, topic string, parts []int) (map[int]partitionInfo, error)
}

func startFetcher(ctx context.Context, cfg readerConfig, b lister, ranges []Planned, log *slog.Logger, queue int) *fetcher {
	ctx, cancel := context.WithCancel(ctx)
	f := &fetcher{msgs: make(chan kafka.Message, queue), cancel: cancel}
	type key struct {
		topic     string
		partition int
	}
	var order []key
	byPart := map[key][]Range{}
	for _, r := range ranges {
		k := key{r.Widened.Topic, r.Widened.Partition}
		if _, ok := byPart[k]; !ok {
			order = append(order, k)
		}
		byPart[k] = append(byPart[k], r.Widened)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, cfg.Parallel))
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for _, k := range order {
			rs := byPart[k]
			g.Go(func() error { return f.readPartition(gctx, cfg, b, rs, log) })
		}
		if err := g.Wait(); err != nil {
			f.mu.Lock()
			f.err = err
			f.mu.Unlock()
		}
		close(f.msgs)
	}()
	return f
}

// FetchMessage implements consumers.Fetcher.
func (f *fetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	select {
	case m, ok := <-f.msgs:
		if ok {
			return m, nil
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.err != nil {
			return kafka.Message{}, f.err
		}
		return kafka.Message{}, io.EOF
	case <-ctx.Done():
		return kafka.Message{}, ctx.Err()
	}
}

// Close stops the readers and waits for them.
func (f *fetcher) Close() {
	f.cancel()
	go func() {
		for range f.msgs { //nolint:revive // drain so senders can exit
		}
	}()
	f.wg.Wait()
}

// Done is the number of offsets read so far.
func (f *fetcher) Done() int64 { return f.done.Load() }

func (f *fetcher) readPartition(ctx context.Context, cfg readerConfig, b lister, ranges []Range, log *slog.Logger) error {
	first := ranges[0]
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:               cfg.Brokers,
		Topic:                 first.Topic,
		Partition:             first.Partition,
		Dialer:                cfg.Dialer,
		MinBytes:              1,
		MaxBytes:              8 << 20,
		MaxWait:               250 * time.Millisecond,
		IsolationLevel:        kafka.ReadCommitted, // as the live reader: see consumers.Transactions
		QueueCapacity:         1024,
		ReadLagInterval:       -1,
		OffsetOutOfRangeError: true,
		ErrorLogger:           kafka.LoggerFunc(func(msg string, a ...any) { log.Warn("kafka: " + fmt.Sprintf(msg, a...)) }),
	})
	defer r.Close()
	for _, rg := range ranges {
		if err := f.readRange(ctx, cfg, b, r, rg, log); err != nil {
			return err
		}
	}
	return nil
}

// readRange reads rg's records into f.msgs, in order. A jump in offsets is
// accepted when compaction or transaction markers explain it, but not when
// retention deleted the records under the replay: the records before the
// jump still reach the pipeline (a block prefix, which never replaces a
// complete block), the rest is an error.
func (f *fetcher) readRange(ctx context.Context, cfg readerConfig, b lister, r *kafka.Reader, rg Range, log *slog.Logger) error {
	if err := r.SetOffset(rg.From); err != nil {
		return fmt.Errorf("replay %s: seek: %w", rg, err)
	}
	next := rg.From // the offset expected next
	idle := cfg.Idle
	if idle <= 0 {
		idle = 30 * time.Second
	}
	for next <= rg.To {
		fctx, cancel := context.WithTimeout(ctx, idle)
		m, err := r.FetchMessage(fctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				// Nothing arrived for a while: ask the broker whether any
				// record at or after next still exists. If the log now ends
				// before next (records truncated away), the range is done;
				// if its start passed next, retention deleted them.
				info, berr := b.bounds(ctx, rg.Topic, []int{rg.Partition})
				if berr == nil {
					pi := info[rg.Partition]
					if pi.logStart > next {
						return deleted(rg, next, fmt.Errorf("log start offset is now %d", pi.logStart))
					}
					if pi.hw <= next {
						log.Warn("replay: the partition now ends before the range did; nothing more to read",
							"partition", fmt.Sprintf("%s/%d", rg.Topic, rg.Partition), "offset", next, "high_watermark", pi.hw)
						break
					}
				}
				log.Warn("replay: still waiting for a record", "partition", fmt.Sprintf("%s/%d", rg.Topic, rg.Partition), "offset", next, "range", rg.String())
				continue
			}
			if errors.Is(err, kafka.OffsetOutOfRange) {
				return deleted(rg, next, err)
			}
			return fmt.Errorf("replay %s: read at offset %d: %w", rg, next, err)
		}
		if m.Offset < next {
			continue // already handed out
		}
		if m.Offset > next {
			if err := f.checkGap(ctx, b, rg, next); err != nil {
				return err
			}
		}
		if m.Offset > rg.To {
			break // past the range (the offsets up to it are gaps)
		}
		f.done.Add(m.Offset - next + 1)
		select {
		case f.msgs <- m:
		case <-ctx.Done():
			return ctx.Err()
		}
		next = m.Offset + 1
	}
	if next <= rg.To {
		f.done.Add(rg.To + 1 - next)
	}
	return nil
}

// checkGap returns an error when offsets from next on were deleted by
// retention (the log start moved past them).
func (f *fetcher) checkGap(ctx context.Context, b lister, rg Range, next int64) error {
	info, err := b.bounds(ctx, rg.Topic, []int{rg.Partition})
	if err != nil {
		return fmt.Errorf("replay %s: offsets jump after %d, and the log start cannot be checked: %w", rg, next-1, err)
	}
	if ls := info[rg.Partition].logStart; ls > next {
		return deleted(rg, next, fmt.Errorf("log start offset is now %d", ls))
	}
	return nil
}

func deleted(rg Range, next int64, cause error) error {
	return fmt.Errorf("replay %s: offsets from %d were deleted by retention while replaying (%v); "+
		"the blocks before it are rewritten, the partly deleted block is not: replay what is left with a later range", rg, next, cause)
}
