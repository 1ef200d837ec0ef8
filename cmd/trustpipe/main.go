// Command trustpipe turns marketing engagement events on Kafka into exact
// trust metrics in ClickHouse. main only wires: each command builds its
// stages from the environment (see `trustpipe help`) and runs them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// usageError marks bad command-line input: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// parseFlags parses a command's flags, GNU-style as Go's flag package
// accepts them (--from x, --from=x; -from too). Every problem becomes a
// usage error (exit code 2) pointing at the command's --help; --help itself
// prints fs.Usage on stdout and returns flag.ErrHelp, which ends the command
// with exit code 0.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard) // the error is reported once, by main
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fs.Usage()
			return err
		}
		return usagef("%v (see `trustpipe %s --help`)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (see `trustpipe %s --help`)", fs.Arg(0), fs.Name())
	}
	return nil
}

// printFlags lists fs's flags GNU-style on fs.Output(): --name VALUE,
// the meaning, and the default when it is not the zero value.
func printFlags(fs *flag.FlagSet) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		left := "  --" + f.Name
		if arg != "" {
			left += " " + strings.ToUpper(arg)
		}
		if d := f.DefValue; d != "" && d != "0" && d != "false" {
			usage += " (default " + d + ")"
		}
		if len(left) > 24 {
			fmt.Fprintf(w, "%s\n%24s  %s\n", left, "", usage)
			return
		}
		fmt.Fprintf(w, "%-24s  %s\n", left, usage)
	})
}

// simpleFlags is the flag set of a command that takes no flags: it still
// answers --help (with usage) and refuses anything else.
func simpleFlags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	return fs
}

const usage = `trustpipe — trust metrics from marketing engagement events

Usage: trustpipe <command> [flags]

Commands:
  run       consume Kafka, validate, aggregate, write ClickHouse, serve /metrics
  migrate   create or upgrade the ClickHouse schema
  gen       produce a synthetic, realistic event stream (scenarios) to Kafka
  demo      the quick start: embedded Kafka, local ClickHouse, history, report, live feed
  ingest    serve webhook endpoints for SendGrid, SES, Mailgun and Postmark events
  replay    re-process a time or offset range without touching the live group; backfill and swap shadow tables
  report    print the trust indicators, Trust Index and what moved it for a time range
  version   print the version, commit and build date (also --version)
  probe     request a URL, exit 0 on 2xx (the container healthcheck)
  help      list every TRUSTPIPE_* environment variable with its default

'trustpipe <command> --help' describes a command and its flags.
Configuration comes from TRUSTPIPE_* environment variables; see 'trustpipe help'.
`

var commands = map[string]func(ctx context.Context, args []string) error{
	"run":     cmdRun,
	"migrate": cmdMigrate,
	"report":  cmdReport,
	"gen":     cmdGen,
	"demo":    cmdDemo,
	"replay":  cmdReplay,
	"ingest":  cmdIngest,
	"version": cmdVersion,
	"probe":   cmdProbe,
	"help":    cmdHelp,
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run runs one command and returns the exit code: 0 done (or --help),
// 2 bad command line or configuration, 1 anything else.
func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "--help":
		args[0] = "help"
	case "--version", "-version":
		args[0] = "version"
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
		fmt.Fprintln(os.Stderr, "trustpipe "+args[0]+": "+withAdvice(err))
		var ue usageError
		var ce *configError
		if errors.As(err, &ue) || errors.As(err, &ce) {
			return 2
		}
		return 1
	}
	return 0
}

func cmdHelp(_ context.Context, args []string) error {
	fs := simpleFlags("help", "Usage: trustpipe help\n\nLists the commands and every TRUSTPIPE_* environment variable with its default.\n")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Print(usage, "\nEnvironment:\n")
	return printHelp(os.Stdout)
}

func cmdVersion(_ context.Context, args []string) error {
	fs := simpleFlags("version", "Usage: trustpipe version (or trustpipe --version)\n\nPrints the version, commit and build date of this binary.\n")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Println(buildInfo())
	return nil
}
