package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/deploy"
	"github.com/splitup/splitup/internal/cli"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/tokenizer"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/partition"
)

// defaultRPC is the RPC address of a local validator (chain.DefaultNodeConfig).
const defaultRPC = "http://127.0.0.1:26657"

// rpcDefault is $SPLITUP_RPC if set (as for splitup and splitup-node),
// else defaultRPC.
func rpcDefault() string {
	if v := os.Getenv("SPLITUP_RPC"); v != "" {
		return v
	}
	return defaultRPC
}

type registerFlags struct {
	model, tokenizer, name   string
	targetVRAM, overhead     string
	context, chunk           int
	merge                    bool
	key, rpc, chainID, store string
	listen                   string
	serve                    bool
	timeout                  time.Duration
}

func parseRegister(args []string, stderr io.Writer) (*registerFlags, error) {
	fs := flag.NewFlagSet("register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &registerFlags{}
	fs.StringVar(&f.model, "model", "", "model file: GGUF or llama2.c checkpoint (required)")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "llama2.c tokenizer.bin to publish with the model (default: the model's embedded tokenizer)")
	fs.StringVar(&f.name, "name", "", "model name on chain (default: the model's own name, else its file name)")
	fs.StringVar(&f.targetVRAM, "target-vram", "", "memory of one task, e.g. 12GiB, 300KiB, 1.5GB or bytes (required)")
	fs.IntVar(&f.context, "context", 0, "KV-cache length in tokens (default: the model's)")
	fs.IntVar(&f.chunk, "chunk", partition.DefaultChunk, "prefill chunk in tokens that activations are sized for")
	fs.StringVar(&f.overhead, "overhead", "0", "runtime memory per task besides tensors, e.g. 512MiB")
	fs.BoolVar(&f.merge, "merge-branches", false, "let a task hold parts of independent branches (fewer tasks, less parallelism)")
	fs.StringVar(&f.key, "key", "", "account key file that signs and pays for the registration; also the p2p identity (required)")
	fs.StringVar(&f.rpc, "rpc", rpcDefault(), "RPC address of a validator; $SPLITUP_RPC overrides the default")
	fs.StringVar(&f.chainID, "chain-id", "", "chain id to sign for (default: read from the chain)")
	fs.StringVar(&f.store, "store", "", "blob store directory for the shards (default: $HOME/.splitup/blobs)")
	fs.StringVar(&f.listen, "listen", p2p.DefaultListenAddr, "p2p listen multiaddr for serving shards, e.g. /ip4/0.0.0.0/tcp/4001")
	fs.BoolVar(&f.serve, "serve", false, "keep serving the shards over p2p until interrupted")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "how long to wait for the chain to include the registration")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: splitup-deploy register --model PATH [--tokenizer PATH] --target-vram SIZE [--context N] [--chunk N] [--overhead SIZE] --key FILE [--rpc URL] [--store DIR] [--listen MULTIADDR] [--serve]")
		fs.PrintDefaults()
	}
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	listenSet := false
	fs.Visit(func(fl *flag.Flag) { listenSet = listenSet || fl.Name == "listen" })
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	case listenSet && !f.serve:
		return nil, usagef("--listen applies only with --serve (serve the shards until interrupted)")
	case f.model == "":
		return nil, usagef("--model is required: a GGUF file or a llama2.c checkpoint")
	case f.targetVRAM == "":
		return nil, usagef("--target-vram is required, e.g. --target-vram 12GiB")
	case f.key == "":
		return nil, usagef("--key is required: the account key file that pays for the registration (make one with 'splitup tx keygen --out FILE')")
	case f.context < 0:
		return nil, usagef("--context must be a positive number of tokens, got %d", f.context)
	case f.chunk <= 0:
		return nil, usagef("--chunk must be a positive number of tokens, got %d", f.chunk)
	case f.timeout <= 0:
		return nil, usagef("--timeout must be positive, e.g. --timeout 1m")
	}
	return f, nil
}

// partitionConfig turns the planning flags into a partition.Config.
func (f *registerFlags) partitionConfig() (partition.Config, error) {
	budget, err := parseSize(f.targetVRAM)
	if err != nil {
		return partition.Config{}, usagef("--target-vram: %v", err)
	}
	overhead, err := parseSize(f.overhead)
	if err != nil {
		return partition.Config{}, usagef("--overhead: %v", err)
	}
	cfg := partition.Config{Budget: budget, Cost: partition.CostModel{Context: f.context, Chunk: f.chunk, TaskOverhead: overhead}, MergeBranches: f.merge}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v: raise --target-vram or lower --overhead", err)
	}
	return cfg, nil
}

// storeDir returns --store or the default under the home directory.
func (f *registerFlags) storeDir() (string, error) {
	if f.store != "" {
		return f.store, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", usagef("no home directory (%v): give --store DIR", err)
	}
	return filepath.Join(home, ".splitup", "blobs"), nil
}

func runRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseRegister(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := f.partitionConfig()
	if err != nil {
		return err
	}
	dir, err := f.storeDir()
	if err != nil {
		return err
	}
	key, err := readKey(f.key)
	if err != nil {
		return err
	}
	m, err := loadForDeploy(f, stderr)
	if err != nil {
		return err
	}
	d, err := deploy.PrepareConfig(m, cfg)
	if err != nil {
		return err
	}
	printDeployment(stdout, m, d)
	store, err := p2p.OpenBlobStore(dir)
	if err != nil {
		return fmt.Errorf("%w (choose another --store)", err)
	}
	if err := deploy.Publish(store, d); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %d blobs (shards and card) in %s\n", len(d.Blobs()), dir)
	var host *p2p.Host
	if f.serve {
		if host, err = serveStore(ctx, key, f.listen, store); err != nil {
			return err
		}
		defer host.Close()
		for _, a := range host.Addrs() {
			fmt.Fprintf(stdout, "serving shards on %s\n", a)
		}
	}
	if err := registerModel(ctx, f, key, d, stdout); err != nil {
		return err
	}
	if host == nil {
		fmt.Fprintf(stdout, "not serving: run again with --serve (and --listen) to let nodes fetch the shards from this machine\n")
		return nil
	}
	fmt.Fprintln(stdout, "serving until interrupted (Ctrl-C)")
	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping")
	if err := host.Close(); err != nil {
		return err
	}
	return nil
}

// readKey reads the account key file.
func readKey(path string) (ed25519.PrivateKey, error) {
	key, err := chain.ReadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (make a key with 'splitup tx keygen --out %s' and fund it)", err, path)
	}
	return key, err
}

// loadForDeploy loads the model, attaches --tokenizer and applies --name.
func loadForDeploy(f *registerFlags, stderr io.Writer) (*models.Model, error) {
	m, err := models.Load(f.model)
	if err != nil {
		return nil, fmt.Errorf("%w (want a GGUF file or a llama2.c checkpoint)", err)
	}
	if f.tokenizer != "" {
		tok, err := tokenizer.LoadLlama2C(f.tokenizer)
		if err != nil {
			return nil, err
		}
		if err := m.CheckTokenizer(tok); err != nil {
			return nil, err
		}
		m.Tokenizer = tok
	}
	if m.Tokenizer == nil {
		fmt.Fprintf(stderr, "note: %s has no embedded tokenizer and no --tokenizer was given; the model card carries none\n", f.model)
	}
	if m.Synthetic {
		fmt.Fprintln(stderr, "note: this model has random weights (splitup synth); its text is noise")
	}
	if f.context > m.Config.Context {
		fmt.Fprintf(stderr, "note: --context %d is longer than the model's own context of %d tokens\n", f.context, m.Config.Context)
	}
	if f.name != "" {
		m.Name = f.name
	}
	return m, nil
}

// printDeployment writes the plan summary and the task table.
func printDeployment(w io.Writer, m *models.Model, d *deploy.Deployment) {
	p := d.Plan
	tasks := "tasks"
	if len(d.Tasks) == 1 {
		tasks = "task"
	}
	fmt.Fprintf(w, "model %q from %s: %d %s of at most %s (lower bound %d); graph %s\n",
		d.Msg.Name, m.Path, len(d.Tasks), tasks, formatSize(p.Budget), p.LowerBound, d.Msg.GraphHash)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tSTAGE\tVRAM\tSHARD SIZE\tSHARD SHA-256")
	for i, t := range d.Tasks {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", i, p.Tasks[i].Level, formatSize(p.Tasks[i].VRAM), formatSize(t.Size), t.Hash)
	}
	tw.Flush()
	tok := "no tokenizer"
	if m.Tokenizer != nil {
		tok = fmt.Sprintf("tokenizer of %d tokens", m.Tokenizer.VocabSize())
	}
	fmt.Fprintf(w, "model card %s (%s)\n", d.CardHash, tok)
}

// serveStore starts a p2p host with the account key that serves store.
func serveStore(ctx context.Context, key ed25519.PrivateKey, listen string, store *p2p.BlobStore) (*p2p.Host, error) {
	h, err := p2p.New(ctx, p2p.Config{Key: key, ListenAddrs: []string{listen}})
	if err != nil {
		return nil, fmt.Errorf("%w (check --listen: a TCP multiaddr such as /ip4/0.0.0.0/tcp/4001 on a free port)", err)
	}
	h.ServeBlobs(store)
	return h, nil
}

// registerModel sends RegisterModel unless the chain has the model, and
// explains the usual failures.
// It prints "registered model ID" or "model ID is already registered".
func registerModel(ctx context.Context, f *registerFlags, key ed25519.PrivateKey, d *deploy.Deployment, stdout io.Writer) error {
	c, err := chain.Dial(f.rpc)
	if err != nil {
		return usagef("--rpc: %v", err)
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	already, err := deploy.Registered(rctx, c, d.ID)
	if err == nil && already {
		fmt.Fprintf(stdout, "model %s is already registered\n", d.ID)
		return nil
	}
	if err == nil {
		_, err = deploy.Register(rctx, c, key, f.chainID, d)
	}
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "registered model %s\n", d.ID)
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted before the chain confirmed the registration; run the same command again to finish it (it is idempotent): %w", err)
	case errors.Is(err, deploy.ErrRPC) && rctx.Err() != nil:
		return fmt.Errorf("%w\nthe chain did not include the registration within --timeout %v: is the validator at %s producing blocks?", err, f.timeout, f.rpc)
	case errors.Is(err, deploy.ErrRPC):
		return fmt.Errorf("%w\nis the chain running at %s? start it with 'splitup chain start --home DIR' or pass --rpc URL", err, f.rpc)
	case errors.Is(err, deploy.ErrRefused):
		var te *chain.TxError
		if errors.As(err, &te) && te.Code == contract.CodeWrongChainID {
			return fmt.Errorf("%w\ndrop --chain-id or give the chain's own id", err)
		}
	}
	return err
}
