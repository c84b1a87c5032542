package contract

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// busyState runs a scenario script and returns the final state.
func busyState(t testing.TB, file string) *State {
	cases, _ := parseScenario(t, file)
	r := &runner{t: t}
	for _, c := range cases {
		r.run(c.cmd)
	}
	return r.h.s
}

// TestSnapshotRoundTrip loads the snapshot at the end of every scenario.
func TestSnapshotRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, file := range files {
		s := busyState(t, file)
		snap := s.Snapshot()
		r, err := LoadState(snap)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !bytes.Equal(r.Snapshot(), snap) || r.AppHash() != s.AppHash() || r.Height() != s.Height() {
			t.Fatalf("%s: snapshot round trip differs", file)
		}
	}
}

// TestLoadStateRejects checks that broken snapshots are refused.
func TestLoadStateRejects(t *testing.T) {
	snap := busyState(t, "testdata/slash.txt").Snapshot()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XXXX"), snap[4:]...),
		"version":   append([]byte("SUST\x09"), snap[5:]...),
		"truncated": snap[:len(snap)-1],
		"trailing":  append(bytes.Clone(snap), 1),
	} {
		if _, err := LoadState(b); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: want ErrDecode, got %v", name, err)
		}
	}
}

// FuzzLoadState: garbage never panics, accepted bytes re-encode identically,
// and an accepted state survives queries and EndBlock.
func FuzzLoadState(f *testing.F) {
	for _, file := range []string{"testdata/happy.txt", "testdata/slash.txt", "testdata/lifecycle.txt"} {
		if _, err := os.Stat(file); err == nil {
			f.Add(busyState(f, file).Snapshot())
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := LoadState(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Snapshot(), b) {
			t.Fatal("load→snapshot changed the bytes")
		}
		for _, p := range []string{"params", "supply", "nodes", "models", "executions", "execution/1"} {
			s.Query(p, nil)
		}
		s.EndBlock() // must not panic on any accepted state
	})
}
