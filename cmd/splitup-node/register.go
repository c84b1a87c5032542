package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/p2p"
)

// txTimeout bounds how long a command waits for its tx's block.
const txTimeout = time.Minute

func runInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init", "init --home DIR", stderr)
	home := fs.String("home", "", "node directory to create; the key goes to DIR/"+KeyFile+" (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *home == "" {
		return usagef("--home is required: the directory that will hold the node's key and shards")
	}
	if err := os.MkdirAll(*home, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", *home, err)
	}
	key, err := chain.GenerateKeyFile(filepath.Join(*home, KeyFile))
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s already holds a node key; that node is set up (keep its key), or pass another --home for a new node", *home)
	}
	if err != nil {
		return err
	}
	pid, err := p2p.PeerIDFromPublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "address %s\npeer id %s\nkey     %s\n", chain.AddressOf(key), pid, filepath.Join(*home, KeyFile))
	fmt.Fprintf(stdout, "next: fund the address, then run 'splitup-node register --home %s --vram SIZE --listen /ip4/IP/tcp/PORT'\n", *home)
	return nil
}

// announceAddr returns the address to register: listen (a TCP multiaddr
// with a fixed port) plus /p2p/<peer id of key>.
func announceAddr(listen string, key ed25519.PrivateKey) (string, error) {
	a, err := ma.NewMultiaddr(listen)
	if err != nil {
		return "", usagef("--listen %q: %v (want e.g. /ip4/192.0.2.7/tcp/4001)", listen, err)
	}
	port, err := a.ValueForProtocol(ma.P_TCP)
	if err != nil || port == "0" {
		return "", usagef("--listen %q needs a fixed TCP port (e.g. /ip4/192.0.2.7/tcp/4001): other nodes dial the registered address", listen)
	}
	if _, err := a.ValueForProtocol(ma.P_P2P); err == nil {
		return "", usagef("--listen %q: leave out /p2p/…; the peer id comes from the node key", listen)
	}
	for _, p := range []int{ma.P_IP4, ma.P_IP6} {
		if ip, err := a.ValueForProtocol(p); err == nil && (ip == "0.0.0.0" || ip == "::") {
			return "", usagef("--listen %q is not an address others can dial; pass --announce with the public address", listen)
		}
	}
	pid, err := p2p.PeerIDFromPublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		return "", err
	}
	return listen + "/p2p/" + pid.String(), nil
}

func runRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("register", "register --home DIR [--rpc URL] --vram SIZE --listen MULTIADDR [--announce MULTIADDR] [--stake AMOUNT] [--backend cpu]", stderr)
	home := fs.String("home", "", "node directory made by 'splitup-node init' (required)")
	rpc := fs.String("rpc", rpcDefault(), "validator RPC address; $SPLITUP_RPC overrides the default")
	vram := fs.String("vram", "", "memory the node offers for tasks, e.g. 24GiB (required)")
	listen := fs.String("listen", "", "p2p listen multiaddr with a fixed port, e.g. /ip4/192.0.2.7/tcp/4001 (required)")
	announce := fs.String("announce", "", "address other nodes dial, when it differs from --listen (e.g. behind NAT)")
	stake := fs.String("stake", "", "stake to bond: base units or e.g. 1100tokens (default: the minimum base + perGiB × VRAM)")
	var backends multiFlag
	fs.Var(&backends, "backend", "compute backend, repeatable (default cpu)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *vram == "" || *listen == "" {
		return usagef("--vram and --listen are required")
	}
	v, err := parseSize(*vram)
	if err != nil {
		return usagef("--vram: %v", err)
	}
	var amount uint64 // 0: the minimum the chain requires
	if *stake != "" {
		if amount, err = parseAmount(*stake); err != nil {
			return usagef("--stake: %v", err)
		}
	}
	key, err := readNodeKey(*home)
	if err != nil {
		return err
	}
	if *announce == "" {
		*announce = *listen
	}
	addr, err := announceAddr(*announce, key)
	if err != nil {
		return err
	}
	if len(backends) == 0 {
		backends = multiFlag{"cpu"}
	}
	ctx, cancel := context.WithTimeout(ctx, txTimeout)
	defer cancel()
	c, err := dialChain(ctx, *rpc, key)
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := c.params(ctx)
	if err != nil {
		return err
	}
	if amount == 0 {
		amount = minStake(p, v)
	}
	msg := &contract.RegisterNode{VRAMBytes: v, Backends: backends, P2PAddr: addr, Stake: amount}
	if _, err := c.send(ctx, "register node", msg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "registered node %s: %d bytes VRAM, stake %d base units, p2p %s\n", c.signer.Address(), v, amount, addr)
	return nil
}

func runStake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stake", "stake --home DIR [--rpc URL] --amount AMOUNT", stderr)
	home := fs.String("home", "", "node directory made by 'splitup-node init' (required)")
	rpc := fs.String("rpc", rpcDefault(), "validator RPC address; $SPLITUP_RPC overrides the default")
	amountFlag := fs.String("amount", "", "stake to add: base units or e.g. 100tokens (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *amountFlag == "" {
		return usagef("--amount is required")
	}
	amount, err := parseAmount(*amountFlag)
	if err != nil {
		return usagef("--amount: %v", err)
	}
	key, err := readNodeKey(*home)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, txTimeout)
	defer cancel()
	c, err := dialChain(ctx, *rpc, key)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.send(ctx, "stake", &contract.Stake{Amount: amount}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bonded %d more base units to node %s\n", amount, c.signer.Address())
	return nil
}

// parseTasks reads "0,1,2" into task indices.
func parseTasks(s string) ([]uint32, error) {
	var out []uint32
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		i, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("task %q is not a task index (want e.g. 0,1,2)", f)
		}
		out = append(out, uint32(i))
	}
	return out, nil
}

func runSpecialize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("specialize", "specialize --home DIR [--rpc URL] --model ID --tasks 0,1,2", stderr)
	home := fs.String("home", "", "node directory made by 'splitup-node init' (required)")
	rpc := fs.String("rpc", rpcDefault(), "validator RPC address; $SPLITUP_RPC overrides the default")
	model := fs.String("model", "", "model id (hex), as 'splitup query models' lists it (required)")
	tasksFlag := fs.String("tasks", "", "comma-separated task indices of the model; they replace the node's tasks of this model (its tasks of other models stay); empty drops this model's")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	id, err := contract.ParseHash(*model)
	if err != nil {
		return usagef("--model: %v", err)
	}
	tasks, err := parseTasks(*tasksFlag)
	if err != nil {
		return usagef("--tasks: %v", err)
	}
	key, err := readNodeKey(*home)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, txTimeout)
	defer cancel()
	c, err := dialChain(ctx, *rpc, key)
	if err != nil {
		return err
	}
	defer c.Close()
	var m contract.ModelInfo
	if err := queryJSON(ctx, c.client, "model/"+id.String(), &m); err != nil {
		return fmt.Errorf("%w (check the id with 'splitup query models')", err)
	}
	for _, t := range tasks {
		if int(t) >= len(m.Tasks) {
			return usagef("--tasks: model %s has %d tasks (0..%d); there is no task %d", id, len(m.Tasks), len(m.Tasks)-1, t)
		}
	}
	// The chain replaces the node's whole set: keep its tasks of other models.
	var n contract.NodeInfo
	if err := queryJSON(ctx, c.client, "node/"+c.signer.Address().String(), &n); err != nil {
		return fmt.Errorf("%w (register the node first: splitup-node register)", err)
	}
	msg := &contract.Specialize{Tasks: mergeTasks(n.Tasks, id, tasks)}
	if _, err := c.send(ctx, "specialize", msg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "node %s specialises in tasks %v of model %s (%d tasks of all models)\n", c.signer.Address(), tasks, id, len(msg.Tasks))
	return nil
}

// mergeTasks returns the task set current with model's tasks replaced by
// tasks.
func mergeTasks(current []contract.TaskRef, model contract.Hash, tasks []uint32) []contract.TaskRef {
	var out []contract.TaskRef
	for _, r := range current {
		if r.Model != model {
			out = append(out, r)
		}
	}
	for _, t := range tasks {
		out = append(out, contract.TaskRef{Model: model, Task: t})
	}
	return out
}
