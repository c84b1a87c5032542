// Command splitup is the user-facing tool of SplitUp: local generation, model
// conversion, synthetic models, the chain, queries, simulations and the
// one-command local network (devnet).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. name may have two words ("chain init").
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the full command table; each entry's run lives in its own file.
func commands() []command {
	return []command{
		{"generate", "generate text with a model on this machine", runGenerate},
		{"convert", "convert a llama2.c checkpoint to GGUF v3", runConvert},
		{"synth", "write a LLaMA-shaped GGUF with seeded random weights (not a trained model)", runSynth},
		{"chain init", "create keys, genesis and configs for a local validator set", runChainInit},
		{"chain start", "run one validator", runChainStart},
		{"query", "query the chain (status, nodes, models, executions, ...)", runQuery},
		{"tx", "sign and send a transaction", runTx},
		{"sim posp", "simulate Proof of Sampling economics", runSimPoSP},
		{"devnet", "run a local network: chain, nodes, gateway", runDevnet},
	}
}

// usageError marks errors caused by bad command-line use (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, rest := lookup(args)
	if cmd == nil {
		printUsage(stderr)
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		fmt.Fprintf(stderr, "splitup: error: unknown command %q; run 'splitup help' for the list\n", strings.Join(args, " "))
		return 2
	}
	if err := cmd.run(ctx, rest, stdout, stderr); err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "splitup: error: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "run 'splitup %s -h' for usage\n", cmd.name)
			return 2
		}
		return 1
	}
	return 0
}

// errHelp is returned by a subcommand that printed its help on request.
var errHelp = errors.New("help requested")

func lookup(args []string) (*command, []string) {
	cmds := commands()
	// Longest match first: "chain init" before "chain".
	sort.SliceStable(cmds, func(i, j int) bool { return len(cmds[i].name) > len(cmds[j].name) })
	for i := range cmds {
		words := strings.Fields(cmds[i].name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == cmds[i].name {
			return &cmds[i], args[len(words):]
		}
	}
	return nil, nil
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: splitup <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}
