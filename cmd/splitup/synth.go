package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/splitup/splitup/internal/cli"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/gguf"
	"github.com/splitup/splitup/models/tokenizer"
)

type synthFlags struct {
	out                                 string
	dim, hidden, layers, heads, kvHeads int
	vocab, context                      int
	dtype                               ir.DType
	seed                                uint64
	untied                              bool
	threads                             int
}

func parseSynth(args []string, stderr io.Writer) (*synthFlags, error) {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &synthFlags{}
	var dtype string
	fs.StringVar(&f.out, "out", "", "output GGUF v3 file (required)")
	fs.IntVar(&f.dim, "dim", 0, "embedding width (required)")
	fs.IntVar(&f.hidden, "hidden", 0, "feed-forward width (required)")
	fs.IntVar(&f.layers, "layers", 0, "transformer blocks (required)")
	fs.IntVar(&f.heads, "heads", 0, "attention heads (required)")
	fs.IntVar(&f.kvHeads, "kv-heads", 0, "key/value heads (default: --heads)")
	fs.IntVar(&f.vocab, "vocab", 512, "vocabulary size, at least 259 (3 special + 256 byte tokens)")
	fs.IntVar(&f.context, "context", 2048, "context length in tokens")
	fs.StringVar(&dtype, "dtype", "f32", "weight type of 2-D matrices: f32, f16, bf16, q8_0 or q4_0 (norm weights stay f32)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed; the same seed gives the same file")
	fs.BoolVar(&f.untied, "untied", false, "write a separate output.weight instead of sharing token_embd.weight")
	fs.IntVar(&f.threads, "threads", runtime.GOMAXPROCS(0), "generator threads (the output does not depend on it)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: splitup synth --out X.gguf --dim D --hidden H --layers L --heads NH [--kv-heads NKV] [--vocab V] [--context C] [--dtype f32|f16|bf16|q8_0|q4_0] [--seed S] [--untied]")
		fmt.Fprintln(stderr, "writes a LLaMA-shaped model with seeded random weights: NOT a trained model")
		fs.PrintDefaults()
	}
	if err := cli.ParseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	if f.kvHeads == 0 {
		f.kvHeads = f.heads
	}
	dt, err := parseWeightDType(dtype)
	if err != nil {
		return nil, err
	}
	f.dtype = dt
	return f, f.validate()
}

func (f *synthFlags) validate() error {
	switch {
	case f.out == "":
		return usagef("--out is required")
	case f.dim <= 0 || f.hidden <= 0 || f.layers <= 0 || f.heads <= 0:
		return usagef("--dim, --hidden, --layers and --heads are required and must be positive")
	case f.dim > 1<<16 || f.hidden > 1<<18 || f.layers > 1024 || f.vocab > 1<<22 || f.context > 1<<22:
		return usagef("shape too large (dim ≤ 65536, hidden ≤ 262144, layers ≤ 1024, vocab ≤ 4194304, context ≤ 4194304)")
	case f.dim%f.heads != 0 || (f.dim/f.heads)%2 != 0:
		return usagef("--dim %d must be --heads %d times an even head size", f.dim, f.heads)
	case f.kvHeads <= 0 || f.heads%f.kvHeads != 0:
		return usagef("--kv-heads %d must divide --heads %d", f.kvHeads, f.heads)
	case f.vocab < 259:
		return usagef("--vocab %d: the byte-level tokenizer needs at least 259 tokens", f.vocab)
	case f.context <= 0:
		return usagef("--context must be positive")
	case f.threads < 1:
		return usagef("--threads must be at least 1")
	}
	return nil
}

// synthStd is the standard deviation of the random matrix weights.
const synthStd = 0.02

// synthChunk is the number of elements generated from one random stream; a
// multiple of the quantisation block, so blocks never straddle chunks.
const synthChunk = 1 << 16

func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseSynth(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	tok, err := byteTokenizer(f.vocab)
	if err != nil {
		return err
	}
	shape := llamaShape{
		name: fmt.Sprintf("splitup-synthetic-seed%d", f.seed),
		dim:  f.dim, hidden: f.hidden, layers: f.layers, heads: f.heads, kvHeads: f.kvHeads,
		vocab: f.vocab, context: f.context, eps: 1e-5, freqBase: 10000,
	}
	md := llamaMetadata(shape, f.dtype)
	md = append(md,
		gguf.KV{Key: "general.description", Value: gguf.String("random weights from splitup synth; not a trained model")},
		gguf.KV{Key: "splitup.synthetic", Value: gguf.Bool(true)},
		gguf.KV{Key: "splitup.seed", Value: gguf.Uint64(f.seed)})
	md = append(md, tok.GGUFMetadata()...)
	tensors := synthTensors(f)
	fmt.Fprintf(stderr, "splitup: note: %s gets seeded random weights; it is NOT a trained model and generates gibberish\n", f.out)
	size, err := writeGGUF(f.out, func(w *gguf.Writer) error {
		for _, kv := range md {
			if err := w.AddMetadata(kv.Key, kv.Value); err != nil {
				return err
			}
		}
		for _, t := range tensors {
			if err := w.AddTensor(t.name, t.typ, t.dims); err != nil {
				return err
			}
		}
		if err := w.WriteHeader(); err != nil {
			return err
		}
		return writeSynthData(ctx, w, tensors, f)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: synthetic (random, untrained) GGUF v3, %d tensors, %d bytes, in %v\n",
		f.out, len(tensors), size, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeSynthData generates the tensors in order, one ahead of the writer,
// so generation and disk writes overlap; at most two tensors are in memory.
func writeSynthData(ctx context.Context, w *gguf.Writer, tensors []synthTensor, f *synthFlags) error {
	type result struct {
		buf []byte
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	infos := w.Tensors() // read-only from here on
	ready := make(chan result)
	go func() {
		defer close(ready)
		for i, t := range tensors {
			buf := make([]byte, infos[i].Size)
			err := t.generate(buf, f.seed, uint64(i), f.threads)
			if err != nil {
				err = fmt.Errorf("tensor %s: %w", t.name, err)
			}
			select {
			case ready <- result{buf, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for _, t := range tensors {
		r, ok := <-ready
		if !ok {
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		if err := w.WriteTensor(t.name, r.buf); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// byteTokenizer returns a tokenizer of <unk>, <s>, </s>, the 256 byte
// tokens and unused padding tokens up to vocab: every text encodes as its
// bytes.
func byteTokenizer(vocab int) (*tokenizer.Tokenizer, error) {
	pieces := make([]string, vocab)
	types := make([]tokenizer.TokenType, vocab)
	pieces[0], pieces[1], pieces[2] = "<unk>", "<s>", "</s>"
	types[0], types[1], types[2] = tokenizer.Unknown, tokenizer.Control, tokenizer.Control
	for b := 0; b < 256; b++ {
		pieces[3+b], types[3+b] = fmt.Sprintf("<0x%02X>", b), tokenizer.Byte
	}
	for i := 259; i < vocab; i++ {
		pieces[i], types[i] = fmt.Sprintf("<unused%d>", i-259), tokenizer.Unused
	}
	return tokenizer.New(pieces, make([]float32, vocab), types, 1, 2)
}

// synthTensor is one tensor of a synthetic model.
type synthTensor struct {
	name string
	dims []uint64
	typ  gguf.GGMLType
	dt   ir.DType
	ones bool // a norm weight: all 1
}

func synthTensors(f *synthFlags) []synthTensor {
	kv := uint64(f.dim / f.heads * f.kvHeads)
	d, h, v := uint64(f.dim), uint64(f.hidden), uint64(f.vocab)
	var out []synthTensor
	add := func(name string, dims ...uint64) {
		dt, _ := tensorType(dims, f.dtype)
		gt, _ := gguf.GGMLTypeOf(dt)
		out = append(out, synthTensor{name, dims, gt, dt, len(dims) == 1})
	}
	add("token_embd.weight", d, v)
	for l := 0; l < f.layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", d)
		add(p+"attn_q.weight", d, d)
		add(p+"attn_k.weight", d, kv)
		add(p+"attn_v.weight", d, kv)
		add(p+"attn_output.weight", d, d)
		add(p+"ffn_norm.weight", d)
		add(p+"ffn_gate.weight", d, h)
		add(p+"ffn_down.weight", h, d)
		add(p+"ffn_up.weight", d, h)
	}
	add("output_norm.weight", d)
	if f.untied {
		add("output.weight", d, v)
	}
	return out
}

// fillNormal fills v with approximately normal values of mean 0 and
// standard deviation synthStd: each is the Irwin–Hall sum of four 16-bit
// uniforms from one 64-bit draw, centred and scaled (bounded by ±3.46σ).
func fillNormal(v []float32, src *rand.ChaCha8) {
	// The sum of four uniforms on 0..65535 has mean 2·65535 and standard
	// deviation 65536·sqrt(4/12) (to within 1e-5).
	const scale = synthStd / 37837.22
	for i := range v {
		u := src.Uint64()
		s := int64(u&0xffff) + int64(u>>16&0xffff) + int64(u>>32&0xffff) + int64(u>>48)
		v[i] = float32(float64(s-2*65535) * scale)
	}
}

// chunkSource returns the random stream of chunk c of tensor ti: ChaCha8
// keyed by (seed, ti, c).
func chunkSource(seed, ti, c uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], seed)
	binary.LittleEndian.PutUint64(key[8:], ti)
	binary.LittleEndian.PutUint64(key[16:], c)
	copy(key[24:], "splitup\x00")
	return rand.NewChaCha8(key)
}

// generate fills dst (the tensor's storage) in parallel. Chunk c of tensor
// ti draws from its own stream (chunkSource), so the bytes do
// not depend on the number of threads.
func (t synthTensor) generate(dst []byte, seed, ti uint64, threads int) error {
	n := 1
	for _, d := range t.dims {
		n *= int(d)
	}
	chunks := (n + synthChunk - 1) / synthChunk
	bytesPer := t.dt.BlockBytes() * synthChunk / t.dt.BlockSize()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, threads)
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := make([]float32, synthChunk)
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				k := min(synthChunk, n-c*synthChunk)
				vals := src[:k]
				if t.ones {
					for i := range vals {
						vals[i] = 1
					}
				} else {
					fillNormal(vals, chunkSource(seed, ti, uint64(c)))
				}
				off := c * bytesPer
				size := k / t.dt.BlockSize() * t.dt.BlockBytes()
				if err := encodeTensor(dst[off:off+size], vals, t.dt); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
