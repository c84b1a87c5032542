package gateway

import (
	"context"
	"slices"
	"testing"

	"github.com/splitup/splitup/wire"
)

// TestSessionSizedToRequest: an engine that can size its sessions gets the
// prompt's tokens plus max_tokens, at most the context, for every session
// of a request (a rebuilt one too), and the text is what an unsized engine
// gives.
func TestSessionSizedToRequest(t *testing.T) {
	e := &sizedEngine{testEngine: newTestEngine()}
	svc, err := NewService(Config{Models: []Model{{ID: testModel, Engine: e, Tokenizer: byteTokenizer{}, BOS: 1, EOS: 2, ContextLength: 64}}, MaxRebuilds: 2})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewService(Config{Models: []Model{{ID: testModel, Engine: newTestEngine(), Tokenizer: byteTokenizer{}, BOS: 1, EOS: 2, ContextLength: 64}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := wire.GenerateRequest{Model: testModel, Prompt: "abc", MaxTokens: 5, TopP: 1}
	got, err := svc.Generate(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plain.Generate(ctx, req, nil)
	if err != nil || got.Text != want.Text {
		t.Fatalf("sized session wrote %q, unsized %q (%v)", got.Text, want.Text, err)
	}
	if _, err := svc.Generate(ctx, wire.GenerateRequest{Model: testModel, Prompt: "abc", MaxTokens: 1000, TopP: 1}, nil); err != nil {
		t.Fatal(err)
	}
	// A lost session is rebuilt with the same size.
	fired := false
	e.fail = func(call, pos int) error {
		if pos > 0 && !fired {
			fired = true
			return ErrSessionLost
		}
		return nil
	}
	if _, err := svc.Generate(ctx, wire.GenerateRequest{Model: testModel, Prompt: "abcdef", MaxTokens: 4, TopP: 1}, nil); err != nil || !fired {
		t.Fatalf("a generation with a lost session: %v (lost: %v)", err, fired)
	}
	// BOS + 3 bytes + 5; BOS + 3 bytes + 1000 capped at the context; BOS + 6 bytes + 4, twice.
	if want := []int{9, 64, 11, 11}; !slices.Equal(e.sizes, want) {
		t.Fatalf("sessions opened for %v positions, want %v", e.sizes, want)
	}
}
