package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/p2p"
)

// storiesArgs are the register flags for stories260K with its tokenizer,
// without --key and --rpc.
func storiesArgs(t *testing.T) []string {
	t.Helper()
	dir, err := filepath.Abs("../../../shared/models")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stories260K.bin")); err != nil {
		t.Skipf("reference model missing (%v); this test needs ../shared/models beside the checkout", err)
	}
	return []string{"register", "--model", filepath.Join(dir, "stories260K.bin"), "--tokenizer", filepath.Join(dir, "tok512.bin"),
		"--target-vram", "300KiB", "--context", "64", "--chunk", "16", "--store", filepath.Join(t.TempDir(), "blobs")}
}

// newKeyFile writes a fresh account key and returns its path.
func newKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "deployer.key")
	if _, err := chain.GenerateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRegisterUsage checks that bad flags fail with exit code 2 and say
// what to do.
func TestRegisterUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"register"}, "--model is required"},
		{[]string{"register", "--model", "m.bin"}, "--target-vram is required"},
		{[]string{"register", "--model", "m.bin", "--target-vram", "1GiB"}, "--key is required"},
		{[]string{"register", "--model", "m.bin", "--target-vram", "lots", "--key", "k"}, "--target-vram: size \"lots\""},
		{[]string{"register", "--model", "m.bin", "--target-vram", "1GiB", "--key", "k", "--context", "-1"}, "--context must be"},
		{[]string{"register", "--model", "m.bin", "--target-vram", "1GiB", "--key", "k", "extra"}, "unexpected argument"},
		{[]string{"register", "--model", "m.bin", "--target-vram", "1GiB", "--key", "k", "--listen", "/ip4/0.0.0.0/tcp/4001"}, "--listen applies only with --serve"},
		{[]string{"register", "--model", "m.bin", "--target-vram", "1GiB", "--key", "k", "--overhead", "2GiB"}, "raise --target-vram or lower --overhead"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestRegisterNoChain checks the hint when no validator answers.
func TestRegisterNoChain(t *testing.T) {
	args := append(storiesArgs(t), "--key", newKeyFile(t), "--rpc", "http://127.0.0.1:1", "--timeout", "5s")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	if !strings.HasPrefix(stderr.String(), "splitup-deploy: error: ") || !strings.Contains(stderr.String(), "splitup chain start --home DIR") {
		t.Fatalf("stderr %q lacks the error prefix or the hint", stderr.String())
	}
	if !strings.Contains(stdout.String(), "published 7 blobs") {
		t.Fatalf("stdout %q: the shards should be published before registering", stdout.String())
	}
}

// TestRegisterServe registers stories260K on an in-process chain with
// --serve, fetches a shard from the address it prints, stops it as SIGINT
// would, and registers it again (from an unfunded account: a no-op).
func TestRegisterServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a validator")
	}
	dir := t.TempDir()
	nc := chain.DefaultNodeConfig()
	nc.TimeoutCommitMillis = 50
	nw, err := chain.InitNetwork(chain.NetworkOptions{Dir: dir, Validators: 1, ChainID: "cli-test", FaucetBalance: 1_000_000, Node: nc})
	if err != nil {
		t.Fatal(err)
	}
	node, err := chain.StartNode(filepath.Join(dir, nw.Validators[0].Home), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer node.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, interrupt := context.WithCancel(ctx)
	args := append(storiesArgs(t), "--key", filepath.Join(dir, chain.FaucetKeyFile), "--rpc", node.RPC(), "--serve")
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(runCtx, args, outW, &stderr)
		outW.Close()
	}()
	var addr, id string
	sc := bufio.NewScanner(outR)
	for sc.Scan() {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "serving shards on "); ok && addr == "" {
			addr = a
		}
		if m, ok := strings.CutPrefix(line, "registered model "); ok {
			id = m
		}
		if strings.HasPrefix(line, "serving until interrupted") {
			break
		}
	}
	go io.Copy(io.Discard, outR)
	if addr == "" || id == "" {
		interrupt()
		t.Fatalf("no address or model id printed (exit %d); stderr: %s", <-done, stderr.String())
	}

	c, err := chain.Dial(node.RPC())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.Query(ctx, "model/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	var info contract.ModelInfo
	if err := json.Unmarshal(raw, &info); err != nil || info.NumTasks < 3 || info.Name != "stories260K" {
		t.Fatalf("model on chain: %+v, %v", info, err)
	}
	fetchOne(t, ctx, addr, info.Tasks[0].Shards[0])

	interrupt()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after interrupt; stderr: %s", code, stderr.String())
	}

	var again bytes.Buffer
	args = append(storiesArgs(t), "--key", newKeyFile(t), "--rpc", node.RPC())
	if code := run(ctx, args, &again, &stderr); code != 0 || !strings.Contains(again.String(), "model "+id+" is already registered") {
		t.Fatalf("second register: exit %d, stdout %q, stderr %q", code, again.String(), stderr.String())
	}
}

// fetchOne fetches blob h from the host at addr.
func fetchOne(t *testing.T, ctx context.Context, addr string, h contract.Hash) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	host, err := p2p.New(ctx, p2p.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	peer, err := host.Connect(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	store, err := p2p.OpenBlobStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.Fetch(ctx, peer, p2p.Hash(h), store, nil); err != nil {
		t.Fatal(err)
	}
}
