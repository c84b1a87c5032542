package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// nodeBinary is the worker command devnet runs, one OS process per node.
const nodeBinary = "splitup-node"

// findNodeBinary returns explicit if set, else splitup-node next to this
// executable, else splitup-node on $PATH.
func findNodeBinary(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", usagef("--node-bin: %v", err)
		}
		return explicit, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), nodeBinary)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(nodeBinary); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("devnet runs its nodes with %s, found neither next to this executable nor on $PATH: build it with 'go build -o DIR ./cmd/splitup ./cmd/splitup-node' (same DIR) or pass --node-bin PATH", nodeBinary)
}

// layoutTasks decides which of n nodes specialise in which of tasks tasks.
// Every node gets at least one task and every task at least two nodes
// (when n ≥ 2), so that a failed node has a replacement. With n ≥ 2·tasks,
// node i holds task i mod tasks; otherwise each task goes to the two least
// loaded nodes so far (ties to the lower index). Either way no node holds
// every task when tasks ≥ 2 and n ≥ 4 (or n = 3 and tasks ≥ 3).
func layoutTasks(n, tasks int) [][]uint32 {
	out := make([][]uint32, n)
	if n >= 2*tasks {
		for i := range out {
			out[i] = []uint32{uint32(i % tasks)}
		}
		return out
	}
	replicas := min(2, n)
	for t := 0; t < tasks; t++ {
		taken := map[int]bool{}
		for r := 0; r < replicas; r++ {
			best := -1
			for i := 0; i < n; i++ {
				if !taken[i] && (best < 0 || len(out[i]) < len(out[best])) {
					best = i
				}
			}
			taken[best] = true
			out[best] = append(out[best], uint32(t))
		}
	}
	return out
}

// holdsAll reports whether some node holds every task.
func holdsAll(layout [][]uint32, tasks int) bool {
	for _, l := range layout {
		if len(l) == tasks {
			return true
		}
	}
	return false
}

// freeTCPPorts returns n distinct loopback ports that were free a moment
// ago (all bound at once, then released).
func freeTCPPorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// devnetNode is one worker node of the devnet.
type devnetNode struct {
	name    string
	home    string
	listen  string
	tasks   []uint32
	vram    uint64
	address contract.Address
	p2p     string // registered address, with /p2p/ID
	fault   string // --fault spec passed to the node (tests only)

	cmd   *exec.Cmd
	ready chan struct{} // closed when the daemon logs that it is ready
	done  chan struct{} // closed when the process has exited
	err   error         // the exit status, set before done closes
}

// runNodeCmd runs a one-shot splitup-node subcommand and returns its output.
func runNodeCmd(ctx context.Context, bin string, args ...string) (string, error) {
	var out, errb bytes.Buffer
	c := exec.CommandContext(ctx, bin, args...)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", nodeBinary, args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// initNode creates the node's home and key with 'splitup-node init'.
func (n *devnetNode) init(ctx context.Context, bin string) error {
	if _, err := runNodeCmd(ctx, bin, "init", "--home", n.home); err != nil {
		return err
	}
	key, err := chain.ReadKeyFile(filepath.Join(n.home, "node.key"))
	if err != nil {
		return err
	}
	n.address = chain.AddressOf(key)
	return nil
}

// register registers, stakes and specialises the node through its CLI.
func (n *devnetNode) register(ctx context.Context, bin, rpc string, model contract.Hash) error {
	if _, err := runNodeCmd(ctx, bin, "register", "--home", n.home, "--rpc", rpc,
		"--vram", strconv.FormatUint(n.vram, 10), "--listen", n.listen); err != nil {
		return err
	}
	tasks := make([]string, len(n.tasks))
	for i, t := range n.tasks {
		tasks[i] = strconv.Itoa(int(t))
	}
	_, err := runNodeCmd(ctx, bin, "specialize", "--home", n.home, "--rpc", rpc,
		"--model", model.String(), "--tasks", strings.Join(tasks, ","))
	return err
}

// start runs 'splitup-node start' as a child process; its log lines go to
// logw prefixed with the node's name.
func (n *devnetNode) start(bin, rpc string, peers []string, threads int, logw *syncWriter) error {
	args := []string{"start", "--home", n.home, "--rpc", rpc, "--listen", n.listen, "--threads", strconv.Itoa(threads)}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	if n.fault != "" {
		args = append(args, "--fault", n.fault)
	}
	n.cmd = exec.Command(bin, args...)
	n.cmd.SysProcAttr = nodeProcAttr()
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	n.cmd.Stdout, n.cmd.Stderr = w, w
	n.ready, n.done = make(chan struct{}), make(chan struct{})
	err = n.cmd.Start()
	w.Close() // the child holds its own copy
	if err != nil {
		r.Close()
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	go func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		isReady := false
		for sc.Scan() {
			line := sc.Text()
			logw.line(n.name, line)
			if !isReady && strings.Contains(line, `msg="node ready"`) {
				isReady = true
				close(n.ready)
			}
		}
		io.Copy(io.Discard, r)
		n.err = n.cmd.Wait()
		logw.line(n.name, fmt.Sprintf("process exited (%v)", exitText(n.err)))
		close(n.done)
	}()
	return nil
}

// exitText describes a process exit status.
func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// stop sends SIGTERM and waits for the exit, then SIGKILL after grace.
func (n *devnetNode) stop(grace time.Duration) {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(grace):
		_ = n.cmd.Process.Kill()
		<-n.done
	}
}

// syncWriter serialises log lines of several children onto one writer.
type syncWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (s *syncWriter) line(prefix, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, "%-6s| %s\n", prefix, text)
}

// waitNodes waits until every node has logged that it is ready and the
// chain lists it online, or a node exits, or ctx ends.
func waitNodes(ctx context.Context, c chain.Client, nodes []*devnetNode) error {
	for _, n := range nodes {
		select {
		case <-n.ready:
		case <-n.done:
			return fmt.Errorf("%s exited before it was ready (%v); see its log lines above", n.name, n.err)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to load its tasks: %w", n.name, ctx.Err())
		}
	}
	for {
		var infos []contract.NodeInfo
		if err := queryInto(ctx, c, "nodes", &infos); err != nil {
			return err
		}
		online := map[contract.Address]bool{}
		for _, i := range infos {
			online[i.Address] = i.Eligible
		}
		all := true
		for _, n := range nodes {
			all = all && online[n.address]
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("nodes did not come online on chain in time")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// eachNode runs fn for every node concurrently and joins the errors.
func eachNode(nodes []*devnetNode, fn func(*devnetNode) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
