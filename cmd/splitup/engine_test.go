package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/gateway"
	"github.com/splitup/splitup/pipeline"
)

// pendingChain answers every execution query with one whose task 0 is never
// assigned.
type pendingChain struct{ chain.Client }

func (pendingChain) Query(ctx context.Context, path string, data []byte) ([]byte, error) {
	return json.Marshal(contract.ExecutionInfo{ID: 7, State: "running", Tasks: []contract.TaskInfo{{State: "pending"}}})
}

// A task no live node takes makes the session unavailable after the
// resolver's bound, not after the request's whole deadline.
func TestBoundedResolverUnavailable(t *testing.T) {
	r := boundedResolver{&pipeline.ChainResolver{Client: pendingChain{}, Exec: 7, Poll: time.Millisecond}, 50 * time.Millisecond}
	_, err := r.Peer(context.Background(), 0)
	if !errors.Is(err, gateway.ErrUnavailable) {
		t.Fatalf("Peer: %v; want ErrUnavailable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Peer(ctx, 0); errors.Is(err, gateway.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Peer with a cancelled request: %v; want context.Canceled", err)
	}
}

// The escrow covers the contract's quote: Σ price + ceil(price·p·Rv).
func TestExecutionFee(t *testing.T) {
	p := contract.DefaultParams() // p = 0.08, Rv = 1.2: surcharge 9.6 %
	m := &contract.ModelInfo{Tasks: []contract.TaskSpec{{ComputeUnits: 1000}, {ComputeUnits: 1}}}
	got, err := executionFee(p, m, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(10000 + 960 + 10 + 1); got != want {
		t.Errorf("fee %d, want %d", got, want)
	}
	m.Tasks[0].ComputeUnits = 1 << 40
	if _, err := executionFee(p, m, 1<<31); err == nil {
		t.Error("a fee over 2^64 was accepted")
	}
}
