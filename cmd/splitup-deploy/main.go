// Command splitup-deploy is the model developer's tool: it plans how a
// model's graph is cut into tasks that fit a target VRAM, and registers
// the model and its tasks.
package main

import (
	"context"
	"errors"
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
		{"plan", "cut a model's graph into tasks that fit a target VRAM", runPlan},
		{"register", "publish a model's task shards and register the model on chain", runRegister},
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
		fmt.Fprintf(stderr, "splitup-deploy: error: unknown command %q; run 'splitup-deploy help' for the list\n", strings.Join(args, " "))
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "splitup-deploy: error: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "run 'splitup-deploy %s -h' for usage\n", cmd.name)
			return 2
		}
		return 1
	}
	return 0
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: splitup-deploy <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}
