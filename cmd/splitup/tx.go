package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/internal/cli"
)

// txCommand is one 'splitup tx' subcommand: it declares its flags and
// builds the message once they are parsed.
type txCommand struct {
	summary string
	flags   func(fs *flag.FlagSet) func() (contract.Msg, error)
}

func txCommands() map[string]txCommand {
	return map[string]txCommand{
		"transfer":      {"move base units to another account", txTransfer},
		"register-node": {"register this key as a worker node and bond stake", txRegisterNode},
		"stake":         {"bond more stake", txAmount(func(a uint64) contract.Msg { return &contract.Stake{Amount: a} })},
		"unstake":       {"start unbonding stake", txAmount(func(a uint64) contract.Msg { return &contract.Unstake{Amount: a} })},
		"specialize":    {"declare the tasks this node serves", txSpecialize},
		"heartbeat": {"mark this node live", func(*flag.FlagSet) func() (contract.Msg, error) {
			return func() (contract.Msg, error) { return &contract.Heartbeat{}, nil }
		}},
		"register-model":      {"register a model from a JSON file (contract.RegisterModel)", txRegisterModel},
		"request-execution":   {"request one session of a model, escrowing max-fee", txRequestExecution},
		"cancel-execution":    {"cancel an execution (requester only)", txCancelExecution},
		"report-failure":      {"report a failed task node", txReportFailure},
		"commit-result":       {"commit the Merkle roots of a task's tensors", txCommitResult},
		"submit-verification": {"submit a verification of a task", txSubmitVerification},
		"set-params":          {"replace the contract parameters from a JSON file (authority only)", txSetParams},
	}
}

func txUsage() string {
	names := make([]string, 0, len(txCommands()))
	for n := range txCommands() {
		names = append(names, n)
	}
	sort.Strings(names)
	return "tx <keygen|" + strings.Join(names, "|") + "> --key FILE [--rpc URL] [flags]"
}

func runTx(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "usage: splitup %s\n\nsubcommands:\n  %-20s %s\n", txUsage(), "keygen", "write a new account key file (mode 0600)")
		cmds := txCommands()
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %-20s %s\n", n, cmds[n].summary)
		}
		if len(args) == 0 {
			return usagef("which transaction? see the list above")
		}
		return errHelp
	}
	if args[0] == "keygen" {
		return runTxKeygen(args[1:], stdout, stderr)
	}
	cmd, ok := txCommands()[args[0]]
	if !ok {
		return usagef("unknown transaction %q; run 'splitup tx -h' for the list", args[0])
	}
	fs := chainFlagSet("tx "+args[0], "tx "+args[0]+" --key FILE [--rpc URL] [flags]", stderr)
	keyPath := fs.String("key", "", "account key file made by 'splitup tx keygen' (required)")
	rpc := fs.String("rpc", chainRPCDefault(), "validator RPC address (default from $SPLITUP_RPC)")
	fee := fs.Uint64("fee", 0, "fee in base units (0: the chain's minimum)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up waiting for the block after this long")
	build := cmd.flags(fs)
	pos, err := chainParse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *keyPath == "" {
		return usagef("--key is required: a key file made by 'splitup tx keygen --out FILE'")
	}
	msg, err := build()
	if err != nil {
		return err
	}
	priv, err := chain.ReadKeyFile(*keyPath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := chain.Dial(*rpc)
	if err != nil {
		return usagef("%v", err)
	}
	defer c.Close()
	s, err := chain.NewSigner(ctx, c, priv)
	if err != nil {
		return fmt.Errorf("%w (is a validator running at %s?)", err, *rpc)
	}
	if *fee > 0 {
		s.SetFee(*fee)
	}
	res, err := s.Send(ctx, msg)
	if res != nil {
		queryPrintJSON(stdout, txOutput(res))
	}
	if err != nil {
		var te *chain.TxError
		if errors.As(err, &te) && te.Codespace == "" && te.Code == contract.CodeInsufficientFee {
			return fmt.Errorf("%w (raise --fee)", err)
		}
		return err
	}
	return nil
}

func runTxKeygen(args []string, stdout, stderr io.Writer) error {
	fs := chainFlagSet("tx keygen", "tx keygen --out FILE", stderr)
	out := fs.String("out", "", "key file to create, mode 0600 (required)")
	pos, err := chainParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *out == "" {
		return usagef("--out is required: the key file to create")
	}
	priv, err := chain.GenerateKeyFile(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", chain.AddressOf(priv))
	return nil
}

func txTransfer(fs *flag.FlagSet) func() (contract.Msg, error) {
	to := fs.String("to", "", "recipient address (hex)")
	amount := fs.Uint64("amount", 0, "base units to send")
	return func() (contract.Msg, error) {
		a, err := contract.ParseAddress(*to)
		if err != nil {
			return nil, usagef("--to: %v", err)
		}
		if *amount == 0 {
			return nil, usagef("--amount must be > 0 (base units)")
		}
		return &contract.Transfer{To: a, Amount: *amount}, nil
	}
}

func txAmount(mk func(uint64) contract.Msg) func(fs *flag.FlagSet) func() (contract.Msg, error) {
	return func(fs *flag.FlagSet) func() (contract.Msg, error) {
		amount := fs.Uint64("amount", 0, "base units")
		return func() (contract.Msg, error) {
			if *amount == 0 {
				return nil, usagef("--amount must be > 0 (base units)")
			}
			return mk(*amount), nil
		}
	}
}

func txRegisterNode(fs *flag.FlagSet) func() (contract.Msg, error) {
	vram := fs.String("vram", "", "declared VRAM, e.g. 8GiB, 512MiB, 1.5GB or bytes")
	backends := fs.String("backends", "cpu", "comma-separated backends")
	p2p := fs.String("p2p-addr", "", "the node's libp2p multiaddr")
	stake := fs.Uint64("stake", 0, "base units to bond (≥ base + perGiB × VRAM; see 'splitup query params')")
	return func() (contract.Msg, error) {
		v, err := cli.ParseSize(*vram)
		if err != nil {
			return nil, usagef("--vram: %v", err)
		}
		if v <= 0 {
			return nil, usagef("--vram must be above 0, e.g. 8GiB")
		}
		if *stake == 0 {
			return nil, usagef("--stake is required (base units)")
		}
		return &contract.RegisterNode{VRAMBytes: uint64(v), Backends: txSplit(*backends), P2PAddr: *p2p, Stake: *stake}, nil
	}
}

func txSpecialize(fs *flag.FlagSet) func() (contract.Msg, error) {
	tasks := fs.String("tasks", "", "comma-separated MODELID:TASKINDEX entries (empty clears the set)")
	return func() (contract.Msg, error) {
		m := &contract.Specialize{}
		for _, t := range txSplit(*tasks) {
			id, idx, ok := strings.Cut(t, ":")
			if !ok {
				return nil, usagef("--tasks entry %q: want MODELID:TASKINDEX", t)
			}
			h, err := contract.ParseHash(id)
			if err != nil {
				return nil, usagef("--tasks entry %q: %v", t, err)
			}
			i, err := strconv.ParseUint(idx, 10, 32)
			if err != nil {
				return nil, usagef("--tasks entry %q: task index: %v", t, err)
			}
			m.Tasks = append(m.Tasks, contract.TaskRef{Model: h, Task: uint32(i)})
		}
		return m, nil
	}
}

func txRegisterModel(fs *flag.FlagSet) func() (contract.Msg, error) {
	file := fs.String("file", "", "JSON file holding a contract.RegisterModel")
	return func() (contract.Msg, error) {
		m := &contract.RegisterModel{}
		return m, txReadJSON(*file, m)
	}
}

func txSetParams(fs *flag.FlagSet) func() (contract.Msg, error) {
	file := fs.String("file", "", "JSON file holding contract params (as 'splitup query params' prints them)")
	return func() (contract.Msg, error) {
		m := &contract.SetParams{}
		return m, txReadJSON(*file, &m.Params)
	}
}

func txRequestExecution(fs *flag.FlagSet) func() (contract.Msg, error) {
	model := fs.String("model", "", "model id (hex)")
	maxFee := fs.Uint64("max-fee", 0, "base units to escrow")
	maxTokens := fs.Uint("max-tokens", 0, "maximum decoding steps")
	return func() (contract.Msg, error) {
		h, err := contract.ParseHash(*model)
		if err != nil {
			return nil, usagef("--model: %v", err)
		}
		if *maxFee == 0 || *maxTokens == 0 || *maxTokens > 1<<31 {
			return nil, usagef("--max-fee and --max-tokens must be > 0")
		}
		return &contract.RequestExecution{Model: h, MaxFee: *maxFee, MaxTokens: uint32(*maxTokens)}, nil
	}
}

func txCancelExecution(fs *flag.FlagSet) func() (contract.Msg, error) {
	exec := fs.Uint64("exec", 0, "execution id")
	return func() (contract.Msg, error) { return &contract.CancelExecution{Exec: *exec}, nil }
}

func txReportFailure(fs *flag.FlagSet) func() (contract.Msg, error) {
	exec := fs.Uint64("exec", 0, "execution id")
	task := fs.Uint("task", 0, "task index")
	reason := fs.String("reason", "", "what went wrong")
	return func() (contract.Msg, error) {
		return &contract.ReportFailure{Exec: *exec, Task: uint32(*task), Reason: *reason}, nil
	}
}

func txCommitResult(fs *flag.FlagSet) func() (contract.Msg, error) {
	exec := fs.Uint64("exec", 0, "execution id")
	task := fs.Uint("task", 0, "task index")
	steps := fs.Uint("steps", 0, "decoding steps performed")
	inputs := fs.String("inputs", "", "comma-separated NAME=ROOT (hex) in the task's input order")
	outputs := fs.String("outputs", "", "comma-separated NAME=ROOT (hex) in the task's output order")
	return func() (contract.Msg, error) {
		in, err := txParseRoots("--inputs", *inputs)
		if err != nil {
			return nil, err
		}
		out, err := txParseRoots("--outputs", *outputs)
		if err != nil {
			return nil, err
		}
		return &contract.CommitResult{Exec: *exec, Task: uint32(*task), Steps: uint32(*steps), Inputs: in, Outputs: out}, nil
	}
}

func txSubmitVerification(fs *flag.FlagSet) func() (contract.Msg, error) {
	exec := fs.Uint64("exec", 0, "execution id")
	task := fs.Uint("task", 0, "task index")
	outputs := fs.String("outputs", "", "comma-separated NAME=ROOT (hex) of the recomputed outputs")
	match := fs.Bool("match", false, "outputs agree within tolerance although the roots differ")
	return func() (contract.Msg, error) {
		out, err := txParseRoots("--outputs", *outputs)
		if err != nil {
			return nil, err
		}
		return &contract.SubmitVerification{Exec: *exec, Task: uint32(*task), Outputs: out, Match: *match}, nil
	}
}

func txParseRoots(flagName, s string) ([]contract.TensorRoot, error) {
	var out []contract.TensorRoot
	for _, e := range txSplit(s) {
		name, root, ok := strings.Cut(e, "=")
		if !ok {
			return nil, usagef("%s entry %q: want NAME=ROOT", flagName, e)
		}
		h, err := contract.ParseHash(root)
		if err != nil {
			return nil, usagef("%s entry %q: %v", flagName, e, err)
		}
		out = append(out, contract.TensorRoot{Name: name, Root: h})
	}
	return out, nil
}

func txSplit(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func txReadJSON(path string, v any) error {
	if path == "" {
		return usagef("--file is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// txOut is the JSON printed for a tx result.
type txOut struct {
	Hash      string       `json:"hash"`
	Height    int64        `json:"height"`
	Code      uint32       `json:"code"`
	Codespace string       `json:"codespace,omitempty"`
	Log       string       `json:"log,omitempty"`
	Events    []txOutEvent `json:"events"`
}

type txOutEvent struct {
	Type  string            `json:"type"`
	Attrs map[string]string `json:"attrs"`
}

func txOutput(r *chain.TxResult) txOut {
	o := txOut{Hash: r.Hash, Height: r.Height, Code: r.Code, Codespace: r.Codespace, Log: r.Log, Events: []txOutEvent{}}
	for _, e := range r.Events {
		oe := txOutEvent{Type: e.Type, Attrs: map[string]string{}}
		for _, a := range e.Attrs {
			oe.Attrs[a.Key] = a.Value
		}
		o.Events = append(o.Events, oe)
	}
	return o
}
