package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/deploy"
	"github.com/splitup/splitup/gateway"
	"github.com/splitup/splitup/internal/cli"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/node"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/partition"
)

// DevnetFile is the description devnet writes into its state directory
// once everything runs.
const DevnetFile = "devnet.json"

// defaultTargetVRAM is the devnet's task budget when --target-vram is not
// given; the built-in synthetic model needs two tasks at it.
const defaultTargetVRAM = "6MiB"

// synthArgs shape the built-in synthetic model (seeded random weights).
var synthArgs = []string{"--dim", "128", "--hidden", "384", "--layers", "4", "--heads", "4", "--vocab", "512", "--context", "256", "--seed", "1"}

type devnetFlags struct {
	nodes            int
	model, tokenizer string
	targetVRAM       int64
	stateDir         string
	port             int
	threads          int
	nodeBin          string
	faults           map[int]string // fault spec by node index, from --fault (tests of Proof of Sampling only)
}

func parseDevnet(args []string, stderr io.Writer) (*devnetFlags, error) {
	fs := flag.NewFlagSet("devnet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &devnetFlags{}
	var vram string
	fs.IntVar(&f.nodes, "nodes", 4, "worker node processes (each task is served by two of them)")
	fs.StringVar(&f.model, "model", "", "model file, GGUF or llama2.c (default: a built-in synthetic model with seeded random weights)")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "llama2.c tokenizer.bin (default: the model's embedded tokenizer)")
	fs.StringVar(&vram, "target-vram", defaultTargetVRAM, "memory budget of one task, e.g. 6MiB, 5.3MiB, 12GiB")
	fs.StringVar(&f.stateDir, "state-dir", "", "directory for the chain, keys, shards and devnet.json; must not hold a previous devnet (default: a new temporary directory, removed on exit)")
	fs.IntVar(&f.port, "port", 8080, "gateway HTTP port on 127.0.0.1 (0 picks a free one)")
	fs.IntVar(&f.threads, "threads", 1, "compute threads per node process")
	fs.StringVar(&f.nodeBin, "node-bin", "", "splitup-node executable (default: next to this executable, else on $PATH)")
	var fault string
	fs.StringVar(&fault, "fault", "", "TEST ONLY: make nodes misbehave, I:SPEC[;I:SPEC…], e.g. 4:wrong-output=1.0 or 2:withhold;3:deaf (see splitup-node start --fault)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: splitup devnet [--nodes N] [--model PATH [--tokenizer PATH]] [--target-vram SIZE] [--state-dir DIR] [--port P] [--threads N]")
		fmt.Fprintln(stderr, "runs a local network until Ctrl-C: a 1-validator chain, the model deployed, N 'splitup-node start' processes and an OpenAI-compatible gateway")
		fs.PrintDefaults()
	}
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	var err error
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	case f.nodes < 1 || f.nodes > 64:
		return nil, usagef("--nodes must be between 1 and 64, got %d", f.nodes)
	case f.port < 0 || f.port > 65535:
		return nil, usagef("--port %d is not a TCP port", f.port)
	case f.threads < 1:
		return nil, usagef("--threads must be at least 1, got %d", f.threads)
	case f.tokenizer != "" && f.model == "":
		return nil, usagef("--tokenizer needs --model")
	}
	if f.targetVRAM, err = parseByteSize(vram); err != nil {
		return nil, usagef("--target-vram: %v", err)
	}
	f.faults = map[int]string{}
	for part := range strings.SplitSeq(fault, ";") {
		if part == "" {
			continue
		}
		i, spec, ok := strings.Cut(part, ":")
		n, err := strconv.Atoi(i)
		if !ok || err != nil || n < 0 || n >= f.nodes {
			return nil, usagef("--fault %q: want I:SPEC with a node index I below --nodes, e.g. 4:wrong-output=1.0", part)
		}
		if _, dup := f.faults[n]; dup {
			return nil, usagef("--fault: node %d named twice; put its faults in one SPEC, e.g. %d:wrong-output=1.0,deaf", n, n)
		}
		if _, err := node.ParseFault(spec, 0); err != nil {
			return nil, usagef("--fault: %v", err)
		}
		f.faults[n] = spec
	}
	return f, nil
}

// parseByteSize reads a positive byte count such as "6MiB", "5.3MiB", "1.5GB" or "4096".
func parseByteSize(s string) (int64, error) {
	n, err := cli.ParseSize(s)
	if err == nil && n <= 0 {
		err = fmt.Errorf("size %q must be more than 0 bytes", s)
	}
	return n, err
}

// devnetInfo is the content of devnet.json.
type devnetInfo struct {
	Gateway string          `json:"gateway"`
	Model   string          `json:"model"`
	ModelID string          `json:"model_id"`
	RPC     string          `json:"rpc"`
	Nodes   []devnetNodeRec `json:"nodes"`
}

// devnetNodeRec describes one node process in devnet.json.
type devnetNodeRec struct {
	ID      string   `json:"id"`
	PID     int      `json:"pid"`
	Address string   `json:"address"`
	P2P     string   `json:"p2p"`
	Tasks   []uint32 `json:"tasks"`
}

// devnet is one running local network; its fields are set in order by run.
type devnet struct {
	f              *devnetFlags
	dir            string
	stdout, stderr io.Writer
	logw           *syncWriter

	model     *models.Model
	synthetic bool
	dep       *deploy.Deployment
	chainNode *chain.Node
	chainLog  *os.File
	rpc       string
	client    *chain.RPCClient
	faucet    ed25519.PrivateKey
	host      *p2p.Host
	nodes     []*devnetNode
}

// runDevnet runs the whole network on this machine until ctx ends:
//
//  1. Load --model (or write the built-in synthetic model with runSynth)
//     and plan it with deploy.Prepare at --target-vram.
//  2. Create N node homes and keys with 'splitup-node init', and lay the
//     tasks out so that every task has two nodes and no node has all.
//  3. Initialise and start a 1-validator chain in process (0.2 s blocks,
//     1 s heartbeats) and fund the node accounts from its faucet.
//  4. Publish the shards, serve them from this process's p2p host, and
//     register the model (deploy.Publish, deploy.Register).
//  5. Register, stake and specialise each node with 'splitup-node register'
//     and 'splitup-node specialize', then run 'splitup-node start' for each
//     as a child process and wait until all have loaded their shards and
//     are online on chain.
//  6. Serve the OpenAI-compatible gateway, whose engine opens one chain
//     execution and one pipeline session per request, and write
//     devnet.json.
//  7. On Ctrl-C: stop the gateway, SIGTERM the nodes and wait for them,
//     close the p2p host, stop the chain.
//
// The node processes run the splitup-node executable found next to this
// one (go build -o DIR ./cmd/splitup ./cmd/splitup-node), else on $PATH,
// unless --node-bin names it.
func runDevnet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseDevnet(args, stderr)
	if err != nil {
		return err
	}
	bin, err := findNodeBinary(f.nodeBin)
	if err != nil {
		return err
	}
	dir, cleanup, err := devnetDir(f.stateDir)
	if err != nil {
		return err
	}
	defer cleanup()
	d := &devnet{f: f, dir: dir, stdout: stdout, stderr: stderr, logw: &syncWriter{w: stderr}}
	defer d.stop()
	fmt.Fprintf(stdout, "devnet state in %s\n", dir)
	if err := d.setUp(ctx, bin); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while starting: %w", err)
		}
		return err
	}
	return d.serve(ctx)
}

// devnetDir returns the state directory (a new temporary one when dir is
// empty, removed by cleanup) after checking it holds no earlier devnet.
func devnetDir(dir string) (string, func(), error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "splitup-devnet-")
		if err != nil {
			return "", nil, err
		}
		return tmp, func() { os.RemoveAll(tmp) }, nil
	}
	for _, name := range []string{DevnetFile, "chain", "nodes"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return "", nil, fmt.Errorf("%s holds a previous devnet (%s exists); remove it (rm -r %s) or pass another --state-dir", dir, name, dir)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("create --state-dir: %w", err)
	}
	return dir, func() {}, nil
}

// setUp brings the network up: model, chain, deployment, nodes.
func (d *devnet) setUp(ctx context.Context, bin string) error {
	if err := d.loadModel(ctx); err != nil {
		return err
	}
	layout := layoutTasks(d.f.nodes, len(d.dep.Tasks))
	switch {
	case d.f.nodes == 1:
		fmt.Fprintln(d.stderr, "splitup: note: with one node no task has a replacement; use --nodes 4 to see failover")
	case holdsAll(layout, len(d.dep.Tasks)):
		fmt.Fprintf(d.stderr, "splitup: note: with %d nodes and %d task(s) some node holds every task, so one node may run a whole session (use more nodes or a smaller --target-vram)\n", d.f.nodes, len(d.dep.Tasks))
	}
	if err := d.makeNodes(ctx, bin, layout); err != nil {
		return err
	}
	if err := d.startChain(ctx); err != nil {
		return err
	}
	if err := d.fundNodes(ctx); err != nil {
		return err
	}
	if err := d.deploy(ctx); err != nil {
		return err
	}
	return d.startNodes(ctx, bin)
}

// loadModel loads --model (or writes the synthetic one) and plans it.
func (d *devnet) loadModel(ctx context.Context) error {
	path := d.f.model
	if path == "" {
		path = filepath.Join(d.dir, "synthetic.gguf")
		d.synthetic = true
		fmt.Fprintln(d.stdout, "no --model: using a built-in SYNTHETIC model with seeded random weights (not trained; its text is gibberish)")
		if err := runSynth(ctx, append([]string{"--out", path, "--threads", "1"}, synthArgs...), io.Discard, io.Discard); err != nil {
			return fmt.Errorf("write the synthetic model: %w", err)
		}
	}
	m, tok, err := loadModelAndTokenizer(path, d.f.tokenizer)
	if err != nil {
		return err
	}
	m.Tokenizer = tok
	d.model = m
	d.synthetic = d.synthetic || m.Synthetic
	d.dep, err = deploy.Prepare(m, d.f.targetVRAM, partition.CostModel{})
	if err != nil {
		return fmt.Errorf("%w (try another --target-vram)", err)
	}
	fmt.Fprintf(d.stdout, "model %q: %d task(s) of at most %d bytes, id %s\n", d.dep.Msg.Name, len(d.dep.Tasks), d.f.targetVRAM, d.dep.ID)
	return nil
}

// taskVRAM is the VRAM the node's tasks need together.
func (d *devnetNode) taskVRAM(dep *deploy.Deployment) uint64 {
	var v uint64
	for _, t := range d.tasks {
		v += dep.Msg.Tasks[t].VRAMBytes
	}
	return max(v, 1)
}

// makeNodes creates each node's home and key (splitup-node init).
func (d *devnet) makeNodes(ctx context.Context, bin string, layout [][]uint32) error {
	for i, tasks := range layout {
		n := &devnetNode{name: "node" + strconv.Itoa(i), home: filepath.Join(d.dir, "nodes", "node"+strconv.Itoa(i)), tasks: tasks}
		n.vram = n.taskVRAM(d.dep)
		d.nodes = append(d.nodes, n)
	}
	return eachNode(d.nodes, func(n *devnetNode) error { return n.init(ctx, bin) })
}

// startChain initialises and starts the 1-validator chain.
func (d *devnet) startChain(ctx context.Context) error {
	params := contract.DefaultParams()
	params.HeartbeatNanos = int64(time.Second)
	params.ChallengeNanos = int64(10 * time.Second) // a devnet settles quickly
	nc := chain.DefaultNodeConfig()
	nc.LogLevel = "*:error"
	nw, err := chain.InitNetwork(chain.NetworkOptions{
		Dir: filepath.Join(d.dir, "chain"), Validators: 1, ChainID: "splitup-devnet",
		FaucetBalance: 1_000_000_000 * contract.Token, Params: &params, Node: nc,
	})
	if err != nil {
		return fmt.Errorf("chain init: %w", err)
	}
	if d.faucet, err = chain.ReadKeyFile(filepath.Join(d.dir, "chain", nw.Faucet)); err != nil {
		return err
	}
	if d.chainLog, err = os.Create(filepath.Join(d.dir, "chain.log")); err != nil {
		return err
	}
	if d.chainNode, err = chain.StartNode(filepath.Join(d.dir, "chain", nw.Validators[0].Home), d.chainLog); err != nil {
		return err
	}
	d.rpc = d.chainNode.RPC()
	if d.client, err = chain.Dial(d.rpc); err != nil {
		return err
	}
	for {
		if st, err := d.client.Status(ctx); err == nil && st.Height >= 1 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	fmt.Fprintf(d.stdout, "chain %s running, rpc %s (log %s)\n", nw.ChainID, d.rpc, filepath.Join(d.dir, "chain.log"))
	return nil
}

// nodeFunds is what the faucet sends each node: its stake and fees.
const nodeFunds = 10_000 * contract.Token

// fundNodes sends each node account nodeFunds from the faucet; the
// transfers are in flight together.
func (d *devnet) fundNodes(ctx context.Context) error {
	s, err := chain.NewSigner(ctx, d.client, d.faucet)
	if err != nil {
		return err
	}
	return eachNode(d.nodes, func(n *devnetNode) error {
		if _, err := s.Send(ctx, &contract.Transfer{To: n.address, Amount: nodeFunds}); err != nil {
			return fmt.Errorf("fund %s from the faucet: %w", n.name, err)
		}
		return nil
	})
}

// deploy publishes the shards, serves them over p2p and registers the model.
func (d *devnet) deploy(ctx context.Context) error {
	store, err := p2p.OpenBlobStore(filepath.Join(d.dir, "blobs"))
	if err != nil {
		return err
	}
	if err := deploy.Publish(store, d.dep); err != nil {
		return err
	}
	if d.host, err = p2p.New(ctx, p2p.Config{Key: d.faucet}); err != nil {
		return err
	}
	d.host.ServeBlobs(store)
	if _, err := deploy.Register(ctx, d.client, d.faucet, "", d.dep); err != nil {
		return err
	}
	fmt.Fprintf(d.stdout, "deployed model %s; shards served on %s\n", d.dep.ID, d.host.Addrs()[0])
	return nil
}

// startNodes registers and specialises the nodes, starts their processes
// and waits until they have loaded their tasks and are online.
func (d *devnet) startNodes(ctx context.Context, bin string) error {
	// The p2p ports are picked only now, with the chain's and the shard
	// server's ports taken, so that none of those can land on a node's.
	ports, err := freeTCPPorts(len(d.nodes))
	if err != nil {
		return err
	}
	for i, n := range d.nodes {
		n.listen = "/ip4/127.0.0.1/tcp/" + strconv.Itoa(ports[i])
	}
	if err := eachNode(d.nodes, func(n *devnetNode) error { return n.register(ctx, bin, d.rpc, d.dep.ID) }); err != nil {
		return err
	}
	for i, n := range d.nodes {
		var info contract.NodeInfo
		if err := queryInto(ctx, d.client, "node/"+n.address.String(), &info); err != nil {
			return err
		}
		n.p2p = info.P2PAddr
		if spec, ok := d.f.faults[i]; ok {
			n.fault = spec
			fmt.Fprintf(d.stdout, "%s misbehaves on purpose (TEST ONLY): --fault %s\n", n.name, n.fault)
		}
		if err := n.start(bin, d.rpc, d.host.Addrs(), d.f.threads, d.logw); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := waitNodes(wctx, d.client, d.nodes); err != nil {
		return err
	}
	for _, n := range d.nodes {
		fmt.Fprintf(d.stdout, "%s pid %d tasks %v online at %s\n", n.name, n.cmd.Process.Pid, n.tasks, n.p2p)
	}
	return nil
}

// serve runs the gateway until ctx ends.
func (d *devnet) serve(ctx context.Context) error {
	signer, err := chain.NewSigner(ctx, d.client, d.faucet)
	if err != nil {
		return err
	}
	eng, err := newChainEngine(ctx, d.client, signer, d.host, d.dep.ID, d.model.Config.Context, d.model.Config.Vocab)
	if err != nil {
		return err
	}
	owner := "splitup-devnet"
	if d.synthetic {
		owner = "splitup-devnet (synthetic model: seeded random weights, not trained)"
	}
	tok := d.model.Tokenizer
	svc, err := gateway.NewService(gateway.Config{Models: []gateway.Model{{
		ID: d.dep.Msg.Name, OwnedBy: owner, Created: time.Now().Unix(), Engine: eng, Tokenizer: tok,
		BOS: tok.BOS(), EOS: tok.EOS(), ContextLength: d.model.Config.Context,
	}}})
	if err != nil {
		return err
	}
	srv, err := gateway.NewServer(svc, gateway.ServerConfig{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(d.f.port))
	if err != nil {
		return fmt.Errorf("gateway: %w (pass another --port, or --port 0 for a free one)", err)
	}
	url := "http://" + ln.Addr().String()
	if err := d.writeInfo(url); err != nil {
		ln.Close()
		return err
	}
	fmt.Fprintf(d.stdout, "gateway %s (OpenAI-compatible: %s/v1/completions, model %q)\n", url, url, d.dep.Msg.Name)
	fmt.Fprintln(d.stdout, "devnet ready; Ctrl-C stops it")
	err = srv.Serve(ctx, ln)
	fmt.Fprintln(d.stdout, "stopping devnet")
	return err
}

// writeInfo writes devnet.json.
func (d *devnet) writeInfo(url string) error {
	info := devnetInfo{Gateway: url, Model: d.dep.Msg.Name, ModelID: d.dep.ID.String(), RPC: d.rpc}
	for _, n := range d.nodes {
		info.Nodes = append(info.Nodes, devnetNodeRec{ID: n.name, PID: n.cmd.Process.Pid, Address: n.address.String(), P2P: n.p2p, Tasks: n.tasks})
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(d.dir, DevnetFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(d.dir, DevnetFile))
}

// stop ends the node processes (SIGTERM, then wait), the p2p host and the
// chain, in that order.
func (d *devnet) stop() {
	eachNode(d.nodes, func(n *devnetNode) error { n.stop(10 * time.Second); return nil })
	if d.host != nil {
		d.host.Close()
	}
	if d.client != nil {
		d.client.Close()
	}
	if d.chainNode != nil {
		if err := d.chainNode.Stop(); err != nil {
			fmt.Fprintf(d.stderr, "splitup: stop chain: %v\n", err)
		}
	}
	if d.chainLog != nil {
		d.chainLog.Close()
	}
	fmt.Fprintln(d.stdout, "devnet stopped")
}
