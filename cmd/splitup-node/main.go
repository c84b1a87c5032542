// Command splitup-node is the GPU owner's tool: it creates the node's key,
// registers and stakes the node on chain, declares the tasks it specialises
// in, and runs the worker daemon that fetches and preloads their shards,
// heartbeats, serves pipeline sessions and commits results.
//
// A node's life:
//
//  1. splitup-node init --home DIR writes DIR/node.key (the account and the
//     p2p identity) and prints the address to fund.
//  2. splitup-node register --home DIR --rpc URL --vram SIZE --listen
//     MULTIADDR [--stake AMOUNT] bonds stake and records the node's p2p
//     address (the listen multiaddr plus /p2p/<peer id>, so the port must
//     be fixed).
//  3. splitup-node specialize --home DIR --rpc URL --model ID --tasks 0,1
//     declares the tasks whose shards the node will hold.
//  4. splitup-node start --home DIR --rpc URL --listen MULTIADDR runs the
//     daemon until SIGINT or SIGTERM.
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

// command is one subcommand; each entry's run lives in its own file.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the command table.
func commands() []command {
	return []command{
		{"init", "create the node's key (account and p2p identity) in --home", runInit},
		{"register", "register the node on chain with its VRAM, p2p address and stake", runRegister},
		{"stake", "bond more stake to the registered node", runStake},
		{"specialize", "declare the tasks of a model this node serves", runSpecialize},
		{"start", "run the worker daemon until interrupted", runStart},
	}
}

// usageError marks errors caused by bad command-line use (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// errHelp is returned by a subcommand that printed its help on request.
var errHelp = errors.New("help requested")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cmd *command
	if len(args) > 0 {
		for _, c := range commands() {
			if c.name == args[0] {
				cmd = &c
				break
			}
		}
	}
	if cmd == nil {
		printUsage(stderr)
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		fmt.Fprintf(stderr, "splitup-node: error: unknown command %q; run 'splitup-node help' for the list\n", strings.Join(args, " "))
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "splitup-node: error: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "run 'splitup-node %s -h' for usage\n", cmd.name)
			return 2
		}
		return 1
	}
	return 0
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: splitup-node <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}

// newFlagSet returns a flag set whose -h prints usage to stderr.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: splitup-node %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; -h yields errHelp, a bad flag or a positional
// argument a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

// Set appends one value.
func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}
