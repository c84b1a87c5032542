package cli

import (
	"runtime"
	"testing"
)

func TestLimitProcs(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "")
	LimitProcs(8)
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("--threads 8 with GOMAXPROCS 4: GOMAXPROCS %d, want 4 (never raised)", got)
	}
	LimitProcs(1)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("--threads 1: GOMAXPROCS %d, want 1", got)
	}
	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "4")
	LimitProcs(1)
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Errorf("--threads 1 with $GOMAXPROCS=4: GOMAXPROCS %d, want 4", got)
	}
}
