package deploy_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/splitup/splitup/deploy"
	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/kernels"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/shard"
	"github.com/splitup/splitup/partition"
)

// testKey returns a deterministic ed25519 key.
func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// frame returns v stored as dt with shape s.
func frame(t *testing.T, dt ir.DType, s ir.Shape, v []float32) *ir.Frame {
	t.Helper()
	n, err := dt.Bytes(int64(len(v)))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	switch dt {
	case ir.F32:
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
	case ir.Q8_0:
		if err := kernels.QuantizeQ8_0(b, v); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("frame: dtype %v not handled", dt)
	}
	return &ir.Frame{DType: dt, Shape: s.Clone(), Data: b}
}

// synthetic returns a two-layer MLP, x [64] → relu(x·W1ᵀ) [96] → ·W2ᵀ [64],
// with seeded random weights stored as dt.
func synthetic(t *testing.T, dt ir.DType) *models.Model {
	t.Helper()
	b := ir.NewBuilder()
	x := b.Input("x", ir.F32, ir.Shape{64})
	h := b.Relu(b.MatMul(x, b.Weight("w1", dt, ir.Shape{96, 64})))
	b.Output("y", b.Name(b.MatMul(h, b.Weight("w2", dt, ir.Shape{64, 96})), "y"))
	g, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, uint64(dt)))
	w := map[string]*ir.Frame{}
	for _, i := range g.OfKind(ir.KindWeight) {
		tt := &g.Tensors[i]
		v := make([]float32, tt.Shape.Elems())
		for j := range v {
			v[j] = float32(r.NormFloat64() * 0.2)
		}
		w[tt.Name] = frame(t, dt, tt.Shape, v)
	}
	return &models.Model{Name: "mlp-" + dt.String(), Graph: g, Weights: w}
}

// TestPrepareSplitsOps forces MatMuls to be split by rows with a budget
// below one weight's size, checks that each shard carries exactly rows
// [RowStart, RowEnd) of the source weight, and that the tasks together
// compute what the unsplit graph does.
func TestPrepareSplitsOps(t *testing.T) {
	for _, dt := range []ir.DType{ir.F32, ir.Q8_0} {
		t.Run(dt.String(), func(t *testing.T) {
			m := synthetic(t, dt)
			wb, _ := dt.Bytes(96 * 64)
			d, err := deploy.Prepare(m, wb/3, partition.CostModel{Chunk: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Plan.Shards) < 4 {
				t.Fatalf("%d split weights, want both MatMuls split", len(d.Plan.Shards))
			}
			checkSlices(t, m, d)
			checkAgainstWhole(t, m, d)
			assertRegisters(t, d)
		})
	}
}

// checkSlices compares every split weight in the shards with the bytes of
// its rows in the source weight.
func checkSlices(t *testing.T, m *models.Model, d *deploy.Deployment) {
	t.Helper()
	found := map[string]bool{}
	for i := range d.Tasks {
		b, err := d.Shard(i)
		if err != nil {
			t.Fatal(err)
		}
		s, err := shard.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range d.Plan.Shards {
			f, ok := s.Weights[sh.Name]
			if !ok {
				continue
			}
			found[sh.Name] = true
			src := m.Weights[sh.Source]
			row, _ := src.DType.Bytes(int64(src.Shape[1]))
			want := src.Data[int64(sh.RowStart)*row : int64(sh.RowEnd)*row]
			if f.DType != src.DType || !f.Shape.Equal(ir.Shape{sh.RowEnd - sh.RowStart, src.Shape[1]}) || !bytes.Equal(f.Data, want) {
				t.Fatalf("task %d: %s is %v %v, not rows [%d, %d) of %s", i, sh.Name, f.DType, f.Shape, sh.RowStart, sh.RowEnd, sh.Source)
			}
			if _, whole := s.Weights[sh.Source]; whole {
				t.Fatalf("task %d carries the whole %s besides its slice", i, sh.Source)
			}
		}
	}
	if len(found) != len(d.Plan.Shards) {
		t.Fatalf("%d of %d split weights are in some shard", len(found), len(d.Plan.Shards))
	}
}

// checkAgainstWhole runs the shards in sequence and the unsplit graph on the
// same rows and compares the outputs bit for bit.
func checkAgainstWhole(t *testing.T, m *models.Model, d *deploy.Deployment) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	const rows = 3
	x := exec.Tensor{DType: ir.F32, Shape: ir.Shape{rows, 64}, F32: make([]float32, rows*64)}
	for i := range x.F32 {
		x.F32[i] = float32(r.NormFloat64())
	}
	prog, err := exec.New(m.Graph, m, exec.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	want, err := prog.NewSession().Run(map[string]exec.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	got := newPipeline(t, d).step(t, map[string]exec.Tensor{"x": x})
	sameBits(t, "split tasks", [][]float32{got["y"].F32}, [][]float32{want["y"].F32})
}
