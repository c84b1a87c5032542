package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/wire"
)

// binDir holds the splitup and splitup-node executables TestMain built
// (empty under -short).
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "splitup-bin-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/splitup", "./cmd/splitup-node")
			build.Dir = filepath.Join("..", "..")
			if out, err := build.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build the devnet binaries: %v\n%s", err, out)
				return 1
			}
			binDir = dir
		}
		return m.Run()
	}())
}

// devnetProc is a 'splitup devnet' process under test.
type devnetProc struct {
	cmd  *exec.Cmd
	dir  string
	info devnetInfo
	out  *lockedBuffer // stdout and stderr together
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, set before done closes
}

// lockedBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startDevnet runs 'splitup devnet' with args and waits until it is ready.
func startDevnet(t *testing.T, args ...string) *devnetProc {
	t.Helper()
	if binDir == "" {
		t.Skip("-short: the devnet tests run real processes")
	}
	d := &devnetProc{dir: t.TempDir(), out: &lockedBuffer{}, done: make(chan struct{})}
	args = append([]string{"devnet", "--state-dir", d.dir, "--port", "0"}, args...)
	d.cmd = exec.Command(filepath.Join(binDir, "splitup"), args...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("devnet output:\n%s", d.out.String())
		}
	})
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(d.out.String(), "devnet ready") {
		select {
		case <-d.done:
			t.Fatalf("devnet exited before it was ready (%v):\n%s", d.err, d.out.String())
		case <-deadline:
			t.Fatalf("devnet not ready after 2 minutes:\n%s", d.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	b, err := os.ReadFile(filepath.Join(d.dir, DevnetFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d.info); err != nil {
		t.Fatalf("%s: %v", DevnetFile, err)
	}
	return d
}

// interrupt sends SIGINT and checks a clean exit that leaves no node alive.
func (d *devnetProc) interrupt(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatal("devnet did not exit within 30 s of SIGINT")
	}
	if d.err != nil {
		t.Errorf("devnet exit after SIGINT: %v", d.err)
	}
	for _, n := range d.info.Nodes {
		if err := syscall.Kill(n.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) is still running after devnet exited (kill -0: %v)", n.ID, n.PID, err)
		}
	}
}

// complete posts a greedy completion and returns its text; with stream it
// collects the server-sent events, calling onEvent after each one.
func complete(t *testing.T, url, model, prompt string, maxTokens int, stream bool, onEvent func(n int)) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": model, "prompt": prompt, "max_tokens": maxTokens, "temperature": 0, "stream": stream})
	resp, err := http.Post(url+"/v1/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if !stream {
		var r wire.CompletionResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r.Choices[0].Text
	}
	var text strings.Builder
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == wire.StreamDone {
			continue
		}
		var c wire.CompletionResponse
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Text)
		}
		n++
		if onEvent != nil {
			onEvent(n)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return text.String()
}

// generateProc runs 'splitup generate' as a process and returns its text.
func generateProc(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	c := exec.Command(filepath.Join(binDir, "splitup"), append([]string{"generate", "--temperature", "0", "--threads", "1"}, args...)...)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("splitup generate: %v\n%s", err, errb.String())
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// TestDevnetStories260K runs stories260K split into three tasks over four
// node processes: greedy completions equal 'splitup generate' and
// llama2.c, streamed and not; a garbage peer does not hurt a node; a node
// killed with SIGKILL mid-answer is replaced and the answer is unchanged;
// SIGINT stops everything.
func TestDevnetStories260K(t *testing.T) {
	needModels(t)
	bin, tok := filepath.Join(sharedModels, "stories260K.bin"), filepath.Join(sharedModels, "tok512.bin")
	d := startDevnet(t, "--model", bin, "--tokenizer", tok, "--target-vram", "5.3MiB", "--nodes", "4")
	tasks := map[uint32]int{}
	for _, n := range d.info.Nodes {
		for _, task := range n.Tasks {
			tasks[task]++
		}
	}
	for _, n := range d.info.Nodes {
		if len(n.Tasks) == len(tasks) {
			t.Errorf("%s holds every task %v; failover needs each task elsewhere too", n.ID, n.Tasks)
		}
	}
	if len(d.info.Nodes) != 4 || len(tasks) < 3 {
		t.Fatalf("want 4 nodes and ≥ 3 tasks, got %+v", d.info.Nodes)
	}
	for task, c := range tasks {
		if c < 2 {
			t.Errorf("task %d is held by %d node(s); failover needs two", task, c)
		}
	}
	url, model := d.info.Gateway, d.info.Model

	t.Run("greedy", func(t *testing.T) {
		if got := complete(t, url, model, "", 200, false, nil); got != llama2cGreedy {
			t.Fatalf("non-streamed:\n got %q\nwant %q", got, llama2cGreedy)
		}
		if got := complete(t, url, model, "", 200, true, nil); got != llama2cGreedy {
			t.Fatalf("streamed:\n got %q\nwant %q", got, llama2cGreedy)
		}
		want := generateProc(t, "--model", bin, "--tokenizer", tok, "--prompt", "Once upon a time", "--max-tokens", "60")
		if got := complete(t, url, model, "Once upon a time", 60, false, nil); got != want {
			t.Fatalf("prompt: devnet\n %q\nsplitup generate\n %q", got, want)
		}
	})

	t.Run("garbage peer", func(t *testing.T) { garbagePeer(t, d) })

	t.Run("stranger", func(t *testing.T) {
		c, err := chain.Dial(d.info.RPC)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		got := complete(t, url, model, "", 200, true, func(n int) {
			if n == 10 {
				strangerRefused(t, c, d)
			}
		})
		if got != llama2cGreedy {
			t.Fatalf("the answer a stranger tried to join:\n got %q\nwant %q", got, llama2cGreedy)
		}
	})

	t.Run("SIGKILL mid-answer", func(t *testing.T) {
		c, err := chain.Dial(d.info.RPC)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var killed string
		var execID uint64
		got := complete(t, url, model, "", 200, true, func(n int) {
			if n == 10 {
				execID, killed = killMiddle(t, c, d)
			}
		})
		if got != llama2cGreedy {
			t.Fatalf("after killing %s:\n got %q\nwant %q", killed, got, llama2cGreedy)
		}
		var e contract.ExecutionInfo
		if err := queryInto(context.Background(), c, fmt.Sprintf("execution/%d", execID), &e); err != nil {
			t.Fatal(err)
		}
		if mid := len(e.Tasks) / 2; e.Tasks[mid].Attempt < 2 {
			t.Errorf("task %d of execution %d ran %d attempt(s); the kill came too late to test failover", mid, execID, e.Tasks[mid].Attempt)
		}
		if got := complete(t, url, model, "", 200, false, nil); got != llama2cGreedy {
			t.Fatalf("next request after the kill:\n got %q", got)
		}
	})

	d.interrupt(t)
}

// killMiddle SIGKILLs the node running the middle task of the running
// execution and returns the execution id and the node's name.
func killMiddle(t *testing.T, c chain.Client, d *devnetProc) (uint64, string) {
	var execs []contract.ExecutionInfo
	if err := queryInto(context.Background(), c, "executions", &execs); err != nil {
		t.Error(err)
		return 0, ""
	}
	for i := len(execs) - 1; i >= 0; i-- {
		e := execs[i]
		if e.State != "running" {
			continue
		}
		mid := e.Tasks[len(e.Tasks)/2]
		for _, n := range d.info.Nodes {
			if n.Address == mid.Node.String() {
				if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
					t.Error(err)
				}
				return e.ID, n.ID
			}
		}
	}
	t.Error("no running execution with an assigned middle task")
	return 0, ""
}

// strangerRefused has a peer that did not request the running execution
// open a session of its first task on the node that runs it: the node
// refuses it, naming the requester.
func strangerRefused(t *testing.T, c chain.Client, d *devnetProc) {
	var execs []contract.ExecutionInfo
	if err := queryInto(context.Background(), c, "executions", &execs); err != nil {
		t.Error(err)
		return
	}
	var e *contract.ExecutionInfo
	for i := len(execs) - 1; i >= 0 && e == nil; i-- {
		if execs[i].State == "running" && execs[i].Tasks[0].State == "running" {
			e = &execs[i]
		}
	}
	if e == nil {
		t.Error("no running execution")
		return
	}
	_, key, _ := ed25519.GenerateKey(nil)
	h, err := p2p.New(context.Background(), p2p.Config{Key: key})
	if err != nil {
		t.Error(err)
		return
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pid, err := h.Connect(ctx, e.Tasks[0].P2PAddr)
	if err != nil {
		t.Error(err)
		return
	}
	s, err := h.OpenPipeline(ctx, pid)
	if err != nil {
		t.Error(err)
		return
	}
	defer s.Reset()
	if err := s.Send(&p2p.OpenSession{SessionID: node.SessionID(e.ID), ModelID: e.Model, TaskID: 0}); err != nil {
		t.Error(err)
		return
	}
	m, err := s.Recv()
	if pe, ok := m.(*p2p.Error); err != nil || !ok || !strings.Contains(pe.Text, "was requested by") {
		t.Errorf("a stranger's session of execution %d: %v, %v; want an Error naming the requester", e.ID, m, err)
	}
}

// garbagePeer sends a node junk at the TCP level and protocol violations
// over a real p2p stream, then checks that the node process is alive and
// still answers a well-formed (if unauthorised) session with an error.
func garbagePeer(t *testing.T, d *devnetProc) {
	n := d.info.Nodes[0]
	addr := strings.Split(strings.TrimPrefix(n.P2P, "/ip4/"), "/") // IP tcp PORT p2p ID
	conn, err := net.Dial("tcp", net.JoinHostPort(addr[0], addr[2]))
	if err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte("\x00\xffSUPM garbage \x13/multistream/1.0.0\n"), 4096)
	conn.Write(junk)
	conn.Close()

	_, key, _ := ed25519.GenerateKey(nil)
	h, err := p2p.New(context.Background(), p2p.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pid, err := h.Connect(ctx, n.P2P)
	if err != nil {
		t.Fatal(err)
	}
	model, err := contract.ParseHash(d.info.ModelID)
	if err != nil {
		t.Fatal(err)
	}
	for _, first := range []p2p.Message{
		&p2p.Step{SessionID: "exec/1", Index: 7, Positions: []int32{0}},                              // no OpenSession
		&p2p.OpenSession{SessionID: "not-an-execution", ModelID: model, TaskID: n.Tasks[0]},          // bad session id
		&p2p.OpenSession{SessionID: "exec/18446744073709551615", ModelID: model, TaskID: n.Tasks[0]}, // unknown execution
		&p2p.OpenSession{SessionID: "exec/1", ModelID: model, TaskID: 4_000_000_000},                 // no such task
		&p2p.Close{SessionID: "exec/1"},
	} {
		s, err := h.OpenPipeline(ctx, pid)
		if err != nil {
			t.Fatalf("node stopped accepting streams: %v", err)
		}
		if err := s.Send(first); err != nil {
			t.Fatalf("send %v: %v", first.Type(), err)
		}
		m, err := s.Recv()
		if e, ok := m.(*p2p.Error); err == nil && !ok {
			t.Errorf("%v as first message: got %v, want an Error", first.Type(), m.Type())
		} else if ok {
			t.Logf("%v: node answered %v", first.Type(), e)
		}
		s.Reset()
	}
	if err := syscall.Kill(n.PID, 0); err != nil {
		t.Fatalf("%s died after the garbage: %v", n.ID, err)
	}
	if got := complete(t, d.info.Gateway, d.info.Model, "Once upon a time", 20, false, nil); !strings.HasPrefix(got, ", there was") {
		t.Fatalf("completion after the garbage: %q", got)
	}
}

// With no --model the devnet writes and serves a synthetic model that it
// labels as such; a second devnet in the same --state-dir is refused with
// advice.
func TestDevnetSynthetic(t *testing.T) {
	d := startDevnet(t, "--nodes", "3")
	if !strings.Contains(d.out.String(), "SYNTHETIC") {
		t.Errorf("output does not say the model is synthetic:\n%s", d.out.String())
	}
	resp, err := http.Get(d.info.Gateway + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list wire.ModelList
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Data) != 1 || !strings.Contains(list.Data[0].OwnedBy, "synthetic") {
		t.Errorf("/v1/models does not label the synthetic model: %+v", list)
	}
	tasks := map[uint32]bool{}
	for _, n := range d.info.Nodes {
		for _, task := range n.Tasks {
			tasks[task] = true
		}
	}
	if len(tasks) < 2 {
		t.Errorf("the synthetic model has %d task(s); want ≥ 2", len(tasks))
	}
	a := complete(t, d.info.Gateway, d.info.Model, "hi", 16, false, nil)
	b := complete(t, d.info.Gateway, d.info.Model, "hi", 16, true, nil)
	if a != b {
		t.Errorf("streamed %q, non-streamed %q", b, a)
	}
	d.interrupt(t)

	var out bytes.Buffer
	again := exec.Command(filepath.Join(binDir, "splitup"), "devnet", "--state-dir", d.dir, "--port", "0")
	again.Stdout, again.Stderr = &out, &out
	err = again.Run()
	if err == nil || !strings.Contains(out.String(), "splitup: error:") || !strings.Contains(out.String(), "previous devnet") {
		t.Errorf("second devnet in %s: %v\n%s", d.dir, err, out.String())
	}
}

func TestLayoutTasks(t *testing.T) {
	for _, c := range []struct{ nodes, tasks int }{{4, 2}, {4, 3}, {4, 6}, {3, 3}, {5, 2}, {8, 11}, {4, 1}, {9, 4}, {1, 3}} {
		l := layoutTasks(c.nodes, c.tasks)
		held := map[uint32]int{}
		for i, ts := range l {
			if len(ts) == 0 {
				t.Errorf("%d nodes, %d tasks: node %d has no task", c.nodes, c.tasks, i)
			}
			seen := map[uint32]bool{}
			for _, task := range ts {
				if seen[task] {
					t.Errorf("%d nodes, %d tasks: node %d holds task %d twice", c.nodes, c.tasks, i, task)
				}
				seen[task] = true
				held[task]++
			}
		}
		for task := 0; task < c.tasks; task++ {
			if h := held[uint32(task)]; h < min(2, c.nodes) {
				t.Errorf("%d nodes, %d tasks: task %d held by %d node(s)", c.nodes, c.tasks, task, h)
			}
		}
		if c.tasks >= 2 && c.nodes >= 3 && holdsAll(l, c.tasks) {
			t.Errorf("%d nodes, %d tasks: a node holds every task: %v", c.nodes, c.tasks, l)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"6MiB": 6 << 20, "5.3MiB": 5557452, "4096": 4096, "1.5GB": 1_500_000_000, "2 kib": 2048} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1.2.3MiB", "-1", "0", "5 parsecs", ".5MiB"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
		}
	}
}

// TestParseDevnetFaults: --fault names misbehaving nodes by index, one
// spec each, and refuses what splitup-node would not take.
func TestParseDevnetFaults(t *testing.T) {
	f, err := parseDevnet([]string{"--nodes", "5", "--fault", "4:wrong-output=1.0,deaf;1:deaf"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.faults) != 2 || f.faults[4] != "wrong-output=1.0,deaf" || f.faults[1] != "deaf" {
		t.Fatalf("faults %v", f.faults)
	}
	for _, bad := range []struct{ spec, why string }{
		{"1:deaf;1:withhold", "node 1 named twice"},
		{"5:deaf", "node index I below --nodes"},
		{"1:loud", `unknown fault "loud"`},
		{"deaf", "want I:SPEC"},
	} {
		_, err := parseDevnet([]string{"--nodes", "5", "--fault", bad.spec}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), bad.why) {
			t.Errorf("--fault %q: %v, want an error saying %q", bad.spec, err, bad.why)
		}
	}
}
