package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"

	clicmd "github.com/splitup/splitup/internal/cli"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
)

func runStart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("start", "start --home DIR [--rpc URL] --listen MULTIADDR [--peer ADDR]... [--threads N]", stderr)
	home := fs.String("home", "", "node directory made by 'splitup-node init' (required)")
	rpc := fs.String("rpc", rpcDefault(), "validator RPC address; $SPLITUP_RPC overrides the default")
	listen := fs.String("listen", "", "p2p listen multiaddr, the one registered (e.g. /ip4/192.0.2.7/tcp/4001) (required)")
	threads := fs.Int("threads", runtime.NumCPU(), "compute threads per task run; the process runs Go code on at most this many CPUs (GOMAXPROCS) unless $GOMAXPROCS says otherwise")
	var peers multiFlag
	fs.Var(&peers, "peer", "p2p address (with /p2p/ID) to fetch shards from, e.g. the deployer's; repeatable")
	fault := fs.String("fault", "", "TEST ONLY: misbehave on purpose, 'wrong-output=RATE', 'withhold' or 'deaf' (comma-separated); off by default (an honest node)")
	verbose := fs.Bool("v", false, "log debug detail")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *listen == "" {
		return usagef("--listen is required: the p2p multiaddr the node registered, e.g. /ip4/127.0.0.1/tcp/4001")
	}
	if *threads < 1 {
		return usagef("--threads must be at least 1, got %d", *threads)
	}
	clicmd.LimitProcs(*threads) // devnets run several nodes on one machine
	key, err := readNodeKey(*home)
	if err != nil {
		return err
	}
	var f *node.Fault
	if *fault != "" {
		seed := sha256.Sum256(key.Seed())
		if f, err = node.ParseFault(*fault, binary.LittleEndian.Uint64(seed[:])); err != nil {
			return usagef("--fault: %v", err)
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if f != nil {
		log.Warn("TEST FAULT INJECTION ON: this node misbehaves on purpose", "fault", *fault)
	}
	c, err := dialChain(ctx, *rpc, key)
	if err != nil {
		return err
	}
	defer c.Close()
	store, err := p2p.OpenBlobStore(filepath.Join(*home, BlobDir))
	if err != nil {
		return err
	}
	host, err := p2p.New(ctx, p2p.Config{Key: key, ListenAddrs: []string{*listen}})
	if err != nil {
		return fmt.Errorf("%w (is another process using that port? check --listen)", err)
	}
	defer host.Close()
	d, err := node.NewDaemon(ctx, node.Config{
		Key: key, Chain: c.client, Host: host, Store: store, Threads: *threads,
		Peers: peers, Fault: f, Progress: stderr, Log: log,
	})
	if err != nil {
		return err
	}
	if err := checkRegistration(ctx, d, host, log); err != nil {
		return err
	}
	log.Info("starting", "address", d.Address().String(), "p2p", host.Addrs(), "rpc", *rpc)
	if err := d.Run(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while loading
		}
		return err
	}
	log.Info("stopped")
	return nil
}

// checkRegistration warns when the registered p2p address is not one this
// host listens on (other nodes and gateways would dial the wrong place).
func checkRegistration(ctx context.Context, d *node.Daemon, host *p2p.Host, log *slog.Logger) error {
	info, err := d.Info(ctx)
	if err != nil {
		return err
	}
	for _, a := range host.Addrs() {
		if a == info.P2PAddr {
			return nil
		}
	}
	if info.P2PAddr == "" {
		return errors.New("the node is registered without a p2p address; register it again with --listen")
	}
	log.Warn("the registered p2p address is not one this node listens on; gateways dial the registered one", "registered", info.P2PAddr, "listening", host.Addrs())
	return nil
}
