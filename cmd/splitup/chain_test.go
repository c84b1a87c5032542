package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the splitup command table in process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestChainCLIUsage(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "a.key")
	cases := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"chain", "init"}, 2, "--home is required"},
		{[]string{"chain", "init", "--home", dir, "extra"}, 2, "unexpected argument"},
		{[]string{"chain", "init", "--home", dir, "--heartbeat", "-5s"}, 2, "--heartbeat must be ≥ 0"},
		{[]string{"chain", "init", "--home", dir, "--block-time", "500us"}, 2, "whole number of milliseconds"},
		{[]string{"chain", "init", "--home", dir, "--block-time", "-1s"}, 2, "--block-time"},
		{[]string{"chain", "start"}, 2, "--home is required"},
		{[]string{"chain", "start", "--home", dir}, 1, "splitup chain init"},
		{[]string{"query"}, 2, "what to query"},
		{[]string{"query", "bogus"}, 2, "unknown query"},
		{[]string{"query", "node"}, 2, "needs one argument"},
		{[]string{"query", "nodes", "x"}, 2, "takes no argument"},
		{[]string{"query", "status", "--rpc", "127.0.0.1:1"}, 2, "want http://host:port"},
		{[]string{"query", "status", "--rpc", "http://127.0.0.1:1", "--timeout", "2s"}, 1, "is a validator running"},
		{[]string{"tx"}, 2, "which transaction"},
		{[]string{"tx", "bogus"}, 2, "unknown transaction"},
		{[]string{"tx", "keygen"}, 2, "--out is required"},
		{[]string{"tx", "transfer", "--to", strings.Repeat("ab", 32), "--amount", "1"}, 2, "--key is required"},
		{[]string{"tx", "transfer", "--key", key, "--to", "xyz", "--amount", "1"}, 2, "--to"},
		{[]string{"tx", "register-node", "--key", key, "--vram", "lots", "--stake", "1"}, 2, "--vram"},
		{[]string{"tx", "specialize", "--key", key, "--tasks", "nocolon"}, 2, "MODELID:TASKINDEX"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("splitup %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

func TestTxKeygen(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k.key")
	code, out, stderr := runCLI(t, "tx", "keygen", "--out", key)
	if code != 0 || len(strings.TrimSpace(out)) != 64 {
		t.Fatalf("keygen: exit %d, %q %q", code, out, stderr)
	}
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if code, _, stderr := runCLI(t, "tx", "keygen", "--out", key); code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("keygen over an existing file: exit %d, %q", code, stderr)
	}
	os.Chmod(key, 0o644)
	code, _, stderr = runCLI(t, "tx", "heartbeat", "--key", key, "--rpc", "http://127.0.0.1:1")
	if code != 1 || !strings.Contains(stderr, "chmod 600") {
		t.Errorf("readable key: exit %d, %q", code, stderr)
	}
}

func TestChainInitTwice(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	code, out, stderr := runCLI(t, "chain", "init", "--home", dir, "--validators", "2", "--base-port", "0")
	if code != 0 || !strings.Contains(out, "node1") {
		t.Fatalf("chain init: exit %d\n%s%s", code, out, stderr)
	}
	for _, f := range []string{"network.json", "faucet.key", "node0/config/genesis.json", "node1/config/node.json", "node1/config/priv_validator_key.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if code, _, stderr := runCLI(t, "chain", "init", "--home", dir); code != 1 || !strings.Contains(stderr, "already holds a network") {
		t.Errorf("second init: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, "chain", "start", "--home", dir); code != 1 || !strings.Contains(stderr, "node0") {
		t.Errorf("start on the network dir: exit %d, %q", code, stderr)
	}
}
