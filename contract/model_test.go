package contract

import (
	"slices"
	"strings"
	"testing"
)

// TestValidateModel checks the topological order and every DAG rule.
func TestValidateModel(t *testing.T) {
	g, reason := validateModel(diamondModel("d", 1, 1))
	if reason != "" {
		t.Fatal(reason)
	}
	if !slices.Equal(g.order, []int{0, 1, 2, 3}) || !slices.Equal(g.preds[3], []int{1, 2}) {
		t.Fatalf("order %v preds %v", g.order, g.preds)
	}
	// A DAG listed out of order still sorts topologically.
	m := chainModel("c", 3, 1, 1)
	m.Tasks[0], m.Tasks[2] = m.Tasks[2], m.Tasks[0]
	if g, reason = validateModel(m); reason != "" || !slices.Equal(g.order, []int{2, 1, 0}) {
		t.Fatalf("reordered chain: %q %v", reason, g)
	}
	for name, mut := range map[string]func(*RegisterModel){
		"cycle": func(m *RegisterModel) {
			m.Tasks[0].Inputs = []TensorSpec{m.Tasks[2].Outputs[0]}
			m.Outputs = m.Tasks[1].Outputs
		},
		"self":         func(m *RegisterModel) { m.Tasks[1].Inputs = m.Tasks[1].Outputs },
		"dtype":        func(m *RegisterModel) { m.Tasks[1].Inputs[0].DType = "bf16" },
		"unknown type": func(m *RegisterModel) { m.Tasks[1].Inputs[0].DType = "f64" },
		"shape":        func(m *RegisterModel) { m.Tasks[1].Inputs[0].Shape = []int64{-1, 65} },
		"zero dim":     func(m *RegisterModel) { m.Tasks[1].Outputs[0].Shape = []int64{0} },
		"no producer":  func(m *RegisterModel) { m.Tasks[1].Inputs[0].Name = "nope" },
		"two outputs":  func(m *RegisterModel) { m.Tasks[2].Outputs[0].Name = "h0" },
		"input shadow": func(m *RegisterModel) { m.Tasks[0].Outputs[0].Name = "tokens" },
		"bad output":   func(m *RegisterModel) { m.Outputs[0].Name = "h0x" },
		"no vram":      func(m *RegisterModel) { m.Tasks[0].VRAMBytes = 0 },
		"no cu":        func(m *RegisterModel) { m.Tasks[0].ComputeUnits = 0 },
		"no tasks":     func(m *RegisterModel) { m.Tasks = nil },
		"dup input":    func(m *RegisterModel) { m.Tasks[0].Inputs = append(m.Tasks[0].Inputs, m.Tasks[0].Inputs[0]) },
	} {
		m := chainModel("c", 3, 1, 1)
		mut(m)
		if _, reason := validateModel(m); reason == "" {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(reason, "%!") {
			t.Errorf("%s: bad log %q", name, reason)
		}
	}
}
