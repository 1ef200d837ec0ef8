// Command trustpipe turns marketing engagement events on Kafka into exact
// trust metrics in ClickHouse. main only wires: each command builds its
// stages from the environment (see `trustpipe help`) and runs them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// usageError marks bad command-line input: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// parseFlags parses a command's flags. Every problem becomes a usage error
// (exit code 2) pointing at the command's --help; --help itself returns
// flag.ErrHelp, which ends the command with exit code 0.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v (see `trustpipe %s --help`)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (see `trustpipe %s --help`)", fs.Arg(0), fs.Name())
	}
	return nil
}

const usage = `trustpipe — trust metrics from marketing engagement events

Usage: trustpipe <command> [flags]

Commands:
  run       consume Kafka, validate, aggregate, write ClickHouse, serve /metrics
  migrate   create or upgrade the ClickHouse schema
  gen       produce a synthetic, realistic event stream (scenarios) to Kafka
  demo      the quick start: embedded Kafka, local ClickHouse, history, report, live feed
  replay    re-process a time or offset range without touching the live group; backfill and swap shadow tables
  report    print the trust indicators, Trust Index and what moved it for a time range
  help      list every TRUSTPIPE_* environment variable with its default

Configuration comes from TRUSTPIPE_* environment variables; see 'trustpipe help'.
`

var commands = map[string]func(ctx context.Context, args []string) error{
	"run":     cmdRun,
	"migrate": cmdMigrate,
	"report":  cmdReport,
	"gen":     cmdGen,
	"demo":    cmdDemo,
	"replay":  cmdReplay,
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Print(usage, "\nEnvironment:\n")
		if err := printHelp(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "trustpipe:", err)
			return 1
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "trustpipe: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0 // the flag set printed the usage
		}
		fmt.Fprintln(os.Stderr, "trustpipe "+args[0]+":", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}
