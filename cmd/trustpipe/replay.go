package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/trustpipe/trustpipe/consumers"
	"github.com/trustpipe/trustpipe/consumers/replay"
	"github.com/trustpipe/trustpipe/sink"
)

const replayUsage = `Usage:
  trustpipe replay (--from TIME --to TIME | --offsets P:FROM-TO[,…] | --all) [--topic T] [--partitions 0,2] [--target NAME]
  trustpipe replay swap --target NAME [--yes | --dry-run]

Re-processes records of the input topics through the pipeline without touching
the live consumer group. Ranges are widened to whole blocks (TRUSTPIPE_BLOCK_SIZE,
which must be the live pipeline's), so a replay rewrites exactly the rows the
live pipeline wrote: it is idempotent, and safe to kill and run again.

  --from/--to   record time, From <= t < To, per partition through the broker's
                timestamp index; RFC 3339, a UTC date (2026-11-20), now, or -36h
  --offsets     inclusive offsets of one topic, e.g. 0:1000-4999,2:0- (2:0- = to the end)
  --all         every retained record
  --target NAME write a shadow set of tables NAME_* instead of the live ones (a backfill);
                review and swap it in with 'trustpipe replay swap --target NAME'

Exit codes: 0 done (or nothing to replay), 1 failed or interrupted, 2 bad input.
`

// replayOptions are the per-run arguments of `trustpipe replay`.
type replayOptions struct {
	topic      string
	from, to   string
	offsets    string
	all        bool
	partitions string
	target     string
	parallel   int
}

var targetRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,39}$`)

func parseReplayFlags(args []string) (replayOptions, error) {
	var o replayOptions
	fs := replayFlags(&o)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if o.target != "" && !targetRe.MatchString(o.target) {
		return o, usagef("--target %q: use a letter, then letters, digits or underscores (at most 40)", o.target)
	}
	if o.parallel < 1 {
		return o, usagef("--parallel %d: must be at least 1", o.parallel)
	}
	return o, nil
}

// replayFlags is replay's flag set, bound to o.
func replayFlags(o *replayOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.StringVar(&o.topic, "topic", "", "topic to replay (default: every TRUSTPIPE_KAFKA_TOPICS topic; --offsets needs one)")
	fs.StringVar(&o.from, "from", "", "start of the record-time range (inclusive)")
	fs.StringVar(&o.to, "to", "", "end of the record-time range (exclusive)")
	fs.StringVar(&o.offsets, "offsets", "", "inclusive offset ranges: PARTITION:FROM-TO[,PARTITION:FROM-TO…]")
	fs.BoolVar(&o.all, "all", false, "replay every retained record")
	fs.StringVar(&o.partitions, "partitions", "", "only these partitions, e.g. 0,2 (with --from/--to or --all)")
	fs.StringVar(&o.target, "target", "", "backfill the shadow tables NAME_* instead of the live tables")
	fs.IntVar(&o.parallel, "parallel", 4, "partitions read at once")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), replayUsage, "\nFlags:\n")
		printFlags(fs)
	}
	return fs
}

// selection turns the flags into a replay.Selection; topics are the
// configured input topics.
func (o replayOptions) selection(topics []string, now time.Time) (replay.Selection, error) {
	var sel replay.Selection
	sel.Topics = topics
	if o.topic != "" {
		sel.Topics = []string{o.topic}
	}
	sel.All = o.all
	var err error
	if o.from != "" {
		if sel.From, err = replay.ParseTime(o.from, now); err != nil {
			return sel, usagef("--from: %v", err)
		}
	}
	if o.to != "" {
		if sel.To, err = replay.ParseTime(o.to, now); err != nil {
			return sel, usagef("--to: %v", err)
		}
	}
	if o.offsets != "" {
		if len(sel.Topics) != 1 {
			return sel, usagef("--offsets needs exactly one topic: give --topic (TRUSTPIPE_KAFKA_TOPICS lists %s)", strings.Join(topics, ","))
		}
		if sel.Offsets, err = replay.ParseOffsets(sel.Topics[0], o.offsets); err != nil {
			return sel, usagef("%v", err)
		}
	}
	if o.partitions != "" {
		if sel.Partitions, err = replay.ParsePartitions(o.partitions); err != nil {
			return sel, usagef("%v", err)
		}
	}
	if err := sel.Validate(); err != nil {
		return sel, usagef("%v", err)
	}
	return sel, nil
}

func cmdReplay(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "swap" {
		return cmdReplaySwap(ctx, args[1:])
	}
	o, err := parseReplayFlags(args)
	if err != nil {
		return err
	}
	c, err := loadConfig()
	if err != nil {
		return err
	}
	sel, err := o.selection(c.KafkaTopics, time.Now())
	if err != nil {
		return err
	}
	tables := sink.LiveTables()
	if o.target != "" {
		tables = tables.Prefixed(o.target + "_")
	}
	r, st, err := newReplayer(ctx, c, tables, o.parallel)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.target != "" {
		if err := st.CreateStorage(ctx); err != nil {
			return err
		}
	} else if missing, err := st.MissingTables(ctx, tables); err != nil {
		return err
	} else if len(missing) > 0 {
		return fmt.Errorf("table %s.%s does not exist: run `trustpipe migrate` first", c.ClickhouseDatabase, missing[0])
	}
	plan, err := r.Plan(ctx, sel)
	if err != nil {
		return replayError(err)
	}
	plan.Print(os.Stderr)
	if len(plan.Ranges) == 0 {
		if len(plan.Skipped) > 0 {
			return errors.New("nothing can be replayed safely: every block of the range was partly deleted by retention (see the warnings above)")
		}
		fmt.Println("replay: nothing to replay: the range holds no records")
		return nil
	}
	where := "the live tables"
	if o.target != "" {
		where = "shadow tables " + strings.Join(tables.Names(), ", ")
	}
	fmt.Fprintf(os.Stderr, "replay: %d offsets in %d blocks of %d partitions into %s of %s\n",
		plan.Offsets(), plan.Blocks(), plan.Partitions(), where, c.ClickhouseDatabase)
	sum, err := r.Run(ctx, plan)
	if sum != nil {
		sum.Print(os.Stdout)
	}
	if err != nil {
		return err
	}
	if len(plan.Skipped) > 0 {
		fmt.Println("replay: some blocks were not rewritten because retention deleted part of them (see the warnings above)")
	}
	return nil
}

// replayError turns the replay package's bad-input errors into usage errors.
func replayError(err error) error {
	var ie *replay.InputError
	if errors.As(err, &ie) {
		return usagef("%v", err)
	}
	return err
}

// newReplayer connects to ClickHouse (tables) and builds a Replayer with the
// live pipeline's configuration.
func newReplayer(ctx context.Context, c Config, tables sink.Tables, parallel int) (*replay.Replayer, *sink.Store, error) {
	log, err := newLogger(c)
	if err != nil {
		return nil, nil, err
	}
	pseudonyms, err := c.pseudonymizer()
	if err != nil {
		return nil, nil, err
	}
	st, err := openPinged(ctx, c, tables)
	if err != nil {
		return nil, nil, err
	}
	dialer, err := c.kafkaDialer()
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	transport, err := c.kafkaTransport()
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	r, err := replay.New(replay.Config{
		Pipeline:  c.pipelineConfig(),
		Brokers:   c.KafkaBrokers,
		Dialer:    dialer,
		Transport: transport,
		Parallel:  parallel,
		Settings:  consumers.SettingsFingerprint(c.pipelineConfig(), []byte(c.PseudonymKey)),
	}, replay.Deps{Target: st, Pseudonyms: pseudonyms, Logger: log, Progress: os.Stderr})
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	return r, st, nil
}

// swapOptions are the arguments of `trustpipe replay swap`.
type swapOptions struct {
	target string
	yes    bool
	dryRun bool
}

func parseSwapFlags(args []string) (swapOptions, error) {
	var o swapOptions
	fs := swapFlags(&o)
	if err := parseFlags(fs, args); err != nil {
		return o, err
	}
	if !targetRe.MatchString(o.target) {
		return o, usagef("--target NAME is required: a letter, then letters, digits or underscores (at most 40)")
	}
	if o.yes && o.dryRun {
		return o, usagef("--yes and --dry-run contradict each other")
	}
	return o, nil
}

// swapFlags is replay swap's flag set, bound to o.
func swapFlags(o *swapOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("replay swap", flag.ContinueOnError)
	fs.StringVar(&o.target, "target", "", "the shadow backfilled with `trustpipe replay --target NAME`")
	fs.BoolVar(&o.yes, "yes", false, "swap without asking (required when stdin is not a terminal)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the comparison report and stop")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), replayUsage, `
'replay swap' prints a comparison of the live and shadow tables, asks for
confirmation, exchanges the two sets of tables atomically (EXCHANGE TABLES where
the database engine supports it, one RENAME TABLE statement on Ordinary
databases such as ClickHouse 18.16), then replays into the new live tables
everything past the shadow's ledger. The previous live tables are kept under
the shadow's names: swapping again undoes the swap.

Flags:
`)
		printFlags(fs)
	}
	return fs
}

func cmdReplaySwap(ctx context.Context, args []string) error {
	o, err := parseSwapFlags(args)
	if err != nil {
		return err
	}
	c, err := loadConfig()
	if err != nil {
		return err
	}
	live := sink.LiveTables()
	shadow := live.Prefixed(o.target + "_")
	r, st, err := newReplayer(ctx, c, live, 4)
	if err != nil {
		return err
	}
	defer st.Close()
	sc, err := c.sinkConfig()
	if err != nil {
		return err
	}
	shadowSt, err := sink.Open(ctx, sc, shadow)
	if err != nil {
		return err
	}
	defer shadowSt.Close()

	confirm := func(*replay.Comparison) (bool, error) {
		if o.dryRun {
			return false, nil
		}
		if o.yes {
			return true, nil
		}
		fmt.Printf("\nSwap %s.{%s} into the live names? If the backfill used other definitions (bucket size, limits,\n"+
			"pseudonym key, a new trustpipe version), stop the live pipeline first and restart it with them after the swap. [y/N] ",
			c.ClickhouseDatabase, strings.Join(shadow.Names(), ","))
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			fmt.Println()
			return false, usagef("no answer on stdin: pass --yes to swap without asking (or --dry-run for the report only)")
		}
		a := strings.ToLower(strings.TrimSpace(line))
		return a == "y" || a == "yes", nil
	}
	res, err := r.Swap(ctx, st, shadowSt, replay.SwapOptions{Live: live, Shadow: shadow, Topics: c.KafkaTopics, Report: os.Stdout, Confirm: confirm})
	if errors.Is(err, replay.ErrSwapDeclined) {
		if o.dryRun {
			fmt.Println("\nswap: dry run: nothing was changed")
			return nil
		}
		return err
	}
	if res != nil && res.Summary != nil {
		res.Summary.Print(os.Stdout)
	}
	if err != nil {
		return replayError(err)
	}
	fmt.Printf("swap: done. The previous live tables are kept as %s.{%s}: `trustpipe replay swap --target %s` swaps them back;\n"+
		"drop them with DROP TABLE when you no longer need them.\n", c.ClickhouseDatabase, strings.Join(shadow.Names(), ","), o.target)
	return nil
}
