package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/p2p"
)

// RecordPrefix starts the session id of a request for a recorded session:
// "record/<exec>/<task>". The answer is one StepResult holding every
// recorded tensor with all its rows, or an Error.
const RecordPrefix = "record/"

// RecordSource returns the record of a task of an execution, or nil.
type RecordSource func(exec uint64, task uint32) *Record

// Tolerance is the largest relative L1 distance between two f32 outputs
// that still counts as a match when their hashes differ (another backend's
// rounding). Bit-exact CPU kernels make equal hashes the normal case.
const Tolerance = 1e-4

// parseRecordID parses "record/<exec>/<task>".
func parseRecordID(s string) (uint64, uint32, bool) {
	rest, ok := strings.CutPrefix(s, RecordPrefix)
	if !ok {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(rest, "/")
	e, err1 := strconv.ParseUint(a, 10, 64)
	t, err2 := strconv.ParseUint(b, 10, 32)
	return e, uint32(t), ok && err1 == nil && err2 == nil
}

// serveRecord answers a record request on stream s.
func (w *Worker) serveRecord(s *p2p.Stream, m *p2p.OpenSession) {
	exec, task, ok := parseRecordID(m.SessionID)
	if !ok || task != m.TaskID {
		s.Send(errorf(p2p.CodeProtocol, "bad record request %q", m.SessionID))
		return
	}
	if w.fault != nil && w.fault.Withhold {
		s.Send(errorf(p2p.CodeUnknownSession, "no record of %d/%d", exec, task)) // misbehaviour under test
		return
	}
	var rec *Record
	if w.records != nil {
		rec = w.records(exec, task)
	}
	if rec == nil {
		s.Send(errorf(p2p.CodeUnknownSession, "no record of execution %d task %d here", exec, task))
		return
	}
	res := &p2p.StepResult{SessionID: m.SessionID}
	for _, name := range rec.Names() {
		res.Tensors = append(res.Tensors, p2p.NamedTensor{Name: name, Frame: *joinRows(rec.Rows(name))})
	}
	s.Send(res)
}

// joinRows concatenates one-row frames into one frame.
func joinRows(rows []*ir.Frame) *ir.Frame {
	if len(rows) == 0 {
		return &ir.Frame{DType: ir.F32, Shape: ir.Shape{0}}
	}
	f := &ir.Frame{DType: rows[0].DType, Shape: append(ir.Shape{len(rows)}, rows[0].Shape[1:]...)}
	for _, r := range rows {
		f.Data = append(f.Data, r.Data...)
	}
	return f
}

// openPipeline connects to the node at addr and opens a pipeline stream.
func openPipeline(ctx context.Context, h *p2p.Host, addr string) (*p2p.Stream, error) {
	pid, err := h.Connect(ctx, addr)
	if err != nil {
		return nil, err
	}
	return h.OpenPipeline(ctx, pid)
}

// FetchRecord asks the node at addr for its record of a task.
func FetchRecord(ctx context.Context, h *p2p.Host, addr string, model [32]byte, exec uint64, task uint32) (map[string]*ir.Frame, error) {
	s, err := openPipeline(ctx, h, addr)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	stop := context.AfterFunc(ctx, s.Reset)
	defer stop()
	id := fmt.Sprintf("%s%d/%d", RecordPrefix, exec, task)
	if err := s.Send(&p2p.OpenSession{SessionID: id, ModelID: model, TaskID: task}); err != nil {
		return nil, err
	}
	m, err := s.Recv()
	if err != nil {
		return nil, err
	}
	switch m := m.(type) {
	case *p2p.StepResult:
		out := map[string]*ir.Frame{}
		for i := range m.Tensors {
			out[m.Tensors[i].Name] = &m.Tensors[i].Frame
		}
		return out, nil
	case *p2p.Error:
		return nil, m
	}
	return nil, fmt.Errorf("record request: unexpected %v", m.Type())
}

// splitRows turns a frame with rows first into one-row frames.
func splitRows(f *ir.Frame) []*ir.Frame {
	r := &Record{rows: map[string][]*ir.Frame{}}
	r.add("x", f)
	return r.rows["x"]
}

// recomputeChunk is how many positions a recomputation runs per turn on
// the task's program. Between turns it lets go of the program, so a
// session of the same task served meanwhile waits for one chunk, not for
// the whole recomputation; a chunk this long still reads each weight once
// for many rows. The kernels are batch invariant, so the result is the
// one a single batched step gives.
var recomputeChunk = 64

// recompute runs a fresh session over inputs (every tensor with the same
// rows), recomputeChunk rows at a time, and returns the outputs with all
// rows.
func (lt *loadedTask) recompute(inputs map[string]exec.Tensor) (map[string]exec.Tensor, error) {
	rows := 0
	for _, t := range inputs {
		rows = t.Rows()
		break
	}
	if rows == 0 {
		return nil, errors.New("nothing recorded to recompute")
	}
	es := lt.prog.NewSession()
	outs := map[string]exec.Tensor{}
	for lo := 0; lo < rows; lo += recomputeChunk {
		hi := min(lo+recomputeChunk, rows)
		part := make(map[string]exec.Tensor, len(inputs))
		for name, t := range inputs {
			if len(t.Shape) == 0 || t.Rows() != rows {
				return nil, fmt.Errorf("input %q has shape %v; the others have %d rows", name, t.Shape, rows)
			}
			part[name] = rowSlice(t, lo, hi)
		}
		lt.mu.Lock()
		o, err := es.Run(part)
		lt.mu.Unlock()
		if err != nil {
			return nil, err
		}
		for name, t := range o {
			if len(t.Shape) == 0 || t.Rows() != hi-lo {
				return nil, fmt.Errorf("output %q has shape %v for %d rows", name, t.Shape, hi-lo)
			}
			outs[name] = appendRows(outs[name], t)
		}
	}
	return outs, nil
}

// rowSlice returns rows [lo, hi) of t (a view; t has rows).
func rowSlice(t exec.Tensor, lo, hi int) exec.Tensor {
	w := t.Len() / t.Rows()
	out := exec.Tensor{DType: t.DType, Shape: append(ir.Shape{hi - lo}, t.Shape[1:]...)}
	if t.DType == ir.I32 {
		out.I32 = t.I32[lo*w : hi*w]
	} else {
		out.F32 = t.F32[lo*w : hi*w]
	}
	return out
}

// appendRows returns acc with t's rows after its own.
func appendRows(acc, t exec.Tensor) exec.Tensor {
	if acc.Shape == nil {
		acc = exec.Tensor{DType: t.DType, Shape: append(ir.Shape{0}, t.Shape[1:]...)}
	}
	acc.Shape[0] += t.Rows()
	acc.F32 = append(acc.F32, t.F32...)
	acc.I32 = append(acc.I32, t.I32...)
	return acc
}

// Verdict is a validator's conclusion about one task.
type Verdict struct {
	// Outputs are the validator's own output roots (task interface order).
	Outputs []NamedRoot
	// Match says the outputs agree (equal roots or within Tolerance).
	Match bool
	// Reason explains a mismatch.
	Reason string
	// Rows is the number of positions recomputed.
	Rows int
	// Compute is the time the recomputation took.
	Compute time.Duration
}

// Recompute checks a recorded session of a loaded task that its node
// committed as steps steps: the recorded inputs must hash to inRoots; the
// task is rerun over all rows in one batched prefill on a fresh cache and
// its outputs compared with the recording; and the record must hold as
// many rows as the steps the node is paid for.
func (w *Worker) Recompute(key TaskKey, rec map[string]*ir.Frame, inRoots, outRoots []NamedRoot, steps int) (*Verdict, error) {
	lt := w.task(key)
	if lt == nil {
		return nil, fmt.Errorf("task %d is not loaded here", key.Task)
	}
	inputs := map[string]exec.Tensor{}
	for _, r := range inRoots {
		f := rec[r.Name]
		if f == nil || f.Check() != nil {
			return &Verdict{Reason: fmt.Sprintf("recorded input %q missing or malformed", r.Name)}, nil
		}
		if RowsRoot(splitRows(f)) != r.Root {
			return &Verdict{Reason: fmt.Sprintf("recorded input %q does not match its committed root", r.Name)}, nil
		}
		t, err := exec.FromFrame(f)
		if err != nil {
			return &Verdict{Reason: err.Error()}, nil
		}
		inputs[r.Name] = t
	}
	start := time.Now()
	outs, err := lt.recompute(inputs)
	v := &Verdict{Compute: time.Since(start), Match: true}
	if err != nil {
		return &Verdict{Reason: "recompute: " + err.Error()}, nil
	}
	for _, r := range outRoots {
		t, ok := outs[r.Name]
		if !ok {
			return nil, fmt.Errorf("task has no output %q", r.Name)
		}
		mine := t.Frame()
		v.Rows = t.Rows()
		root := RowsRoot(splitRows(mine))
		v.Outputs = append(v.Outputs, NamedRoot{Name: r.Name, Root: root})
		if root == r.Root {
			continue
		}
		theirs := rec[r.Name]
		if theirs == nil || !close(mine, theirs) {
			v.Match, v.Reason = false, fmt.Sprintf("output %q differs from the recomputation", r.Name)
		}
	}
	if v.Match && v.Rows != steps {
		// The roots check out, but the node claims pay for steps it did
		// not run: disagree with zero roots (equal roots would count as
		// agreement).
		v.Match, v.Reason = false, fmt.Sprintf("the record holds %d rows; the commitment claims %d steps", v.Rows, steps)
		for i := range v.Outputs {
			v.Outputs[i].Root = [32]byte{}
		}
	}
	return v, nil
}

// close reports whether two f32 frames of equal shape are within Tolerance
// (relative L1). Any NaN or shape difference is a mismatch.
func close(a, b *ir.Frame) bool {
	if a.DType != ir.F32 || b.DType != ir.F32 || !a.Shape.Equal(b.Shape) || len(a.Data) != len(b.Data) {
		return false
	}
	var diff, norm float64
	for i := 0; i+4 <= len(a.Data); i += 4 {
		x := float64(math.Float32frombits(binary.LittleEndian.Uint32(a.Data[i:])))
		y := float64(math.Float32frombits(binary.LittleEndian.Uint32(b.Data[i:])))
		if math.IsNaN(x) || math.IsNaN(y) {
			return false
		}
		diff += math.Abs(x - y)
		norm += math.Abs(x)
	}
	return diff <= Tolerance*math.Max(norm, 1e-30)
}

// errWithheld marks an asserter that did not serve its record.
var errWithheld = errors.New("asserter did not serve its record")

// verify runs one drawn verification and submits the verdict.
func (d *Daemon) verify(ctx context.Context, execID uint64, task uint32, asserter string) error {
	e, err := d.execution(ctx, execID)
	if err != nil {
		return err
	}
	if int(task) >= len(e.Tasks) {
		return fmt.Errorf("execution %d has no task %d", execID, task)
	}
	t := &e.Tasks[task]
	key := TaskKey{Model: e.Model, Task: task}
	m, err := d.model(ctx, e.Model)
	if err != nil {
		return err
	}
	spec := &m.Tasks[task]
	var v *Verdict
	addr := d.nodeAddr(ctx, t.Node)
	fctx, cancel := context.WithTimeout(ctx, d.cfg.RecordTimeout)
	rec, ferr := FetchRecord(fctx, d.cfg.Host, addr, e.Model, execID, task)
	cancel()
	if ferr != nil {
		d.cfg.Log.Info("asserter withheld its record", "exec", execID, "task", task, "err", ferr)
		v = &Verdict{Reason: fmt.Sprintf("%v: %v", errWithheld, ferr)}
		for _, o := range spec.Outputs {
			v.Outputs = append(v.Outputs, NamedRoot{Name: o.Name})
		}
	} else {
		v, err = d.worker.Recompute(key, rec, rootsOf(t.Inputs), rootsOf(t.Outputs), int(t.Steps))
		if err != nil {
			return err
		}
		if v.Outputs == nil { // inputs did not check out: disagree with zero roots
			for _, o := range spec.Outputs {
				v.Outputs = append(v.Outputs, NamedRoot{Name: o.Name})
			}
		}
	}
	d.noteVerification(v)
	msg := &contract.SubmitVerification{Exec: execID, Task: task, Match: v.Match, Outputs: ordered(spec.Outputs, v.Outputs)}
	err = d.send(ctx, msg)
	d.cfg.Log.Info("verified", "exec", execID, "task", task, "match", v.Match, "reason", v.Reason, "rows", v.Rows, "compute", v.Compute)
	return err
}

func rootsOf(rs []contract.TensorRoot) []NamedRoot {
	out := make([]NamedRoot, len(rs))
	for i, r := range rs {
		out[i] = NamedRoot{Name: r.Name, Root: r.Root}
	}
	return out
}

// nodeAddr returns a node's registered p2p address.
func (d *Daemon) nodeAddr(ctx context.Context, a contract.Address) string {
	n, err := d.nodeInfo(ctx, a)
	if err != nil {
		return ""
	}
	return n.P2PAddr
}
