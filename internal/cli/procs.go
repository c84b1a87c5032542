package cli

import (
	"os"
	"runtime"
)

// LimitProcs runs the process's Go code on at most threads CPUs
// (GOMAXPROCS) unless $GOMAXPROCS is set; it never raises the limit. A
// program that computes on threads goroutines gains nothing from more Ps:
// they only let the runtime wake spare threads for its other goroutines,
// which then take a CPU from a compute thread.
func LimitProcs(threads int) {
	if os.Getenv("GOMAXPROCS") == "" && threads < runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(threads)
	}
}
