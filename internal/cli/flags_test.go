package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestParseFlags: a bad flag is one UsageError and nothing printed by the
// flag set (Run prints it once); -h prints the usage and is ErrHelp.
func TestParseFlags(t *testing.T) {
	newSet := func(out *bytes.Buffer) *flag.FlagSet {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.SetOutput(out)
		fs.Int("n", 1, "a number")
		fs.Usage = func() { out.WriteString("usage: x [--n N]\n"); fs.PrintDefaults() }
		return fs
	}
	for _, args := range [][]string{{"--bogus"}, {"--n", "abc"}} {
		var out bytes.Buffer
		err := ParseFlags(newSet(&out), args)
		var ue UsageError
		if !errors.As(err, &ue) || out.Len() != 0 {
			t.Errorf("%v: error %v, printed %q; want a UsageError and nothing printed", args, err, out.String())
		}
	}
	var out bytes.Buffer
	fs := newSet(&out)
	if err := ParseFlags(fs, []string{"-h"}); !errors.Is(err, ErrHelp) || !strings.Contains(out.String(), "usage: x") || !strings.Contains(out.String(), "a number") {
		t.Errorf("-h: error %v, printed %q; want ErrHelp and the usage", err, out.String())
	}
	if err := ParseFlags(fs, []string{"--n", "3"}); err != nil || fs.Lookup("n").Value.String() != "3" {
		t.Errorf("--n 3: %v", err)
	}
	var stderr bytes.Buffer
	Run(t.Context(), "prog", []Command{{Name: "x", Run: func(_ context.Context, args []string, _, _ io.Writer) error {
		return ParseFlags(newSet(&stderr), args)
	}}}, []string{"x", "--bogus"}, &bytes.Buffer{}, &stderr)
	if n := strings.Count(stderr.String(), "bogus"); n != 1 {
		t.Errorf("a bad flag is named %d times on stderr, want once:\n%s", n, stderr.String())
	}
}
