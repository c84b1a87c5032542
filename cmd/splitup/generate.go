package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/internal/cli"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/tokenizer"
	"github.com/splitup/splitup/sample"
)

type generateFlags struct {
	model, tokenizer, prompt string
	maxTokens                int
	temperature, topP        float64
	seed                     uint64
	threads                  int
	reference                bool
}

func parseGenerate(args []string, stderr io.Writer) (*generateFlags, error) {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &generateFlags{}
	fs.StringVar(&f.model, "model", "", "model file: GGUF (v1-v3) or llama2.c checkpoint (required)")
	fs.StringVar(&f.tokenizer, "tokenizer", "", "llama2.c tokenizer.bin (default: the model's embedded tokenizer)")
	fs.StringVar(&f.prompt, "prompt", "", "prompt text")
	fs.IntVar(&f.maxTokens, "max-tokens", 256, "maximum number of new tokens")
	fs.Float64Var(&f.temperature, "temperature", 1.0, "sampling temperature; 0 = greedy")
	fs.Float64Var(&f.topP, "top-p", 0.9, "nucleus sampling threshold in (0,1]; 1 = off")
	fs.Uint64Var(&f.seed, "seed", 0, "random seed (default: from the clock)")
	fs.IntVar(&f.threads, "threads", runtime.NumCPU(), "compute threads; Go code runs on at most this many CPUs (GOMAXPROCS) unless $GOMAXPROCS is set")
	fs.BoolVar(&f.reference, "reference", false, "use the scalar reference kernels (slow; for checking)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: splitup generate --model PATH [--tokenizer PATH] [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--threads N]")
		fs.PrintDefaults()
	}
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, usagef("unexpected argument %q (put the prompt in --prompt)", fs.Arg(0))
	case f.model == "":
		return nil, usagef("--model is required: a GGUF file or a llama2.c checkpoint")
	case f.maxTokens <= 0:
		return nil, usagef("--max-tokens must be at least 1, got %d", f.maxTokens)
	case !(f.temperature >= 0 && f.temperature <= math.MaxFloat32): // NaN fails both
		return nil, usagef("--temperature must be a finite number ≥ 0, got %v", f.temperature)
	case !(f.topP > 0 && f.topP <= 1):
		return nil, usagef("--top-p must be in (0, 1], got %v", f.topP)
	case f.threads < 1:
		return nil, usagef("--threads must be at least 1, got %d", f.threads)
	}
	if f.seed == 0 {
		f.seed = uint64(time.Now().UnixNano())
	}
	return f, nil
}

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseGenerate(args, stderr)
	if err != nil {
		return err
	}
	if procsFollowThreads {
		cli.LimitProcs(f.threads)
	}
	m, tok, err := loadModelAndTokenizer(f.model, f.tokenizer)
	if err != nil {
		return err
	}
	prog, err := exec.New(m.Graph, m, exec.Options{Threads: f.threads, Reference: f.reference, MaxRows: m.Config.Context})
	if err != nil {
		return err
	}
	defer prog.Close()
	if m.Synthetic {
		fmt.Fprintln(stderr, "note: this model has random weights (splitup synth); its text is noise")
	}
	g := &generator{
		sess: prog.NewSession(), tok: tok, ctxLen: m.Config.Context,
		smp: sample.New(sample.Config{Temperature: float32(f.temperature), TopP: float32(f.topP), Seed: f.seed}),
	}
	st, err := g.run(ctx, f.prompt, f.maxTokens, stdout)
	fmt.Fprintln(stdout)
	fmt.Fprintf(stderr, "prompt %d tokens in %.3fs (%.1f tok/s); generated %d tokens in %.3fs (%.1f tok/s)\n",
		st.promptTokens, st.prefill.Seconds(), rate(st.promptTokens, st.prefill), st.newTokens, st.decode.Seconds(), rate(st.newTokens, st.decode))
	return err
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// loadModelAndTokenizer loads the model and picks its tokenizer: the file
// given, else the embedded one.
func loadModelAndTokenizer(model, tokPath string) (*models.Model, *tokenizer.Tokenizer, error) {
	m, err := models.Load(model)
	if err != nil {
		return nil, nil, err
	}
	tok := m.Tokenizer
	if tokPath != "" {
		if tok, err = tokenizer.LoadLlama2C(tokPath); err != nil {
			return nil, nil, err
		}
	}
	if tok == nil {
		return nil, nil, fmt.Errorf("%s has no embedded tokenizer: pass --tokenizer PATH (a llama2.c tokenizer.bin)", model)
	}
	if err := m.CheckTokenizer(tok); err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}

type genStats struct {
	promptTokens, newTokens int
	prefill, decode         time.Duration
}

// generator runs the llama2.c generation loop over an exec session: one
// batched prefill of the prompt, then one decode step per new token.
type generator struct {
	sess   *exec.Session
	tok    *tokenizer.Tokenizer
	smp    *sample.Sampler
	ctxLen int
}

func (g *generator) run(ctx context.Context, prompt string, maxTokens int, out io.Writer) (genStats, error) {
	var st genStats
	ids := toInt32(g.tok.Encode(prompt, true, false))
	st.promptTokens = len(ids)
	if len(ids)+maxTokens > g.ctxLen {
		maxTokens = g.ctxLen - len(ids)
		if maxTokens <= 0 {
			return st, fmt.Errorf("the prompt has %d tokens, the model's context is %d: shorten the prompt", len(ids), g.ctxLen)
		}
	}
	start := time.Now()
	logits, err := g.forward(ids, 0)
	if err != nil {
		return st, err
	}
	st.prefill = time.Since(start)
	start = time.Now()
	prev := ids[len(ids)-1]
	for pos := len(ids); st.newTokens < maxTokens; pos++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		next := int32(g.smp.Next(logits))
		if int(next) == g.tok.BOS() || int(next) == g.tok.EOS() {
			break
		}
		io.WriteString(out, g.tok.Decode(int(prev), int(next)))
		st.newTokens++
		prev = next
		if st.newTokens == maxTokens {
			break
		}
		if logits, err = g.forward([]int32{next}, pos); err != nil {
			return st, err
		}
	}
	st.decode = time.Since(start)
	return st, nil
}

// forward runs tokens at positions pos.. and returns the last row's logits.
func (g *generator) forward(ids []int32, pos int) ([]float32, error) {
	p := make([]int32, len(ids))
	for i := range p {
		p[i] = int32(pos + i)
	}
	out, err := g.sess.Run(map[string]exec.Tensor{"tokens": exec.I32s(ids...), "pos": exec.I32s(p...)})
	if err != nil {
		return nil, err
	}
	l := out["logits"]
	return l.Row(l.Rows() - 1), nil
}

func toInt32(v []int) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}
