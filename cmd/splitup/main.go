// Command splitup is the user-facing tool of SplitUp: local generation, model
// conversion, synthetic models, the chain, queries, simulations and the
// one-command local network (devnet).
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

func main() {
	procsFollowThreads = true
	cli.Main("splitup", commands())
}

// procsFollowThreads makes compute commands run Go code on at most their
// --threads CPUs (cli.LimitProcs). Only the program sets it: in tests the
// commands share the test process.
var procsFollowThreads bool

// run dispatches args to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Run(ctx, "splitup", commands(), args, stdout, stderr)
}

// commands is the full command table; each entry's run lives in its own file.
func commands() []command {
	return []command{
		{Name: "generate", Summary: "generate text with a model on this machine", Run: runGenerate},
		{Name: "convert", Summary: "convert a llama2.c checkpoint to GGUF v3", Run: runConvert},
		{Name: "synth", Summary: "write a LLaMA-shaped GGUF with seeded random weights (not a trained model)", Run: runSynth},
		{Name: "chain init", Summary: "create keys, genesis and configs for a local validator set", Run: runChainInit},
		{Name: "chain start", Summary: "run one validator", Run: runChainStart},
		{Name: "query", Summary: "query the chain (status, nodes, models, executions, ...)", Run: runQuery},
		{Name: "tx", Summary: "sign and send a transaction", Run: runTx},
		{Name: "sim posp", Summary: "simulate Proof of Sampling economics", Run: runSimPoSP},
		{Name: "devnet", Summary: "run a local network: chain, nodes, gateway", Run: runDevnet},
	}
}
