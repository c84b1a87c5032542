package partition

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models/llama"
)

// chainGraph is x -> op_1 -> ... -> op_n with random widths; the first and
// last matmul share a weight when the shapes allow.
func chainGraph(r *rand.Rand, n int) *ir.Graph {
	b := ir.NewBuilder()
	v := b.Input("x", ir.F32, ir.Shape{16})
	first := b.Weight("w_shared", ir.F32, ir.Shape{16, 16})
	for k := 0; k < n; k++ {
		switch {
		case k == 0 || k == n-1:
			v = b.MatMul(v, first)
			if k == 0 {
				v = b.Relu(v)
				k++
			}
		case r.IntN(3) == 0:
			v = b.Relu(v)
		case r.IntN(2) == 0:
			v = b.Add(v, b.Weight(fmt.Sprintf("bias%d", k), ir.F32, b.Shape(v)))
		default:
			rows := 16 // keep the width so the final shared matmul fits
			v = b.MatMul(v, b.Weight(fmt.Sprintf("w%d", k), ir.F32, ir.Shape{rows, b.Shape(v)[0]}))
		}
	}
	b.Output("out", v)
	g, err := b.Build()
	if err != nil {
		panic(err)
	}
	return g
}

// chainDP is the textbook dynamic programme over the ops of a chain in
// topological order: best[i] = min over j of best[j] + one task [j, i).
func chainDP(g *ir.Graph, c CostModel, budget int64) (score, [][2]int) {
	order, _ := g.Order()
	var ops []int
	for _, i := range order {
		if g.Tensors[i].Kind == ir.KindValue {
			ops = append(ops, i)
		}
	}
	n := len(ops)
	best := make([]score, n+1)
	from := make([]int, n+1)
	ok := make([]bool, n+1)
	ok[0] = true
	for i := 1; i <= n; i++ {
		for j := 0; j < i; j++ {
			if !ok[j] {
				continue
			}
			v, cut := refCost(g, c, ops[j:i])
			if v > budget {
				continue
			}
			s := best[j].plus(taskScore(v, cut))
			if !ok[i] || s.less(best[i]) {
				best[i], from[i], ok[i] = s, j, true
			}
		}
	}
	var ranges [][2]int
	for i := n; i > 0; i = from[i] {
		ranges = append([][2]int{{from[i], i}}, ranges...)
	}
	return best[n], ranges
}

func planScore(p *Plan) score {
	var s score
	for _, t := range p.Tasks {
		var cut int64
		for _, in := range t.Inputs {
			if !in.Model {
				cut += in.Bytes()
			}
		}
		s = s.plus(taskScore(t.VRAM, cut))
	}
	return s
}

func TestChainMatchesExactDP(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		g := chainGraph(r, 3+r.IntN(30))
		c := CostModel{Chunk: 1 + r.IntN(8), TaskOverhead: int64(r.IntN(512))}
		lo := maxSingle(g, c)
		budget := lo + int64(r.IntN(int(4*lo)))
		p, err := Partition(g, Config{Cost: c, Budget: budget})
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p)
		want, ranges := chainDP(g, c, budget)
		if got := planScore(p); got != want || len(ranges) != len(p.Tasks) {
			t.Fatalf("trial %d: plan %+v, exact DP %+v", trial, got, want)
		}
		for k, rg := range ranges {
			if len(p.Tasks[k].Ops) != rg[1]-rg[0] {
				t.Fatalf("trial %d: task %d has %d ops, DP %d", trial, k, len(p.Tasks[k].Ops), rg[1]-rg[0])
			}
		}
	}
}

func TestRandomDAGsAgainstBruteForce(t *testing.T) {
	for _, merge := range []bool{false, true} {
		r := rand.New(rand.NewPCG(3, 4))
		var extra, worst, optimal, cases int
		trials := 150
		if testing.Short() {
			trials = 30
		}
		for trial := 0; trial < trials; trial++ {
			g := randomGraph(r, 2+r.IntN(6))
			c := CostModel{Chunk: 1 + r.IntN(4)}
			lo := maxSingle(g, c)
			cfg := Config{Cost: c, Budget: lo + int64(r.IntN(int(2*lo))), MergeBranches: merge}
			p, err := Partition(g, cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkPlan(t, p)
			bt, bc := bruteForce(g, c, cfg.Budget)
			got, gap := planScore(p), len(p.Tasks)-bt
			if gap < 0 || (gap == 0 && got.cut < bc) {
				t.Fatalf("trial %d: plan (%d, %d) beats brute force (%d, %d): the reference is wrong", trial, len(p.Tasks), got.cut, bt, bc)
			}
			if len(p.Tasks) > 2*bt+1 {
				t.Fatalf("trial %d: %d tasks, brute force %d", trial, len(p.Tasks), bt)
			}
			cases++
			extra += gap
			worst = max(worst, gap)
			if gap == 0 && got.cut == bc {
				optimal++
			}
		}
		t.Logf("merge branches %v: %d random DAGs of 2-7 ops, %d optimal in (tasks, cut bytes); %d extra tasks in all, worst gap %d",
			merge, cases, optimal, extra, worst)
	}
}

// towers is a stem, two MLP towers of depth 3, joined by an Add, then a head.
func towers(t testing.TB, width int) *ir.Graph {
	b := ir.NewBuilder()
	x := b.Input("x", ir.F32, ir.Shape{width})
	stem := b.Name(b.Relu(b.MatMul(x, b.Weight("stem", ir.F32, ir.Shape{width, width}))), "stem.out")
	tower := func(name string) ir.Ref {
		h := stem
		for l := 0; l < 3; l++ {
			h = b.Relu(b.MatMul(h, b.Weight(fmt.Sprintf("%s.%d", name, l), ir.F32, ir.Shape{width, width})))
		}
		return b.Name(h, name+".out")
	}
	a, c := tower("a"), tower("b")
	b.Output("y", b.MatMul(b.Add(a, c), b.Weight("head", ir.F32, ir.Shape{4, width})))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestBranchesRunInParallel(t *testing.T) {
	g := towers(t, 64)
	c := CostModel{Chunk: 1}
	layer := int64(64 * 64 * 4)
	p, err := Partition(g, Config{Cost: c, Budget: 4 * layer})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)
	taskOf := map[string]int{}
	for _, task := range p.Tasks {
		for _, o := range task.Outputs {
			taskOf[o.Name] = task.ID
		}
	}
	ta, tb := taskOf["a.out"], taskOf["b.out"]
	if ta == tb || p.Tasks[ta].Level != p.Tasks[tb].Level {
		t.Fatalf("towers in tasks %d (level %d) and %d (level %d), want separate tasks of one level",
			ta, p.Tasks[ta].Level, tb, p.Tasks[tb].Level)
	}
	t.Logf("stages %v", p.Stages())
	// With room for everything, one task.
	if p, err := Partition(g, Config{Cost: c, Budget: 100 * layer}); err != nil || len(p.Tasks) != 1 {
		t.Fatalf("large budget: %v tasks, %v", p, err)
	}
}

func TestRandomPlansHoldInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 300; trial++ {
		g := randomGraph(r, 1+r.IntN(40))
		c := CostModel{Chunk: 1 + r.IntN(16), TaskOverhead: int64(r.IntN(64))}
		m := maxSingle(g, c)
		budget := m/2 + int64(r.IntN(int(2*m)))
		propertyCheck(t, g, Config{Cost: c, Budget: budget, MergeBranches: trial%2 == 1})
	}
}

// propertyCheck plans g and checks the invariants, or that the error
// names an op that is too large.
func propertyCheck(t *testing.T, g *ir.Graph, cfg Config) {
	t.Helper()
	budget := cfg.Budget
	p, err := Partition(g, cfg)
	var big *OpTooLargeError
	switch {
	case errors.As(err, &big):
		if big.Bytes <= budget {
			t.Fatalf("op too large error for %d bytes within budget %d", big.Bytes, budget)
		}
		return
	case err != nil:
		t.Fatal(err)
	}
	checkPlan(t, p)
	if len(p.Tasks) < p.LowerBound {
		t.Fatalf("%d tasks below the lower bound %d", len(p.Tasks), p.LowerBound)
	}
}

func FuzzPartition(f *testing.F) {
	f.Add(uint64(1), uint8(10), uint16(100), uint8(1))
	f.Add(uint64(7), uint8(40), uint16(3), uint8(4))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8, budget uint16, chunk uint8) {
		r := rand.New(rand.NewPCG(seed, 0))
		g := randomGraph(r, 1+int(n%64))
		c := CostModel{Chunk: 1 + int(chunk%16)}
		propertyCheck(t, g, Config{Cost: c, Budget: 1 + int64(budget)*16, MergeBranches: chunk&128 != 0})
	})
}

func TestSplitOversizeMatMul(t *testing.T) {
	b := ir.NewBuilder()
	x := b.Input("x", ir.F32, ir.Shape{64})
	h := b.Name(b.MatMul(x, b.Weight("big", ir.Q8_0, ir.Shape{1000, 64})), "h")
	b.Output("y", b.MatMul(b.Relu(h), b.Weight("out", ir.F32, ir.Shape{8, 1000})))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	c := CostModel{Chunk: 1}
	p, err := Partition(g, Config{Cost: c, Budget: 40000})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)
	if len(p.Shards) < 2 {
		t.Fatalf("%d shards, want the 1000x64 q8_0 weight (68000 bytes) split", len(p.Shards))
	}
	next := 0
	for _, s := range p.Shards {
		if s.Source != "big" || s.RowStart != next || s.Name != ShardName("big", s.RowStart, s.RowEnd) {
			t.Fatalf("shard %+v", s)
		}
		next = s.RowEnd
	}
	if next != 1000 {
		t.Fatalf("shards end at row %d", next)
	}
	stages := p.Stages()
	if len(stages[0]) != len(p.Shards) {
		t.Errorf("stages %v: the %d slices should run in parallel", stages, len(p.Shards))
	}
	t.Logf("%d shards, %d tasks, stages %v, cut %d B/token", len(p.Shards), len(p.Tasks), stages, p.CutBytes)
}

func TestOpTooLarge(t *testing.T) {
	g := llama70B(t)
	_, err := Partition(g, Config{Cost: CostModel{}, Budget: 300 << 20})
	var big *OpTooLargeError
	if !errors.As(err, &big) || !errors.Is(err, ErrOpTooLarge) {
		t.Fatalf("err = %v, want an OpTooLargeError", err)
	}
	if big.Op != ir.OpEmbed || big.Bytes <= 300<<20 {
		t.Errorf("error names %v of %d bytes: %v", big.Op, big.Bytes, err)
	}
	t.Log(err)
}

func TestBadArguments(t *testing.T) {
	g := towers(t, 8)
	for _, tc := range []struct {
		c      CostModel
		budget int64
		want   error
	}{
		{CostModel{Chunk: -1}, 1 << 20, ErrCostModel},
		{CostModel{TaskOverhead: -1}, 1 << 20, ErrCostModel},
		{CostModel{}, 0, ErrBudget},
		{CostModel{TaskOverhead: 100}, 100, ErrBudget},
	} {
		if _, err := Partition(g, Config{Cost: tc.c, Budget: tc.budget}); !errors.Is(err, tc.want) {
			t.Errorf("%+v, %d: %v, want %v", tc.c, tc.budget, err, tc.want)
		}
	}
}

func TestContextScalesKV(t *testing.T) {
	c := llama.Config{Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, Context: 512, Tied: true}.Defaults()
	g, err := llama.Build(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	kv := func(ctx int) int64 {
		p, err := Partition(g, Config{Cost: CostModel{Context: ctx, Chunk: 1}, Budget: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		return p.Tasks[0].KVBytes
	}
	if full, want := kv(0), int64(5*2*512*32*4); full != want || kv(512) != want {
		t.Fatalf("KV %d at the graph's context, want %d", full, want)
	}
	if got, want := kv(64), int64(5*2*64*32*4); got != want {
		t.Errorf("KV %d at context 64, want %d", got, want)
	}
}

func TestTiedWeightCountsInBoth(t *testing.T) {
	c := llama.Config{Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, Vocab: 512, Context: 512, Tied: true}.Defaults()
	g, err := llama.Build(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Partition(g, Config{Cost: CostModel{Chunk: 1}, Budget: 700 << 10})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, p)
	first, last := p.Tasks[0], p.Tasks[len(p.Tasks)-1]
	if len(p.Tasks) < 2 || first.Weights[0] != "token_embd.weight" || !slices.Contains(last.Weights, "token_embd.weight") {
		t.Fatalf("%d tasks; the tied embedding should be bound by the first task %v and the last %v", len(p.Tasks), first.Weights, last.Weights)
	}
	var sum int64
	for _, task := range p.Tasks {
		sum += task.WeightBytes + task.KVBytes
	}
	if embd := int64(512 * 64 * 4); sum != p.TotalBytes+embd {
		t.Errorf("tasks hold %d bytes, want the total %d plus the embedding once more", sum, p.TotalBytes)
	}
}
