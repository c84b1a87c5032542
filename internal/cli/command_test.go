package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var got []string
	cmds := []Command{
		{Name: "chain", Summary: "s", Run: func(_ context.Context, a []string, _, _ io.Writer) error { got = a; return nil }},
		{Name: "chain init", Summary: "s", Run: func(_ context.Context, a []string, _, _ io.Writer) error { return Usagef("bad %s", "flag") }},
		{Name: "fail", Summary: "s", Run: func(context.Context, []string, io.Writer, io.Writer) error { return errors.New("boom") }},
		{Name: "help", Summary: "s", Run: func(context.Context, []string, io.Writer, io.Writer) error { return ErrHelp }},
	}
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"chain", "x"}, 0, ""},
		{[]string{"chain", "init", "--y"}, 2, "prog: error: bad flag\nrun 'prog chain init -h' for usage"},
		{[]string{"fail"}, 1, "prog: error: boom"},
		{[]string{"help"}, 0, ""},
		{[]string{"nope"}, 2, "prog: error: unknown command \"nope\""},
		{nil, 0, "usage: prog <command>"},
	}
	for _, c := range cases {
		var errb bytes.Buffer
		if code := Run(context.Background(), "prog", cmds, c.args, io.Discard, &errb); code != c.code || !strings.Contains(errb.String(), c.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errb.String(), c.code, c.stderr)
		}
	}
	if len(got) != 1 || got[0] != "x" {
		t.Errorf("chain got args %v, want [x]", got)
	}
}
