package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// small keeps CLI simulations fast.
var small = []string{"--trials", "10", "--executions", "1000", "--cheaters", "40"}

func runSim(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"sim", "posp"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func simJSONOf(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errs := runSim(t, append(append([]string{"--json"}, small...), args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	for _, k := range []string{"threshold_p", "cheater_profit_mean", "ci_low", "ci_high", "expected_profit", "verdict"} {
		if _, ok := m[k]; !ok {
			t.Errorf("--json output lacks %q", k)
		}
	}
	return m
}

func TestSimPoSPSeedAndDefaults(t *testing.T) {
	seed := simJSONOf(t, "--p", "0.08", "--slash", "10", "--reward", "1", "--collusion", "0.1")
	if lo := seed["ci_low"].(float64); !(lo > 0) || seed["verdict"] != "pays" {
		t.Errorf("seed parameters: ci_low %v, verdict %v; want > 0, pays", lo, seed["verdict"])
	}
	def := simJSONOf(t)
	if hi := def["ci_high"].(float64); !(hi < 0) || def["verdict"] != "does not pay" {
		t.Errorf("defaults: ci_high %v, verdict %v; want < 0, does not pay", hi, def["verdict"])
	}
	if p, s := def["p"].(float64), def["slash"].(float64); p != 0.08 || s != 20 {
		t.Errorf("defaults are p %v, slash %v; want 0.08, 20", p, s)
	}
}

func TestSimPoSPText(t *testing.T) {
	code, out, errs := runSim(t, append(small, "--slash", "10")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"p* = C/((1−r)(R+S)) = 0.1010", "E = C − p(1−r)(R+S) = +0.2080", "95% CI", "verdict: cheating pays"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestSimPoSPDeterministic(t *testing.T) {
	args := append(small, "--seed", "7", "--json")
	_, a, _ := runSim(t, args...)
	_, b, _ := runSim(t, args...)
	if a != b || a == "" {
		t.Errorf("two runs with --seed 7 differ")
	}
	_, c, _ := runSim(t, append(small, "--seed", "8", "--json")...)
	if a == c {
		t.Errorf("--seed 7 and --seed 8 gave the same output")
	}
}

func TestSimPoSPSweepPlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "posp.svg")
	code, out, errs := runSim(t, "--trials", "3", "--executions", "200", "--points", "5", "--plot", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var m struct {
		ThresholdP float64 `json:"threshold_p"`
		Sweep      struct {
			Param    string           `json:"param"`
			Critical *float64         `json:"critical"`
			Points   []map[string]any `json:"points"`
		} `json:"sweep"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("--json output does not parse: %v", err)
	}
	if m.Sweep.Param != "p" || len(m.Sweep.Points) != 5 || m.Sweep.Critical == nil || *m.Sweep.Critical != m.ThresholdP {
		t.Errorf("sweep: param %q, %d points, critical %v, threshold %v; want p, 5, equal", m.Sweep.Param, len(m.Sweep.Points), m.Sweep.Critical, m.ThresholdP)
	}
	svg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("threshold p*")) {
		t.Errorf("%s is not the plot: %.80s", path, svg)
	}

	code, out, errs = runSim(t, "--trials", "3", "--executions", "200", "--sweep", "collusion", "--points", "3")
	if code != 0 || !strings.Contains(out, "sweep over colluding fraction r") || strings.Contains(out, "wrote the plot") {
		t.Errorf("--sweep collusion: exit %d\n%s%s", code, out, errs)
	}
}

func TestSimPoSPUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--p", "1.5"}, "--p 1.5: the verification probability must be in [0, 1]"},
		{[]string{"--p", "abc"}, `--p "abc" is not a valid value: give a number, e.g. --p 0.08`},
		{[]string{"--trials", "1.5"}, `--trials "1.5" is not a valid value: give a number, e.g. --trials 100`},
		{[]string{"--collusion", "1"}, "--collusion 1: the colluding fraction must be in [0, 1)"},
		{[]string{"--slash", "-3"}, "--slash -3: the slash must be ≥ 0"},
		{[]string{"--trials", "1"}, "--trials 1: need between 2"},
		{[]string{"--cheaters", "95"}, "--collusion 0.1: needs 10 colluding validators"},
		{[]string{"--sweep", "stake"}, "--sweep stake: unknown parameter; use p, slash, reward or collusion"},
		{[]string{"--plot", "out.png"}, "only SVG is drawn; name the file with .svg"},
		{[]string{"--from", "0.1"}, "--from only applies to a sweep; add --sweep p"},
		{[]string{"--sweep", "p", "--from", "0.2", "--to", "0.1"}, "the sweep needs from < to"},
		{[]string{"--sweep", "p", "--to", "2"}, "--to 2: p = 2: the verification probability must be in [0, 1]"},
		{[]string{"--sweep", "p", "--points", "1"}, "--points 1: a sweep needs between 2 and 1000 points"},
		{[]string{"--frobnicate"}, "unknown flag -frobnicate; the flags are --cheaters, --collusion"},
		{[]string{"0.08"}, `unexpected argument "0.08": sim posp takes only flags`},
	} {
		code, out, errs := runSim(t, tc.args...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want exit 2 and no output", tc.args, code, out)
		}
		if !strings.Contains(errs, tc.want) || !strings.Contains(errs, "run 'splitup sim posp -h' for usage") {
			t.Errorf("%v: stderr\n%s\nwant it to contain %q and the usage hint", tc.args, errs, tc.want)
		}
	}
}

func TestSimPoSPHelp(t *testing.T) {
	code, out, errs := runSim(t, "-h")
	if code != 0 || errs != "" {
		t.Fatalf("-h: exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{"usage: splitup sim posp", "-collusion r", "-plot FILE.svg", "p* = C / ((1−r)(R+S))"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}
