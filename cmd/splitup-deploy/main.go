// Command splitup-deploy is the model developer's tool: it plans how a
// model's graph is cut into tasks that fit a target VRAM, and registers
// the model and its tasks.
package main

import (
	"context"
	"io"

	"github.com/splitup/splitup/internal/cli"
)

// command is one subcommand; each entry's run lives in its own file.
type command = cli.Command

// usageError marks errors caused by bad command-line use (exit code 2).
type usageError = cli.UsageError

func usagef(format string, a ...any) error { return cli.Usagef(format, a...) }

// errHelp is returned by a subcommand that printed its help on request.
var errHelp = cli.ErrHelp

func main() { cli.Main("splitup-deploy", commands()) }

// run dispatches args to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Run(ctx, "splitup-deploy", commands(), args, stdout, stderr)
}

// commands is the command table.
func commands() []command {
	return []command{
		{Name: "plan", Summary: "cut a model's graph into tasks that fit a target VRAM", Run: runPlan},
		{Name: "register", Summary: "publish a model's task shards and register the model on chain", Run: runRegister},
	}
}
