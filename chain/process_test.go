package chain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// splitupBin is the splitup binary built once by TestMain; buildErr is set
// if the build failed.
var (
	splitupBin string
	buildErr   error
	testTmp    string // removed at exit
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "splitup-chain-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testTmp = dir
	if !testing.Short() {
		splitupBin = filepath.Join(dir, "splitup")
		cmd := exec.Command("go", "build", "-o", splitupBin, "./cmd/splitup")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/splitup: %v\n%s", err, out)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needBinary skips in -short mode and fails if the binary did not build.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test; skipped with -short")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// splitup runs the binary to completion and returns its stdout.
func splitup(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(splitupBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("splitup %v: %v\n%s%s", args, err, out.String(), errb.String())
	}
	return out.String()
}

// validatorProc is one 'splitup chain start' process.
type validatorProc struct {
	t    *testing.T
	home string
	cmd  *exec.Cmd
	log  *os.File
	rpc  *chain.RPCClient
}

func startValidator(t *testing.T, home, rpcURL string) *validatorProc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(home, "process.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(splitupBin, "chain", "start", "--home", home)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := chain.Dial(rpcURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &validatorProc{t: t, home: home, cmd: cmd, log: logf, rpc: c}
	t.Cleanup(func() { p.kill() })
	return p
}

// kill sends SIGKILL and reaps the process.
func (p *validatorProc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		p.log.Close()
	}
}

// stop sends SIGTERM and expects a clean exit.
func (p *validatorProc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		p.log.Close()
		if err != nil {
			p.t.Errorf("%s: unclean shutdown: %v\n%s", p.home, err, p.logTail())
		}
	case <-time.After(30 * time.Second):
		p.t.Errorf("%s: did not stop within 30s of SIGTERM", p.home)
	}
}

func (p *validatorProc) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.home, "process.log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// appHeight is the height the application itself has committed (0 if down).
func (p *validatorProc) appHeight() (int64, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	h, hash, err := p.rpc.AppInfo(ctx)
	if err != nil {
		return 0, ""
	}
	return h, hash
}

// waitHeight waits until the app has committed height h.
func (p *validatorProc) waitHeight(h int64, within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, _ := p.appHeight()
		if got >= h {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: height %d after %v, want %d\n%s", p.home, got, within, h, p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// initNetwork runs 'splitup chain init' and returns the network description.
func initNetwork(t *testing.T, validators int) (string, *chain.Network) {
	dir := filepath.Join(t.TempDir(), "net")
	splitup(t, "chain", "init", "--home", dir, "--validators", strconv.Itoa(validators), "--base-port", "0",
		"--chain-id", "proc-test", "--log-level", "state:info,*:error")
	nw, err := chain.ReadNetwork(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, nw
}

func faucetSigner(t *testing.T, dir string, c chain.Client) *chain.Signer {
	t.Helper()
	priv, err := chain.ReadKeyFile(filepath.Join(dir, chain.FaucetKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := chain.NewSigner(ctx, c, priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func balance(t *testing.T, c chain.Client, a contract.Address) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := c.Query(ctx, "account/"+a.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var acct contract.AccountInfo
	if err := json.Unmarshal(raw, &acct); err != nil {
		t.Fatal(err)
	}
	return acct.Balance
}

func send(t *testing.T, s *chain.Signer, to contract.Address, amount uint64) *chain.TxResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.Send(ctx, &contract.Transfer{To: to, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestFourValidatorProcesses: four validators as OS processes on loopback;
// one is killed with SIGKILL and the chain goes on; restarted, it catches up
// and its application reaches the same app hash at the same height.
func TestFourValidatorProcesses(t *testing.T) {
	needBinary(t)
	dir, nw := initNetwork(t, 4)
	var procs []*validatorProc
	for _, v := range nw.Validators {
		procs = append(procs, startValidator(t, filepath.Join(dir, v.Home), v.RPC))
	}
	for _, p := range procs {
		p.waitHeight(2, 90*time.Second)
	}
	s := faucetSigner(t, dir, procs[0].rpc)
	alice := contract.Address{0xa1}
	send(t, s, alice, 100)

	victim := procs[3]
	victim.kill()
	h0, _ := procs[0].appHeight()
	procs[0].waitHeight(h0+5, 90*time.Second) // three of four (75% > 2/3) keep making blocks
	res := send(t, s, alice, 23)              // committed while the victim is down
	t.Logf("height %d → %d with node3 down; tx at height %d", h0, h0+5, res.Height)

	procs[3] = startValidator(t, victim.home, nw.Validators[3].RPC)
	target, _ := procs[0].appHeight()
	procs[3].waitHeight(target, 120*time.Second)
	h, hash := procs[3].appHeight()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	procs[0].waitHeight(h+1, 30*time.Second)
	want, err := procs[0].rpc.BlockAppHash(ctx, h+1)
	if err != nil {
		t.Fatal(err)
	}
	if hash != want {
		t.Fatalf("restarted validator: app hash %s at height %d, the chain agreed on %s", hash, h, want)
	}
	if got := balance(t, procs[3].rpc, alice); got != 123 {
		t.Fatalf("restarted validator sees balance %d, want 123", got)
	}
	t.Logf("restarted node3 caught up to height %d with app hash %s", h, hash)
	for _, p := range procs {
		p.stop()
	}
}

// TestKill9KeepsCommittedTx: a single validator killed with SIGKILL right
// after a tx committed still has it after a restart, at the same app hash.
func TestKill9KeepsCommittedTx(t *testing.T) {
	needBinary(t)
	dir, nw := initNetwork(t, 1)
	home, rpc := filepath.Join(dir, nw.Validators[0].Home), nw.Validators[0].RPC
	p := startValidator(t, home, rpc)
	p.waitHeight(1, 60*time.Second)
	bob := filepath.Join(t.TempDir(), "bob.key")
	addr := splitup(t, "tx", "keygen", "--out", bob)
	out := splitup(t, "tx", "transfer", "--key", filepath.Join(dir, chain.FaucetKeyFile), "--to", addr[:64], "--amount", "777", "--rpc", rpc)
	var res struct {
		Height int64  `json:"height"`
		Code   uint32 `json:"code"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Code != 0 || res.Height == 0 {
		t.Fatalf("tx output %q: %v", out, err)
	}
	p.kill()
	// The kill may land before or after the next blocks; what was committed stays.
	p = startValidator(t, home, rpc)
	p.waitHeight(res.Height, 60*time.Second)
	q := splitup(t, "query", "account", addr[:64], "--rpc", rpc)
	var acct contract.AccountInfo
	if err := json.Unmarshal([]byte(q), &acct); err != nil || acct.Balance != 777 {
		t.Fatalf("after kill -9 and restart: %s (%v)", q, err)
	}
	h, hash := p.appHeight()
	p.waitHeight(h+1, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if want, err := p.rpc.BlockAppHash(ctx, h+1); err != nil || want != hash {
		t.Fatalf("app hash %s at %d, block %d records %s (%v)", hash, h, h+1, want, err)
	}
	st := splitup(t, "query", "status", "--rpc", rpc)
	if !bytes.Contains([]byte(st), []byte(`"height"`)) {
		t.Fatalf("query status: %s", st)
	}
	p.stop()
}

// TestKill9UnderLoad kills a single validator with SIGKILL while transfers
// stream in; after a restart every transfer confirmed before the kill is
// there (and no more than were sent).
func TestKill9UnderLoad(t *testing.T) {
	needBinary(t)
	dir, nw := initNetwork(t, 1)
	home, rpc := filepath.Join(dir, nw.Validators[0].Home), nw.Validators[0].RPC
	p := startValidator(t, home, rpc)
	p.waitHeight(1, 60*time.Second)
	s := faucetSigner(t, dir, p.rpc)
	to := contract.Address{0xbe, 0xef}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var confirmed, sent atomic.Int64
	var maxHeight atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sent.Add(1)
				res, err := s.Send(ctx, &contract.Transfer{To: to, Amount: 1})
				if err != nil {
					return // the validator is gone
				}
				confirmed.Add(1)
				for h := maxHeight.Load(); res.Height > h && !maxHeight.CompareAndSwap(h, res.Height); h = maxHeight.Load() {
				}
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for confirmed.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	p.kill()
	cancel()
	wg.Wait()
	got := confirmed.Load()
	if got < 20 {
		t.Fatalf("only %d transfers confirmed before the kill", got)
	}

	p = startValidator(t, home, rpc)
	p.waitHeight(maxHeight.Load(), 60*time.Second)
	bal := balance(t, p.rpc, to)
	if int64(bal) < got || int64(bal) > sent.Load() {
		t.Fatalf("after kill -9: balance %d; %d transfers were confirmed, %d sent", bal, got, sent.Load())
	}
	t.Logf("%d transfers confirmed before SIGKILL, %d sent; balance after restart %d", got, sent.Load(), bal)
	p.stop()
}
