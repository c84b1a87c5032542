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
	"flag"
	"fmt"
	"io"
	"strings"

	clicmd "github.com/splitup/splitup/internal/cli"
)

// command is one subcommand; each entry's run lives in its own file.
type command = clicmd.Command

// usageError marks errors caused by bad command-line use (exit code 2).
type usageError = clicmd.UsageError

func usagef(format string, a ...any) error { return clicmd.Usagef(format, a...) }

// errHelp is returned by a subcommand that printed its help on request.
var errHelp = clicmd.ErrHelp

func main() { clicmd.Main("splitup-node", commands()) }

// run dispatches args to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return clicmd.Run(ctx, "splitup-node", commands(), args, stdout, stderr)
}

// commands is the command table.
func commands() []command {
	return []command{
		{Name: "init", Summary: "create the node's key (account and p2p identity) in --home", Run: runInit},
		{Name: "register", Summary: "register the node on chain with its VRAM, p2p address and stake", Run: runRegister},
		{Name: "stake", Summary: "bond more stake to the registered node", Run: runStake},
		{Name: "specialize", Summary: "declare the tasks of a model this node serves", Run: runSpecialize},
		{Name: "start", Summary: "run the worker daemon until interrupted", Run: runStart},
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
	if err := clicmd.ParseFlags(fs, args); err != nil {
		return err
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
