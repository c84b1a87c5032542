package ir

import "fmt"

// VerifyError locates a fault in a graph. It wraps one of the Err sentinels.
type VerifyError struct {
	// Tensor is the index of the offending tensor, or -1 for graph-level faults.
	Tensor int
	// Name is the tensor's name, if any.
	Name string
	// Err is the wrapped cause.
	Err error
}

func (e *VerifyError) Error() string {
	if e.Tensor < 0 {
		return "verify graph: " + e.Err.Error()
	}
	return fmt.Sprintf("verify graph: tensor %d %q: %v", e.Tensor, e.Name, e.Err)
}

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }

// Verify checks that g is well formed: known kinds, ops and dtypes, valid
// and bounded shapes, unique names, operands that exist and type-check,
// no cycles, and at least one output. Errors are *VerifyError wrapping
// ErrCycle, ErrUnknownOp, ErrDType, ErrShape, ErrTooLarge or ErrGraph.
func (g *Graph) Verify() error {
	if len(g.Tensors) > MaxTensors {
		return &VerifyError{-1, "", fmt.Errorf("%w: %d tensors > %d", ErrTooLarge, len(g.Tensors), MaxTensors)}
	}
	names := make(map[string]int, len(g.Tensors))
	for i := range g.Tensors {
		t := &g.Tensors[i]
		if err := verifyTensor(t); err != nil {
			return &VerifyError{i, t.Name, err}
		}
		if t.Name != "" {
			if j, dup := names[t.Name]; dup {
				return &VerifyError{i, t.Name, fmt.Errorf("%w: name also used by tensor %d", ErrGraph, j)}
			}
			names[t.Name] = i
		}
	}
	if _, err := g.Order(); err != nil {
		return &VerifyError{-1, "", err}
	}
	for i := range g.Tensors {
		t := &g.Tensors[i]
		if t.Kind != KindValue {
			continue
		}
		dt, s, err := infer(g, t.Op, t.Args, &t.Attrs)
		if err != nil {
			return &VerifyError{i, t.Name, err}
		}
		if dt != t.DType || !s.Equal(t.Shape) {
			return &VerifyError{i, t.Name, fmt.Errorf("%w: %v yields %v %v, tensor says %v %v", ErrShape, t.Op, dt, s, t.DType, t.Shape)}
		}
	}
	return g.verifyOutputs()
}

func verifyTensor(t *Tensor) error {
	if len(t.Name) > MaxName {
		return fmt.Errorf("%w: name of %d bytes > %d", ErrTooLarge, len(t.Name), MaxName)
	}
	if t.Kind > KindState {
		return fmt.Errorf("%w: unknown kind %d", ErrGraph, t.Kind)
	}
	if !t.DType.Valid() {
		return fmt.Errorf("%w: %v", ErrDType, t.DType)
	}
	if err := checkShape(t.Shape); err != nil {
		return err
	}
	if t.Kind == KindValue {
		if !t.Op.Valid() || t.Op == OpNone {
			return fmt.Errorf("%w: %v", ErrUnknownOp, t.Op)
		}
		return nil
	}
	if t.Op != OpNone || len(t.Args) != 0 || !t.Attrs.isZero() {
		return fmt.Errorf("%w: a %v has no op, operands or attributes", ErrGraph, t.Kind)
	}
	if t.Name == "" {
		return fmt.Errorf("%w: a %v needs a name", ErrGraph, t.Kind)
	}
	if t.Kind != KindWeight && t.DType.Quantized() {
		return fmt.Errorf("%w: only weights may be %v", ErrDType, t.DType)
	}
	if t.Kind == KindWeight {
		if _, err := t.DType.Bytes(t.Shape.Elems()); err != nil {
			return err
		}
	}
	return nil
}

func (g *Graph) verifyOutputs() error {
	if len(g.Outputs) == 0 {
		return &VerifyError{-1, "", fmt.Errorf("%w: no outputs", ErrGraph)}
	}
	seen := make(map[string]bool, len(g.Outputs))
	for _, o := range g.Outputs {
		if o.Name == "" || len(o.Name) > MaxName || seen[o.Name] {
			return &VerifyError{-1, "", fmt.Errorf("%w: output name %q is empty, too long or repeated", ErrGraph, o.Name)}
		}
		seen[o.Name] = true
		if o.Tensor < 0 || o.Tensor >= len(g.Tensors) || !g.Tensors[o.Tensor].Kind.Batched() {
			return &VerifyError{-1, "", fmt.Errorf("%w: output %q refers to tensor %d, which is not an input or value", ErrGraph, o.Name, o.Tensor)}
		}
	}
	return nil
}
