package deploy_test

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/deploy"
	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/shard"
	"github.com/splitup/splitup/models/tokenizer"
	"github.com/splitup/splitup/partition"
)

// sharedModels is ../shared/models (beside the checkout) seen from this
// package's directory.
const sharedModels = "../../shared/models"

// stories loads stories260K with its tokenizer, or skips the test.
func stories(t testing.TB) *models.Model {
	t.Helper()
	m, err := models.Load(filepath.Join(sharedModels, "stories260K.bin"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("reference model missing (%v); this test needs ../shared/models beside the checkout", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadLlama2C(filepath.Join(sharedModels, "tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckTokenizer(tok); err != nil {
		t.Fatal(err)
	}
	m.Tokenizer = tok
	return m
}

// steps are the token batches run through the model: a prefill, then
// single-token decode steps.
var steps = [][]int32{{1, 403, 407}, {261}, {378}, {6}}

// runWhole runs graph g with weights w over steps and returns the logits of
// every step.
func runWhole(t *testing.T, g *ir.Graph, w exec.Weights) [][]float32 {
	t.Helper()
	p, err := exec.New(g, w, exec.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := p.NewSession()
	var out [][]float32
	pos := 0
	for _, toks := range steps {
		res, err := s.Run(stepInputs(toks, pos))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res["logits"].F32)
		pos += len(toks)
	}
	return out
}

func stepInputs(toks []int32, pos int) map[string]exec.Tensor {
	ps := make([]int32, len(toks))
	for i := range ps {
		ps[i] = int32(pos + i)
	}
	return map[string]exec.Tensor{"tokens": exec.I32s(toks...), "pos": exec.I32s(ps...)}
}

// pipeline runs a deployment's tasks from their decoded shards, one after
// another, as the network would.
type pipeline struct {
	sessions []*exec.Session
	graphs   []*ir.Graph
}

// newPipeline decodes every shard of d and opens a session on it.
func newPipeline(t *testing.T, d *deploy.Deployment) *pipeline {
	t.Helper()
	p := &pipeline{}
	for i := range d.Tasks {
		b, err := d.Shard(i)
		if err != nil {
			t.Fatal(err)
		}
		s, err := shard.Decode(b)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		prog, err := exec.New(s.Graph, s, exec.Options{Threads: 1})
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		t.Cleanup(func() { prog.Close() })
		p.sessions = append(p.sessions, prog.NewSession())
		p.graphs = append(p.graphs, s.Graph)
	}
	return p
}

// step runs every task once, feeding each the model inputs in vals and its
// upstream tasks' outputs by name; it returns vals with all outputs added.
func (p *pipeline) step(t *testing.T, vals map[string]exec.Tensor) map[string]exec.Tensor {
	t.Helper()
	for i, s := range p.sessions {
		in := map[string]exec.Tensor{}
		for _, k := range p.graphs[i].OfKind(ir.KindInput) {
			name := p.graphs[i].Tensors[k].Name
			v, ok := vals[name]
			if !ok {
				t.Fatalf("task %d reads %q, which no earlier task produced", i, name)
			}
			in[name] = v
		}
		res, err := s.Run(in)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		for name, v := range res {
			vals[name] = v
		}
	}
	return vals
}

// runShards runs the deployment's shards over steps and returns the logits
// of every step.
func runShards(t *testing.T, d *deploy.Deployment) [][]float32 {
	t.Helper()
	p := newPipeline(t, d)
	var out [][]float32
	pos := 0
	for _, toks := range steps {
		out = append(out, p.step(t, stepInputs(toks, pos))["logits"].F32)
		pos += len(toks)
	}
	return out
}

func sameBits(t *testing.T, what string, got, want [][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d steps, want %d", what, len(got), len(want))
	}
	for s := range want {
		if len(got[s]) != len(want[s]) || len(want[s]) == 0 {
			t.Fatalf("%s: step %d: %d logits, want %d", what, s, len(got[s]), len(want[s]))
		}
		for i := range want[s] {
			if math.Float32bits(got[s][i]) != math.Float32bits(want[s][i]) {
				t.Fatalf("%s: step %d: logit %d is %v, the whole model gives %v", what, s, i, got[s][i], want[s][i])
			}
		}
	}
}

// TestPrepareStories plans stories260K into several tasks and checks that
// every shard decodes to its task's graph and that the shards, run in
// sequence, give the whole model's logits bit for bit.
func TestPrepareStories(t *testing.T) {
	m := stories(t)
	want := runWhole(t, m.Graph, m)
	for _, tc := range []struct {
		name   string
		budget int64
		cost   partition.CostModel
		splits bool
	}{
		{"decode-chunk", 300 << 10, partition.CostModel{Chunk: 1}, false},
		{"context-64", 300 << 10, partition.CostModel{Chunk: 16, Context: 64}, false},
		{"split-matmuls", 132_000, partition.CostModel{Chunk: 1, Context: 64}, true}, // the tied classifier does not fit, the embedding (same table) just does
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := deploy.Prepare(m, tc.budget, tc.cost)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Tasks) < 3 {
				t.Fatalf("%d tasks, want at least 3 for a budget of %d bytes", len(d.Tasks), tc.budget)
			}
			if got := len(d.Plan.Shards) > 0; got != tc.splits {
				t.Fatalf("plan splits ops: %v, want %v", got, tc.splits)
			}
			checkShards(t, d)
			checkMsg(t, d)
			sameBits(t, "shards in sequence", runShards(t, d), want)
		})
	}
}

// checkShards decodes every shard and compares it with its task.
func checkShards(t *testing.T, d *deploy.Deployment) {
	t.Helper()
	seen := map[contract.Hash]bool{}
	for i, ts := range d.Tasks {
		b, err := d.Shard(i)
		if err != nil {
			t.Fatal(err)
		}
		if contract.Hash(shard.Hash(b)) != ts.Hash || int64(len(b)) != ts.Size {
			t.Fatalf("task %d: shard hash or size differs from the deployment's", i)
		}
		s, err := shard.Decode(b)
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		if s.Graph.Hash() != d.Plan.Tasks[i].Graph.Hash() {
			t.Fatalf("task %d: the shard's graph is not the task's", i)
		}
		if got, want := len(s.Weights), len(d.Plan.Tasks[i].Graph.OfKind(ir.KindWeight)); got != want {
			t.Fatalf("task %d: shard holds %d weights, the task declares %d", i, got, want)
		}
		if seen[ts.Hash] {
			t.Fatalf("task %d: shard hash repeats", i)
		}
		seen[ts.Hash] = true
	}
}

// checkMsg checks the RegisterModel message against the plan.
func checkMsg(t *testing.T, d *deploy.Deployment) {
	t.Helper()
	msg := d.Msg
	if msg.Name != "stories260K" || msg.GraphHash != contract.Hash(d.Plan.Graph.Hash()) || d.ID != msg.ModelID() {
		t.Fatalf("name %q, graph hash %v, id %v", msg.Name, msg.GraphHash, d.ID)
	}
	if len(msg.Inputs) != 2 || msg.Inputs[0].Name != "tokens" || msg.Inputs[1].Name != "pos" ||
		msg.Inputs[0].DType != "i32" || len(msg.Inputs[0].Shape) != 1 || msg.Inputs[0].Shape[0] != -1 {
		t.Fatalf("model inputs %+v", msg.Inputs)
	}
	if len(msg.Outputs) != 1 || msg.Outputs[0].Name != "logits" || msg.Outputs[0].DType != "f32" ||
		len(msg.Outputs[0].Shape) != 2 || msg.Outputs[0].Shape[1] != 512 {
		t.Fatalf("model outputs %+v", msg.Outputs)
	}
	for i, ts := range msg.Tasks {
		task := d.Plan.Tasks[i]
		if ts.VRAMBytes != uint64(task.VRAM) || len(ts.Shards) != 1 || ts.Shards[0] != d.Tasks[i].Hash {
			t.Fatalf("task %d: spec %+v does not match the plan", i, ts)
		}
		if len(ts.Inputs) != len(task.Inputs) || len(ts.Outputs) != len(task.Outputs) {
			t.Fatalf("task %d: %d/%d ports, the plan has %d/%d", i, len(ts.Inputs), len(ts.Outputs), len(task.Inputs), len(task.Outputs))
		}
	}
	assertRegisters(t, d)
}

// assertRegisters delivers the message to a fresh contract state: the
// chain's own validation of the task DAG and its interfaces.
func assertRegisters(t *testing.T, d *deploy.Deployment) {
	t.Helper()
	pub, key := testKey(1)
	g := contract.Genesis{ChainID: "deploy-test", Params: contract.DefaultParams(),
		Accounts: []contract.Account{{Address: contract.Address(pub), Balance: 1_000_000}}}
	st, err := contract.NewState(g)
	if err != nil {
		t.Fatal(err)
	}
	st.BeginBlock(contract.Header{ChainID: g.ChainID, Height: 1, TimeUnixNano: 1})
	tx := contract.NewTx(g.ChainID, 0, g.Params.MinTxFee, &d.Msg)
	tx.Sign(key)
	if r := st.DeliverTx(contract.EncodeTx(tx)); !r.IsOK() {
		t.Fatalf("contract refuses the model: code %d: %s", r.Code, r.Log)
	}
}

// TestPrepareCard checks the model card: it names the model and carries
// its tokenizer.
func TestPrepareCard(t *testing.T) {
	m := stories(t)
	d, err := deploy.Prepare(m, 300<<10, partition.CostModel{Chunk: 16, Context: 64})
	if err != nil {
		t.Fatal(err)
	}
	if contract.Hash(shard.Hash(d.Card)) != d.CardHash {
		t.Fatal("card hash is not the SHA-256 of the card")
	}
	c, err := deploy.DecodeCard(d.Card)
	if err != nil {
		t.Fatal(err)
	}
	if c.ModelID != d.ID || c.GraphHash != d.Msg.GraphHash || c.Name != d.Msg.Name || c.Config.Context != 64 || c.Config.Vocab != 512 {
		t.Fatalf("card %+v does not describe the deployment", c)
	}
	tok, err := c.ParseTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(sharedModels, "tok512.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if string(tok.MarshalLlama2C()) != string(raw) || tok.BOS() != 1 || tok.EOS() != 2 {
		t.Fatal("the card's tokenizer is not tok512.bin")
	}
	if got := d.Blobs(); len(got) != len(d.Tasks)+1 || got[len(got)-1] != d.CardHash {
		t.Fatalf("Blobs() = %d hashes, want the %d shards and the card", len(got), len(d.Tasks))
	}
}

// TestPrepareDeterministic checks that preparing twice gives the same ids.
func TestPrepareDeterministic(t *testing.T) {
	m := stories(t)
	a, err := deploy.Prepare(m, 300<<10, partition.CostModel{Chunk: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := deploy.Prepare(m, 300<<10, partition.CostModel{Chunk: 1})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || a.CardHash != b.CardHash {
		t.Fatal("two Prepare calls on one model give different ids")
	}
}

// TestShardChanged checks that Shard notices weights modified after Prepare.
func TestShardChanged(t *testing.T) {
	m := stories(t)
	d, err := deploy.Prepare(m, 300<<10, partition.CostModel{Chunk: 1})
	if err != nil {
		t.Fatal(err)
	}
	w := m.Weights["output_norm.weight"]
	orig := binary.LittleEndian.Uint32(w.Data)
	binary.LittleEndian.PutUint32(w.Data, orig^1)
	defer binary.LittleEndian.PutUint32(w.Data, orig)
	last := len(d.Tasks) - 1
	if _, err := d.Shard(last); !errors.Is(err, deploy.ErrChanged) {
		t.Fatalf("Shard after a weight changed: %v, want ErrChanged", err)
	}
}
