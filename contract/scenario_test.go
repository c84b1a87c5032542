package contract

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata scenarios")

// scenarioCase is one command of a script with the lines before it.
type scenarioCase struct {
	pre      []string // comment and blank lines before the command
	cmd      string
	line     int
	expected string
}

// TestScenarios runs the scripts in testdata/*.txt. Each case is a command
// line, a "----" line and the expected output up to a blank line. Lines
// starting with '#' are comments. Run with -rewrite to regenerate outputs.
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScenario(t, file) })
	}
}

func parseScenario(t testing.TB, file string) ([]scenarioCase, []string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var cases []scenarioCase
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		c := scenarioCase{pre: pre, cmd: l, line: i + 1}
		pre = nil
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command without ---- line", file, i+1)
		}
		i += 2
		var exp []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			exp = append(exp, lines[i])
		}
		c.expected = strings.Join(exp, "\n")
		cases = append(cases, c)
	}
	return cases, pre
}

func runScenario(t *testing.T, file string) {
	cases, tail := parseScenario(t, file)
	r := &runner{t: t}
	var out strings.Builder
	for _, c := range cases {
		got := strings.TrimRight(r.run(c.cmd), "\n")
		if got == "" {
			got = "(none)"
		}
		if !*rewrite && got != c.expected {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, c.line, c.cmd, got, c.expected)
		}
		for _, p := range c.pre {
			out.WriteString(p + "\n")
		}
		out.WriteString(c.cmd + "\n----\n" + got + "\n\n")
	}
	for _, p := range tail {
		if p != "" {
			out.WriteString(p + "\n")
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runner interprets scenario commands against a harness.
type runner struct {
	t testing.TB
	h *harness
}

// args splits "k=v" words from positional ones.
type args struct {
	pos []string
	kv  map[string]string
}

func parseArgs(words []string) args {
	a := args{kv: map[string]string{}}
	for _, w := range words {
		if k, v, found := strings.Cut(w, "="); found {
			a.kv[k] = v
		} else {
			a.pos = append(a.pos, w)
		}
	}
	return a
}

func (a args) str(k, def string) string {
	if v, found := a.kv[k]; found {
		return v
	}
	return def
}

func (a args) num(k string, def uint64) uint64 {
	v, found := a.kv[k]
	if !found {
		return def
	}
	return parseAmount(v)
}

// parseAmount reads "12t" as 12 tokens, "3s" as seconds in ns, else base units.
func parseAmount(v string) uint64 {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(v, "t"):
		v, mult = strings.TrimSuffix(v, "t"), Token
	case strings.HasSuffix(v, "s"):
		v, mult = strings.TrimSuffix(v, "s"), uint64(Second)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("bad number %q", v))
	}
	return n * mult
}

func (r *runner) run(cmd string) string {
	words := strings.Fields(cmd)
	a := parseArgs(words[1:])
	if words[0] != "genesis" && r.h == nil {
		return "error: no genesis"
	}
	switch words[0] {
	case "genesis":
		return r.genesis(a)
	case "model":
		return r.model(a)
	case "tx":
		return r.tx(a)
	case "badtx":
		return r.badTx(a)
	case "next":
		return r.next(a)
	case "balances":
		return r.balances(a)
	case "exec":
		return r.exec(a)
	case "node":
		return r.node(a)
	case "check":
		return r.check()
	case "query":
		return r.query(a)
	case "verifications":
		return r.verifications(a)
	}
	return "error: unknown command " + words[0]
}

// withParams overrides params fields by their JSON names.
func withParams(p Params, kv map[string]string) (Params, error) {
	m := map[string]any{}
	b, _ := json.Marshal(p)
	_ = json.Unmarshal(b, &m)
	for k, v := range kv {
		if _, known := m[k]; !known {
			return p, fmt.Errorf("unknown param %q", k)
		}
		m[k] = parseAmount(v)
	}
	b, _ = json.Marshal(m)
	var out Params
	err := json.Unmarshal(b, &out)
	return out, err
}

func (r *runner) genesis(a args) string {
	p, err := withParams(testParams(), a.kv)
	if err != nil {
		return "error: " + err.Error()
	}
	if _, err := NewState(testGenesis(p)); err != nil {
		return "error: " + err.Error()
	}
	r.h = newHarness(r.t, p)
	return fmt.Sprintf("ok height=%d supply=%d", r.h.s.Height(), r.h.s.Supply())
}

func (r *runner) result(res TxResult) string {
	if res.Code != CodeOK {
		return fmt.Sprintf("code=%d %s: %s", res.Code, codeNames[res.Code], res.Log)
	}
	lines := []string{"ok"}
	for _, e := range res.Events {
		lines = append(lines, r.h.fmtEvent(e))
	}
	return strings.Join(lines, "\n")
}

var codeNames = map[uint32]string{
	CodeOK: "OK", CodeDecode: "Decode", CodeBadSignature: "BadSignature", CodeWrongChainID: "WrongChainID",
	CodeReplayedNonce: "ReplayedNonce", CodeFutureNonce: "FutureNonce", CodeInsufficientFee: "InsufficientFee",
	CodeInsufficient: "Insufficient", CodeOverflow: "Overflow", CodeInvalidMsg: "InvalidMsg", CodeNotFound: "NotFound",
	CodeExists: "Exists", CodeUnauthorized: "Unauthorized", CodeBadState: "BadState", CodeInvalidDAG: "InvalidDAG",
	CodeStakeTooLow: "StakeTooLow", CodeCustody: "Custody", CodeBadParams: "BadParams", CodeBadSigner: "BadSigner",
}
