package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/splitup/splitup/internal/cli"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/llama"
	"github.com/splitup/splitup/partition"
)

type planFlags struct {
	model, llamaConfig, dtype string
	targetVRAM, overhead      string
	context, chunk            int
	merge, json               bool
}

func parsePlan(args []string, stderr io.Writer) (*planFlags, error) {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &planFlags{}
	fs.StringVar(&f.model, "model", "", "model file: GGUF or llama2.c checkpoint")
	fs.StringVar(&f.llamaConfig, "llama-config", "", "JSON file with the LLaMA shape: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size")
	fs.StringVar(&f.dtype, "dtype", "", "weight type with --llama-config: f32, f16, q8_0 or q4_0 (default f32)")
	fs.StringVar(&f.targetVRAM, "target-vram", "", "memory of one task, e.g. 12GiB, 300KiB, 1.5GB or bytes (required)")
	fs.IntVar(&f.context, "context", 0, "KV-cache length in tokens (default: the model's)")
	fs.IntVar(&f.chunk, "chunk", partition.DefaultChunk, "prefill chunk in tokens that activations are sized for")
	fs.StringVar(&f.overhead, "overhead", "0", "runtime memory per task besides tensors, e.g. 512MiB")
	fs.BoolVar(&f.merge, "merge-branches", false, "let a task hold parts of independent branches (fewer tasks, less parallelism)")
	fs.BoolVar(&f.json, "json", false, "print the plan as one JSON object")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: splitup-deploy plan (--model PATH | --llama-config FILE.json) [--dtype f32|f16|q8_0|q4_0] --target-vram SIZE [--context N] [--chunk N] [--overhead SIZE] [--merge-branches] [--json]")
		fs.PrintDefaults()
	}
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	case (f.model == "") == (f.llamaConfig == ""):
		return nil, usagef("give exactly one of --model (a model file) or --llama-config (a JSON shape)")
	case f.model != "" && f.dtype != "":
		return nil, usagef("--dtype applies to --llama-config only; a model file has its own weight types")
	case f.targetVRAM == "":
		return nil, usagef("--target-vram is required, e.g. --target-vram 12GiB")
	case f.context < 0:
		return nil, usagef("--context must be a positive number of tokens, got %d", f.context)
	case f.chunk <= 0:
		return nil, usagef("--chunk must be a positive number of tokens, got %d", f.chunk)
	}
	return f, nil
}

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parsePlan(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	g, desc, err := f.graph()
	if err != nil {
		return err
	}
	p, err := partition.Partition(g, cfg)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	if f.json {
		return writeJSON(stdout, p)
	}
	return writeText(stdout, desc, p)
}

// config turns the size flags into a partition.Config.
func (f *planFlags) config() (partition.Config, error) {
	budget, err := parseSize(f.targetVRAM)
	if err != nil {
		return partition.Config{}, usagef("--target-vram: %v", err)
	}
	overhead, err := parseSize(f.overhead)
	if err != nil {
		return partition.Config{}, usagef("--overhead: %v", err)
	}
	cfg := partition.Config{Budget: budget, Cost: partition.CostModel{Chunk: f.chunk, TaskOverhead: overhead}, MergeBranches: f.merge}
	if err := cfg.Validate(); err != nil {
		return cfg, usagef("%v: raise --target-vram or lower --overhead", err)
	}
	return cfg, nil
}

// graph builds the decoding-step graph the flags describe, for the
// context asked for, and a one-line description of it.
func (f *planFlags) graph() (*ir.Graph, string, error) {
	var c llama.Config
	types := llama.WeightTypes(nil)
	src := f.llamaConfig
	if f.model != "" {
		m, err := models.Load(f.model)
		if err != nil {
			return nil, "", fmt.Errorf("%w (want a GGUF file or a llama2.c checkpoint)", err)
		}
		c, src = m.Config, f.model
		types = func(name string) ir.DType {
			if w, ok := m.Weights[name]; ok {
				return w.DType
			}
			return ir.F32
		}
	} else {
		var err error
		if c, err = readLlamaConfig(f.llamaConfig); err != nil {
			return nil, "", err
		}
		dt := ir.F32
		if f.dtype != "" {
			if dt, err = ir.ParseDType(f.dtype); err != nil || dt == ir.I32 || dt == ir.BF16 {
				return nil, "", usagef("--dtype %q: want f32, f16, q8_0 or q4_0", f.dtype)
			}
		}
		types = func(string) ir.DType { return dt }
	}
	c = c.Defaults()
	if f.context > 0 {
		c.Context = f.context
	}
	g, err := llama.Build(c, types)
	if err != nil {
		if errors.Is(err, ir.ErrShape) {
			return nil, "", fmt.Errorf("%s: %w (block-quantised types need widths that are multiples of %d; try --dtype f16)", src, err, ir.QBlock)
		}
		return nil, "", fmt.Errorf("%s: %w", src, err)
	}
	desc := fmt.Sprintf("%s: llama dim %d, hidden %d, %d layers, %d heads (%d kv), vocab %d, context %d",
		src, c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KVHeads, c.Vocab, c.Context)
	return g, desc, nil
}

// readLlamaConfig reads a llama.Config from a JSON file, refusing unknown keys.
func readLlamaConfig(path string) (llama.Config, error) {
	var c llama.Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read --llama-config: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %v (want a JSON object with dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size; optional context_length, rms_eps, rope_theta, tied)", path, err)
	}
	return c, nil
}

// jsonPort, jsonTask, jsonEdge and jsonPlan are the --json output.
type jsonPort struct {
	Name  string   `json:"name"`
	Shape ir.Shape `json:"shape"`
	DType ir.DType `json:"dtype"`
}

type jsonTask struct {
	ID              int        `json:"id"`
	Level           int        `json:"level"`
	VRAMBytes       int64      `json:"vram_bytes"`
	WeightBytes     int64      `json:"weight_bytes"`
	KVBytes         int64      `json:"kv_bytes"`
	ActivationBytes int64      `json:"activation_bytes"`
	ComputeUnits    int64      `json:"compute_units"`
	Ops             int        `json:"ops"`
	GraphHash       string     `json:"graph_hash"`
	Weights         []string   `json:"weights"`
	Inputs          []jsonPort `json:"inputs"`
	Outputs         []jsonPort `json:"outputs"`
}

type jsonEdge struct {
	From          int      `json:"from"`
	To            int      `json:"to"`
	BytesPerToken int64    `json:"bytes_per_token"`
	Names         []string `json:"names"`
}

type jsonPlan struct {
	TargetVRAMBytes int64             `json:"target_vram_bytes"`
	LowerBoundTasks int               `json:"lower_bound_tasks"`
	TotalBytes      int64             `json:"total_bytes"`
	CutBytes        int64             `json:"cut_bytes_per_token"`
	GraphHash       string            `json:"graph_hash"`
	Tasks           []jsonTask        `json:"tasks"`
	Edges           []jsonEdge        `json:"edges"`
	Stages          [][]int           `json:"stages"`
	Shards          []partition.Shard `json:"shards,omitempty"`
}

func ports(ps []partition.Port) []jsonPort {
	out := make([]jsonPort, len(ps))
	for i, p := range ps {
		out[i] = jsonPort{p.Name, append(ir.Shape{}, p.Shape...), p.DType} // [] for scalars, not null
	}
	return out
}

func writeJSON(w io.Writer, p *partition.Plan) error {
	h := p.Graph.Hash()
	out := jsonPlan{TargetVRAMBytes: p.Budget, LowerBoundTasks: p.LowerBound, TotalBytes: p.TotalBytes,
		CutBytes: p.CutBytes, GraphHash: hex.EncodeToString(h[:]), Stages: p.Stages(), Shards: p.Shards,
		Tasks: []jsonTask{}, Edges: []jsonEdge{}}
	for _, t := range p.Tasks {
		th := t.Graph.Hash()
		out.Tasks = append(out.Tasks, jsonTask{ID: t.ID, Level: t.Level, VRAMBytes: t.VRAM, WeightBytes: t.WeightBytes,
			KVBytes: t.KVBytes, ActivationBytes: t.ActivationBytes, ComputeUnits: t.ComputeUnits, Ops: len(t.Ops),
			GraphHash: hex.EncodeToString(th[:]), Weights: t.Weights, Inputs: ports(t.Inputs), Outputs: ports(t.Outputs)})
	}
	for _, e := range p.Edges {
		out.Edges = append(out.Edges, jsonEdge{e.From, e.To, e.BytesPerToken, e.Names})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
