package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/internal/cli"
)

// chainFlagSet returns a flag set whose -h prints usage to stderr.
func chainFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: splitup %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// chainParse parses flags placed anywhere among the arguments and returns
// the positional ones. -h yields errHelp; a bad flag a usage error.
func chainParse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := cli.ParseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runChainInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := chainFlagSet("chain init", "chain init --home DIR [--validators N] [--chain-id ID] [flags]", stderr)
	home := fs.String("home", "", "directory to create; validator homes are DIR/node0 … DIR/node{N-1} (required)")
	n := fs.Int("validators", 1, "number of validators")
	chainID := fs.String("chain-id", "splitup-devnet", "chain id")
	basePort := fs.Int("base-port", 26656, "validator i uses p2p port BASE+10i and RPC port BASE+10i+1; 0 picks free ports")
	faucet := fs.Uint64("faucet-balance", 1_000_000_000*contract.Token, "faucet genesis balance in base units (1 token = 1e6)")
	blockTime := fs.Duration("block-time", 200*time.Millisecond, "pause after each commit (timeout_commit); sets the idle block time")
	heartbeat := fs.Duration("heartbeat", 0, "heartbeat interval of the contract params (0 keeps the default, 30s)")
	logLevel := fs.String("log-level", "state:info,*:error", "CometBFT log filter written to each node.json")
	pos, err := chainParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *home == "" {
		return usagef("--home is required: the directory to create the network in")
	}
	switch {
	case *heartbeat < 0:
		return usagef("--heartbeat must be ≥ 0 (0 keeps the default), got %v", *heartbeat)
	case *blockTime < 0 || (*blockTime > 0 && *blockTime < time.Millisecond) || *blockTime%time.Millisecond != 0:
		return usagef("--block-time must be 0 or a whole number of milliseconds, e.g. 200ms; got %v", *blockTime)
	}
	params := contract.DefaultParams()
	if *heartbeat > 0 {
		params.HeartbeatNanos = int64(*heartbeat)
	}
	nc := chain.DefaultNodeConfig()
	nc.TimeoutCommitMillis = int(blockTime.Milliseconds())
	nc.LogLevel = *logLevel
	nw, err := chain.InitNetwork(chain.NetworkOptions{
		Dir: *home, Validators: *n, ChainID: *chainID, BasePort: *basePort,
		FaucetBalance: *faucet, Params: &params, Node: nc,
	})
	if err != nil {
		return fmt.Errorf("chain init: %w", err)
	}
	faucetKey, err := chain.ReadKeyFile(filepath.Join(*home, nw.Faucet))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "initialised chain %q with %d validator(s) in %s\n", nw.ChainID, len(nw.Validators), *home)
	fmt.Fprintf(stdout, "faucet account %s (key %s)\n", chain.AddressOf(faucetKey), filepath.Join(*home, nw.Faucet))
	for _, v := range nw.Validators {
		fmt.Fprintf(stdout, "  %s  rpc %s  start: splitup chain start --home %s\n", v.Home, v.RPC, filepath.Join(*home, v.Home))
	}
	return nil
}

func runChainStart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := chainFlagSet("chain start", "chain start --home DIR/nodeI", stderr)
	home := fs.String("home", "", "validator home made by 'splitup chain init' (required)")
	pos, err := chainParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *home == "" {
		return usagef("--home is required: a validator directory such as DIR/node0")
	}
	if _, err := os.Stat(filepath.Join(*home, chain.NodeConfigFile)); err != nil {
		if _, nerr := os.Stat(filepath.Join(*home, chain.NetworkFile)); nerr == nil {
			return fmt.Errorf("%s is a network directory; pass one validator's home, e.g. --home %s", *home, filepath.Join(*home, "node0"))
		}
	}
	n, err := chain.StartNode(*home, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "validator %s running; rpc %s\n", filepath.Base(*home), n.RPC())
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping")
	if err := n.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}
