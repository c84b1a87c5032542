package node

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"

	"github.com/splitup/splitup/ir"
)

// Fault injects misbehaviour into a node, for tests of Proof of Sampling
// only. It is off unless splitup-node is started with --fault.
type Fault struct {
	// WrongOutputRate is the probability that a step's outputs are perturbed.
	WrongOutputRate float64
	// Withhold makes the node refuse to serve its recorded tensors.
	Withhold bool
	// Deaf makes the node ignore the chain's events of verification
	// requests: it learns of its requests only by asking the chain, as a
	// node does that missed their events.
	Deaf bool
	// AfterRun, when set, is called after each step's computation with the
	// task and the step's index, before anything is sent (a test stops the
	// node there to lose it in the middle of a step).
	AfterRun func(task uint32, step uint64)
	// AfterRelay, when set, is called after a routed step's outputs went to
	// the next stage and before the answer to the client.
	AfterRelay func(task uint32, step uint64)

	mu  sync.Mutex // guards rng
	rng *rand.Rand
}

// ParseFault parses "wrong-output=RATE", "withhold" or "deaf"
// (comma-separated).
func ParseFault(s string, seed uint64) (*Fault, error) {
	f := &Fault{rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	for _, part := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "wrong-output":
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || r > 1 {
				return nil, fmt.Errorf("fault wrong-output=%q: want a rate between 0 and 1", v)
			}
			f.WrongOutputRate = r
		case "withhold":
			f.Withhold = true
		case "deaf":
			f.Deaf = true
		default:
			return nil, fmt.Errorf("unknown fault %q (want wrong-output=RATE, withhold or deaf)", part)
		}
	}
	return f, nil
}

// afterRun calls AfterRun if set. A nil Fault does nothing.
func (f *Fault) afterRun(task uint32, step uint64) {
	if f != nil && f.AfterRun != nil {
		f.AfterRun(task, step)
	}
}

// afterRelay calls AfterRelay if set. A nil Fault does nothing.
func (f *Fault) afterRelay(task uint32, step uint64) {
	if f != nil && f.AfterRelay != nil {
		f.AfterRelay(task, step)
	}
}

// perturb changes the first element x of an f32 frame to 1.5x+1 with
// probability WrongOutputRate: far outside any rounding tolerance, as a
// node that skipped or faked the work would be. A nil Fault does nothing.
func (f *Fault) perturb(fr *ir.Frame) {
	if f == nil || f.WrongOutputRate == 0 || fr.DType != ir.F32 || len(fr.Data) < 4 {
		return
	}
	f.mu.Lock()
	hit := f.rng.Float64() < f.WrongOutputRate
	f.mu.Unlock()
	if hit {
		fr.Data = append([]byte(nil), fr.Data...)
		x := math.Float32frombits(binary.LittleEndian.Uint32(fr.Data))
		binary.LittleEndian.PutUint32(fr.Data, math.Float32bits(float32(1.5*x)+1))
	}
}
