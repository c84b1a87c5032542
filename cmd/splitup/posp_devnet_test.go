package main

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// TestDevnetProofOfSampling runs 200 executions of stories260K (two tasks)
// on 5 node processes, one of which corrupts every output it sends
// (--fault wrong-output=1.0). The chain draws each task for verification
// with p = 0.08; validators recompute drawn tasks in one prefill. The test
// checks that the cheater's caught fraction matches p within a binomial
// interval, that it is slashed every time it is caught and nobody honest
// ever is, that users of caught executions get the forfeited payment back,
// and that the total supply never changes. Two honest nodes are deaf to
// the chain's verification events (--fault …;1:deaf;2:deaf): as validators
// they learn of their requests only by asking the chain, and must still
// answer them. It also reports the verification overhead: validator
// compute ÷ asserter compute over the whole run.
func TestDevnetProofOfSampling(t *testing.T) {
	needModels(t)
	if testing.Short() {
		t.Skip("-short: 200 executions on a devnet")
	}
	d := startDevnet(t, "--nodes", "5", "--model", filepath.Join(sharedModels, "stories260K.bin"),
		"--tokenizer", filepath.Join(sharedModels, "tok512.bin"), "--target-vram", "6MiB", "--fault", "4:wrong-output=1.0;1:deaf;2:deaf")
	c, err := chain.Dial(d.info.RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var supply0 contract.SupplyInfo
	queryJSON(t, ctx, c, "supply", &supply0)
	slashes, err := c.Subscribe(ctx, contract.EventSlashed)
	if err != nil {
		t.Fatal(err)
	}
	results, err := c.Subscribe(ctx, contract.EventVerificationResult)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	slashed := map[string]int{}
	verdicts := map[string]map[string]int{} // validator → result → count
	go func() {
		for ev := range slashes {
			mu.Lock()
			slashed[ev.Attr("node")]++
			mu.Unlock()
		}
	}()
	go func() {
		for ev := range results {
			mu.Lock()
			v := ev.Attr("validator")
			if verdicts[v] == nil {
				verdicts[v] = map[string]int{}
			}
			verdicts[v][ev.Attr("result")]++
			mu.Unlock()
		}
	}()
	faulty := d.info.Nodes[4].Address
	model := d.info.Model
	// A caught cheater loses S × payment of stake; give it enough stake to
	// stay eligible through every catch, so the catch rate can be measured.
	bond(t, ctx, c, d, 4, 1_000_000*contract.Token)

	const executions, workers = 200, 4
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				complete(t, d.info.Gateway, model, "", 24, false, nil)
			}
		}()
	}
	for i := 0; i < executions; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	execs := waitSettled(t, ctx, c, executions)
	var asserted, drawn, caught int
	for _, e := range execs {
		for _, tk := range e.Tasks {
			if tk.Node.String() != faulty {
				if tk.Forfeit {
					t.Errorf("execution %d: honest node %s forfeited its payment", e.ID, tk.Node)
				}
				continue
			}
			asserted++
			if tk.Verification != "skipped" {
				drawn++
			}
			if tk.Forfeit {
				caught++
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for node, n := range slashed {
		if node != faulty {
			t.Errorf("honest node %s was slashed %d times", node, n)
		}
	}
	p := 0.08
	lo, hi := binomialInterval(asserted, p)
	t.Logf("cheater asserted %d tasks: %d drawn, %d caught (%.3f; 99.9%% interval for p=%.2f: %d..%d), slashed %d times",
		asserted, drawn, caught, float64(caught)/float64(max(asserted, 1)), p, lo, hi, slashed[faulty])
	if asserted < 20 {
		t.Fatalf("the cheater asserted only %d tasks", asserted)
	}
	if caught != drawn {
		t.Errorf("%d of the cheater's tasks were drawn but %d caught", drawn, caught)
	}
	if caught < lo || caught > hi {
		t.Errorf("caught %d of %d, outside the binomial interval %d..%d for p = %.2f", caught, asserted, lo, hi, p)
	}
	if slashed[faulty] != caught {
		t.Errorf("cheater caught %d times but slashed %d times", caught, slashed[faulty])
	}
	t.Logf("verification results by validator: %v", verdicts)
	deafVerdicts := 0
	for _, i := range []int{1, 2} {
		v := verdicts[d.info.Nodes[i].Address]
		deafVerdicts += v["match"] + v["mismatch"]
		if v["timeout"] > 0 {
			t.Errorf("node %d, deaf to verification events, let %d requests time out", i, v["timeout"])
		}
	}
	if deafVerdicts == 0 {
		t.Errorf("the nodes deaf to verification events gave no verdict: they did not find their requests on the chain")
	}
	var supply1 contract.SupplyInfo
	queryJSON(t, ctx, c, "supply", &supply1)
	if supply1.Total != supply0.Total {
		t.Errorf("supply changed from %d to %d", supply0.Total, supply1.Total)
	}
	// Records are kept until their tasks settle: wait for every node that
	// served a session to report that it holds none, then count.
	waitRecordsLetGo(t, ctx, d)
	d.interrupt(t)
	reportOverhead(t, d.out.String())
	held, pruned := 0, 0
	for _, m := range recordsLine.FindAllStringSubmatch(d.out.String(), -1) {
		h, _ := strconv.Atoi(m[1])
		p, _ := strconv.Atoi(m[2])
		held, pruned = held+h, pruned+p
	}
	t.Logf("records: %d let go after their tasks settled, %d still held", pruned, held)
	if pruned == 0 || held != 0 {
		t.Errorf("records let go %d, still held %d; want every record let go once all executions settled", pruned, held)
	}
}

// waitRecordsLetGo waits until every node that logged a finished session
// has last logged that it holds no record.
func waitRecordsLetGo(t *testing.T, ctx context.Context, d *devnetProc) {
	t.Helper()
	for {
		served, held := map[string]bool{}, map[string]string{}
		for _, line := range strings.Split(d.out.String(), "\n") {
			name, rest, ok := strings.Cut(line, "|")
			if !ok {
				continue
			}
			name = strings.TrimSpace(name)
			if strings.Contains(rest, `msg="session done"`) {
				served[name] = true
			}
			if m := letGoLine.FindStringSubmatch(rest); m != nil {
				held[name] = m[1]
			}
		}
		waiting := 0
		for name := range served {
			if held[name] != "0" {
				waiting++
			}
		}
		if waiting == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d nodes still hold records after every execution settled", waiting)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var letGoLine = regexp.MustCompile(`msg="records let go" count=\d+ held=(\d+)`)

var recordsLine = regexp.MustCompile(`msg="node stats" .* records=(\d+) records_pruned=(\d+)`)

// bond moves amount from the faucet to node i and stakes it. The node's own
// heartbeats use the same account, so a nonce clash is retried.
func bond(t *testing.T, ctx context.Context, c chain.Client, d *devnetProc, i int, amount uint64) {
	t.Helper()
	nw, err := chain.ReadNetwork(filepath.Join(d.dir, "chain"))
	if err != nil {
		t.Fatal(err)
	}
	faucet, err := chain.ReadKeyFile(filepath.Join(d.dir, "chain", nw.Faucet))
	if err != nil {
		t.Fatal(err)
	}
	key, err := chain.ReadKeyFile(filepath.Join(d.dir, "nodes", d.info.Nodes[i].ID, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	send := func(k []byte, msg contract.Msg) {
		for try := 0; ; try++ {
			s, err := chain.NewSigner(ctx, c, k)
			if err == nil {
				_, err = s.Send(ctx, msg)
			}
			if err == nil {
				return
			}
			if try == 10 {
				t.Fatalf("%T: %v", msg, err)
			}
		}
	}
	send(faucet, &contract.Transfer{To: chain.AddressOf(key), Amount: amount})
	send(key, &contract.Stake{Amount: amount})
}

func queryJSON(t *testing.T, ctx context.Context, c chain.Client, path string, v any) {
	t.Helper()
	raw, err := c.Query(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// waitSettled polls until n executions exist and all are settled.
func waitSettled(t *testing.T, ctx context.Context, c chain.Client, n int) []contract.ExecutionInfo {
	t.Helper()
	for {
		var es []contract.ExecutionInfo
		queryJSON(t, ctx, c, "executions", &es)
		done := 0
		for _, e := range es {
			if e.State == "settled" {
				done++
			}
		}
		if len(es) >= n && done == len(es) {
			out := make([]contract.ExecutionInfo, len(es))
			for i, e := range es { // the list omits task details: read each
				queryJSON(t, ctx, c, "execution/"+strconv.FormatUint(e.ID, 10), &out[i])
			}
			return out
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d executions settled before the deadline", done, len(es))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// binomialInterval returns the central 99.9 % interval of Binomial(n, p).
func binomialInterval(n int, p float64) (lo, hi int) {
	cdf := 0.0
	lo, hi = -1, n
	for k := 0; k <= n; k++ {
		lc, _ := math.Lgamma(float64(n + 1))
		a, _ := math.Lgamma(float64(k + 1))
		b, _ := math.Lgamma(float64(n - k + 1))
		cdf += math.Exp(lc - a - b + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
		if lo < 0 && cdf > 0.0005 {
			lo = k
		}
		if cdf >= 0.9995 {
			hi = k
			break
		}
	}
	return lo, hi
}

var statsLine = regexp.MustCompile(`msg="node stats" sessions=(\d+) rows=(\d+) steps_compute_us=(\d+) verifications=(\d+) verify_rows=(\d+) verify_compute_us=(\d+)`)

// reportOverhead sums the nodes' final statistics: validator compute over
// asserter compute.
func reportOverhead(t *testing.T, out string) {
	var steps, verify, vrows, rows, nv float64
	for _, m := range statsLine.FindAllStringSubmatch(out, -1) {
		f := func(i int) float64 { v, _ := strconv.ParseFloat(m[i], 64); return v }
		rows += f(2)
		steps += f(3)
		nv += f(4)
		vrows += f(5)
		verify += f(6)
	}
	if steps == 0 {
		t.Errorf("no node statistics in the devnet output")
		return
	}
	t.Logf("verification overhead: %d verifications over %d rows took %.1f ms; asserters ran %d rows in %.1f ms; validator ÷ asserter compute = %.2f %%",
		int(nv), int(vrows), verify/1e3, int(rows), steps/1e3, 100*verify/steps)
}
