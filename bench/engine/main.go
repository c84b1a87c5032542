// Command engine measures SplitUp's prefill and decode throughput on one
// model file with the method of ../shared/bench/llamacpp_tp_bench.c, so the
// two can be compared in one run: one untimed warm-up (prompt + 8 tokens),
// then per repetition a fresh KV cache, a prompt of N_PROMPT tokens (BOS +
// pseudo-random ordinary tokens) as one batch, then N_GEN tokens decoded one
// at a time, each the argmax of the previous logits. Prints one JSON line.
//
// With ENGINE_READPAIR=1 every decoded token is followed by one read pass
// over as many bytes as the model's weights (see readProbe), and the line
// also reports the read bandwidth of those passes and, token by token, the
// fraction of the bandwidth bound the decode reached: the read pass's time
// over the token's. Decode tokens/s then counts the tokens' time only.
//
// usage: engine MODEL THREADS N_PROMPT N_GEN [REPS]
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/sample"
)

func main() {
	if path := os.Getenv("ENGINE_CPUPROFILE"); path != "" { // optional: a CPU profile of the whole run
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type result struct {
	Model      string    `json:"model"`
	ModelBytes int64     `json:"model_bytes"`
	Threads    int       `json:"threads"`
	NPrompt    int       `json:"n_prompt"`
	NGen       int       `json:"n_gen"`
	Prefill    float64   `json:"prefill_tps_median"`
	Decode     float64   `json:"decode_tps_median"`
	PrefillAll []float64 `json:"prefill_tps"`
	DecodeAll  []float64 `json:"decode_tps"`
	LoadS      float64   `json:"load_s"`

	// With ENGINE_READPAIR=1 only: the paired read passes' bandwidth
	// (model bytes / pass time, 1e9 bytes/s), and per decoded token the
	// pass's time over the token's, as medians and as quartiles.
	ReadGBs        float64    `json:"read_gbs_median,omitempty"`
	BoundMedian    float64    `json:"paired_bound_median,omitempty"`
	BoundQuartiles [2]float64 `json:"paired_bound_quartiles,omitzero"`
}

func run(args []string) error {
	if len(args) < 4 {
		return fmt.Errorf("usage: engine MODEL THREADS N_PROMPT N_GEN [REPS]")
	}
	nums := make([]int, 4)
	nums[3] = 3
	for i, a := range args[1:] {
		v, err := strconv.Atoi(a)
		if err != nil || v <= 0 {
			return fmt.Errorf("argument %q must be a positive integer", a)
		}
		nums[i] = v
	}
	threads, nPrompt, nGen, reps := nums[0], nums[1], nums[2], nums[3]
	start := time.Now()
	m, err := models.Load(args[0])
	if err != nil {
		return err
	}
	if nPrompt+nGen+8 > m.Config.Context {
		return fmt.Errorf("prompt + gen = %d exceeds the context %d", nPrompt+nGen, m.Config.Context)
	}
	p, err := exec.New(m.Graph, m, exec.Options{Threads: threads, MaxRows: nPrompt})
	if err != nil {
		return err
	}
	defer p.Close()
	r := result{Model: args[0], ModelBytes: m.WeightBytes(), Threads: threads, NPrompt: nPrompt, NGen: nGen, LoadS: time.Since(start).Seconds()}
	prompt := makePrompt(nPrompt, m.Config.Vocab)
	var probe *readProbe
	var reads, ratios []float64
	if os.Getenv("ENGINE_READPAIR") == "1" {
		probe = newReadProbe(r.ModelBytes, threads)
	}
	if _, _, err := once(p, prompt, 8, nil); err != nil { // warm-up
		return err
	}
	var after func(time.Duration) // with a probe: a read pass after each token
	if probe != nil {
		after = func(token time.Duration) {
			rd := probe.pass()
			reads = append(reads, float64(len(probe.buf))/rd.Seconds()/1e9)
			ratios = append(ratios, rd.Seconds()/token.Seconds())
		}
	}
	for i := 0; i < reps; i++ {
		pre, dec, err := once(p, prompt, nGen, after)
		if err != nil {
			return err
		}
		r.PrefillAll = append(r.PrefillAll, float64(nPrompt)/pre.Seconds())
		r.DecodeAll = append(r.DecodeAll, float64(nGen)/dec.Seconds())
	}
	r.Prefill, r.Decode = median(r.PrefillAll), median(r.DecodeAll)
	if probe != nil {
		r.ReadGBs, r.BoundMedian = median(reads), median(ratios)
		slices.Sort(ratios)
		r.BoundQuartiles = [2]float64{ratios[len(ratios)/4], ratios[len(ratios)*3/4]}
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// makePrompt returns BOS followed by pseudo-random ordinary tokens.
func makePrompt(n, vocab int) []int32 {
	p := make([]int32, n)
	p[0] = 1
	s := uint64(1)
	lo := min(3+256, vocab-1)
	for i := 1; i < n; i++ {
		s = s*6364136223846793005 + 1442695040888963407
		p[i] = int32(lo + int((s>>33)%uint64(vocab-lo)))
	}
	return p
}

// once prefills prompt in a fresh session and decodes nGen tokens; after,
// when not nil, is called after each token with its time, which dec
// excludes what after itself takes.
func once(p *exec.Program, prompt []int32, nGen int, after func(time.Duration)) (pre, dec time.Duration, err error) {
	s := p.NewSession()
	pos := make([]int32, len(prompt))
	for i := range pos {
		pos[i] = int32(i)
	}
	t0 := time.Now()
	out, err := s.Run(map[string]exec.Tensor{"tokens": exec.I32s(prompt...), "pos": exec.I32s(pos...)})
	if err != nil {
		return 0, 0, err
	}
	pre = time.Since(t0)
	l := out["logits"]
	next := int32(sample.Argmax(l.Row(l.Rows() - 1)))
	for i := 0; i < nGen; i++ {
		t0 = time.Now()
		out, err = s.Run(map[string]exec.Tensor{"tokens": exec.I32s(next), "pos": exec.I32s(int32(len(prompt) + i))})
		if err != nil {
			return 0, 0, err
		}
		next = int32(sample.Argmax(out["logits"].F32))
		d := time.Since(t0)
		dec += d
		if after != nil {
			after(d)
		}
	}
	return pre, dec, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
