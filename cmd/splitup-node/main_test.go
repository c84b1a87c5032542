package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/p2p"
)

// cli runs splitup-node in process and returns the exit code and output.
func cli(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestInit(t *testing.T) {
	home := filepath.Join(t.TempDir(), "n")
	code, out, errs := cli("init", "--home", home)
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, errs)
	}
	fi, err := os.Stat(filepath.Join(home, KeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	key, err := chain.ReadKeyFile(filepath.Join(home, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := p2p.PeerIDFromPublicKey(key.Public().(ed25519.PublicKey))
	if !strings.Contains(out, "address "+chain.AddressOf(key).String()) || !strings.Contains(out, "peer id "+pid.String()) {
		t.Errorf("init output lacks the address or peer id:\n%s", out)
	}
	if code, _, errs := cli("init", "--home", home); code != 1 || !strings.Contains(errs, "splitup-node: error:") || !strings.Contains(errs, "keep its key") || !strings.Contains(errs, "another --home") {
		t.Errorf("second init: exit %d, %q; want a refusal that says what to do", code, errs)
	}
	again, err := chain.ReadKeyFile(filepath.Join(home, KeyFile))
	if err != nil || !again.Equal(key) {
		t.Errorf("a second init changed the key file (%v)", err)
	}
}

func TestErrors(t *testing.T) {
	home := filepath.Join(t.TempDir(), "n")
	if code, _, errs := cli("init", "--home", home); code != 0 {
		t.Fatal(errs)
	}
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"init"}, 2, "--home is required"},
		{[]string{"register", "--home", home}, 2, "--vram and --listen are required"},
		{[]string{"register", "--home", home, "--vram", "lots", "--listen", "/ip4/127.0.0.1/tcp/4001"}, 2, "--vram"},
		{[]string{"register", "--home", home, "--vram", "8GiB", "--listen", "/ip4/127.0.0.1/tcp/0"}, 2, "fixed TCP port"},
		{[]string{"register", "--home", home, "--vram", "8GiB", "--listen", "/ip4/0.0.0.0/tcp/4001"}, 2, "--announce"},
		{[]string{"register", "--home", home, "--vram", "8GiB", "--listen", "not a multiaddr"}, 2, "--listen"},
		{[]string{"register", "--home", home, "--vram", "8GiB", "--listen", "/ip4/127.0.0.1/tcp/4001", "--stake", "-3"}, 2, "--stake"},
		{[]string{"register", "--home", empty, "--vram", "8GiB", "--listen", "/ip4/127.0.0.1/tcp/4001"}, 1, "splitup-node init"},
		{[]string{"stake", "--home", home}, 2, "--amount is required"},
		{[]string{"specialize", "--home", home, "--model", "xyz", "--tasks", "0"}, 2, "--model"},
		{[]string{"specialize", "--home", home, "--model", strings.Repeat("ab", 32), "--tasks", "0,x"}, 2, "--tasks"},
		{[]string{"start", "--home", home}, 2, "--listen is required"},
		{[]string{"start", "--home", empty, "--listen", "/ip4/127.0.0.1/tcp/4001"}, 1, "splitup-node init"},
		{[]string{"start", "--home", home, "--listen", "/ip4/127.0.0.1/tcp/4001", "--fault", "lie-a-lot"}, 2, "--fault"},
		{[]string{"start", "--home", home, "--listen", "/ip4/127.0.0.1/tcp/4001", "--rpc", "http://127.0.0.1:1"}, 1, "is a validator running"},
	} {
		code, _, errs := cli(c.args...)
		if code != c.code || !strings.Contains(errs, "splitup-node: error:") || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errs, c.code, c.want)
		}
	}
}

func TestParseAmountAndSize(t *testing.T) {
	for in, want := range map[string]uint64{"1100000000": 1_100_000_000, "1100tokens": 1_100_000_000, "0.5token": 500_000, "7 tokens": 7_000_000} {
		if got, err := parseAmount(in); err != nil || got != want {
			t.Errorf("parseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "0", "1.5", "0.0000001token", "1e9", "lots", "1/2tokens", "0x10", "0b101", "0o7", "1_000"} {
		if _, err := parseAmount(in); err == nil {
			t.Errorf("parseAmount(%q) accepted", in)
		}
	}
	for in, want := range map[string]uint64{"8GiB": 8 << 30, "512MiB": 512 << 20, "1.5GB": 1_500_000_000, "4096": 4096} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "0", "8 parsecs", "1..2GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

// TestAgainstChain registers, stakes and specialises a node against an
// in-process validator, and checks that start refuses a node without tasks.
func TestAgainstChain(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a validator")
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "node")
	if code, _, errs := cli("init", "--home", home); code != 0 {
		t.Fatal(errs)
	}
	key, err := chain.ReadKeyFile(filepath.Join(home, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	rpc := startChain(t, filepath.Join(dir, "chain"), chain.AddressOf(key))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", l.Addr().(*net.TCPAddr).Port)
	l.Close()
	if code, out, errs := cli("register", "--home", home, "--rpc", rpc, "--vram", "2GiB", "--listen", listen); code != 0 {
		t.Fatalf("register: %s%s", out, errs)
	}
	info := nodeInfo(t, rpc, chain.AddressOf(key))
	pid, _ := p2p.PeerIDFromPublicKey(key.Public().(ed25519.PublicKey))
	p := contract.DefaultParams()
	if info.P2PAddr != listen+"/p2p/"+pid.String() || info.VRAMBytes != 2<<30 || info.Stake != p.StakeBase+2*p.StakePerGiB {
		t.Errorf("registered %+v", info)
	}
	if code, _, errs := cli("register", "--home", home, "--rpc", rpc, "--vram", "2GiB", "--listen", listen); code != 1 || !strings.Contains(errs, "already registered") {
		t.Errorf("second register: exit %d: %s", code, errs)
	}
	if code, _, errs := cli("stake", "--home", home, "--rpc", rpc, "--amount", "5tokens"); code != 0 {
		t.Fatalf("stake: %s", errs)
	}
	if got := nodeInfo(t, rpc, chain.AddressOf(key)).Stake; got != info.Stake+5*contract.Token {
		t.Errorf("stake after 'stake --amount 5tokens' is %d, want %d", got, info.Stake+5*contract.Token)
	}
	if code, _, errs := cli("specialize", "--home", home, "--rpc", rpc, "--model", strings.Repeat("ab", 32), "--tasks", "0"); code != 1 || !strings.Contains(errs, "splitup query models") {
		t.Errorf("specialize on an unknown model: exit %d: %s", code, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errb bytes.Buffer
	code := run(ctx, []string{"start", "--home", home, "--rpc", rpc, "--listen", listen}, io.Discard, &errb)
	if code != 1 || !strings.Contains(errb.String(), "splitup-node specialize") {
		t.Errorf("start without tasks: exit %d: %s", code, errb.String())
	}
}

// startChain starts a 1-validator chain in dir that funds addr, and returns
// its RPC URL once it has made a block.
func startChain(t *testing.T, dir string, addr contract.Address) string {
	t.Helper()
	nc := chain.DefaultNodeConfig()
	nc.LogLevel = "*:error"
	nw, err := chain.InitNetwork(chain.NetworkOptions{Dir: dir, Validators: 1, ChainID: "splitup-node-test",
		FaucetBalance: 1000 * contract.Token, Accounts: []contract.Account{{Address: addr, Balance: 10_000 * contract.Token}}, Node: nc})
	if err != nil {
		t.Fatal(err)
	}
	n, err := chain.StartNode(filepath.Join(dir, nw.Validators[0].Home), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	c, err := chain.Dial(n.RPC())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if st, err := c.Status(context.Background()); err == nil && st.Height >= 1 {
			return n.RPC()
		}
		if time.Now().After(deadline) {
			t.Fatal("the validator made no block in 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nodeInfo(t *testing.T, rpc string, a contract.Address) contract.NodeInfo {
	t.Helper()
	c, err := chain.Dial(rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := c.Query(context.Background(), "node/"+a.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var n contract.NodeInfo
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMergeTasks: specialize replaces the node's tasks of one model and
// keeps those of the others (the chain replaces the whole set).
func TestMergeTasks(t *testing.T) {
	a, b := contract.Hash{1}, contract.Hash{2}
	cur := []contract.TaskRef{{Model: a, Task: 0}, {Model: b, Task: 1}, {Model: a, Task: 2}}
	got := mergeTasks(cur, a, []uint32{3})
	want := []contract.TaskRef{{Model: b, Task: 1}, {Model: a, Task: 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeTasks = %v, want %v", got, want)
	}
	if got := mergeTasks(cur, b, nil); !reflect.DeepEqual(got, []contract.TaskRef{{Model: a, Task: 0}, {Model: a, Task: 2}}) {
		t.Errorf("mergeTasks with no tasks = %v, want model a's kept", got)
	}
}
