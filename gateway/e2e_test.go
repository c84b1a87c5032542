package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/splitup/splitup/exec"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/models/tokenizer"
	"github.com/splitup/splitup/wire"
)

// sharedModels is ../shared/models seen from this package's directory.
const sharedModels = "../../shared/models"

// stories260KGreedy is llama2.c's expected output for
// `run stories260K.bin -z tok512.bin -t 0.0 -n 200`.
const stories260KGreedy = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n" +
	"Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\n" +
	"Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\n" +
	"Lily didn't want to help her mom, so she"

// stories260KNucleus is llama2.c's output for `-t 1 -p 0.95 -s 42 -n 200`.
const stories260KNucleus = "Once upon a time, there was a little boy named Timmy. Timmy loved going to the park with his mom. One day, Lily went outside to play outside in her pocket. He was scared and didn't know where to buy some colorful animals.\n" +
	"Later that day, Timmy's mom came outside and saw Timmy just playing in the shore. She didn't see that made him happy, but Timmy's mom said he had to sort his cobwebs and write cold colors. Timmy asked his mom if he was amazed! His mom"

// execEngine runs a whole model in process with package exec. It is the
// test's own adapter; the production one lives with the wiring.
type execEngine struct{ prog *exec.Program }

func (e execEngine) NewSession(context.Context) (Session, error) {
	return &execSession{s: e.prog.NewSession()}, nil
}

type execSession struct{ s *exec.Session }

func (s *execSession) Forward(ctx context.Context, tokens []int32, pos int) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := make([]int32, len(tokens))
	for i := range p {
		p[i] = int32(pos + i)
	}
	out, err := s.s.Run(map[string]exec.Tensor{"tokens": exec.I32s(tokens...), "pos": exec.I32s(p...)})
	if err != nil {
		return nil, err
	}
	l, ok := out["logits"]
	if !ok {
		return nil, fmt.Errorf("the graph has no logits output")
	}
	return l.Row(l.Rows() - 1), nil
}

func (s *execSession) Close() error { return nil }

// stories260K serves ../shared/models/stories260K.bin with tok512.bin.
func stories260K(t *testing.T, edit func(*Config, *ServerConfig)) (*Service, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the end-to-end test through stories260K")
	}
	bin := filepath.Join(sharedModels, "stories260K.bin")
	tokPath := filepath.Join(sharedModels, "tok512.bin")
	for _, p := range []string{bin, tokPath} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("reference model missing (%v); the end-to-end test needs ../shared/models beside the checkout", err)
		}
	}
	m, err := models.Load(bin)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadLlama2C(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckTokenizer(tok); err != nil {
		t.Fatal(err)
	}
	prog, err := exec.New(m.Graph, m, exec.Options{Threads: 2, MaxRows: m.Config.Context})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prog.Close() })
	svc, ts := testSetup(t, nil, func(c *Config, s *ServerConfig) {
		c.Models = []Model{{ID: "stories260K", Engine: execEngine{prog}, Tokenizer: tok,
			BOS: tok.BOS(), EOS: tok.EOS(), ContextLength: m.Config.Context}}
		c.MaxConcurrent = 1
		if edit != nil {
			edit(c, s)
		}
	})
	return svc, ts.URL
}

// The gateway reproduces llama2.c's own outputs for stories260K, greedy and
// nucleus-sampled, streamed and not.
func TestStories260KEndToEnd(t *testing.T) {
	_, url := stories260K(t, nil)
	tests := []struct {
		name, params, want string
	}{
		{"greedy", `"temperature":0`, stories260KGreedy},
		{"nucleus seed 42", `"temperature":1,"top_p":0.95,"seed":42`, stories260KNucleus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// run.c -n 200 runs 200 steps from BOS, sampling a token at each.
			body := `{"model":"stories260K","prompt":"","max_tokens":200,` + tt.params + `}`
			code, b := post(t, url+"/v1/completions", body)
			if code != 200 {
				t.Fatalf("status %d: %s", code, b)
			}
			r := decodeInto[wire.CompletionResponse](t, b)
			if r.Choices[0].Text != tt.want {
				t.Fatalf("got  %q\nwant %q", r.Choices[0].Text, tt.want)
			}
			if r.Usage.PromptTokens != 1 || r.Usage.CompletionTokens != 200 || *r.Choices[0].FinishReason != wire.FinishLength {
				t.Errorf("usage %+v finish %s", *r.Usage, *r.Choices[0].FinishReason)
			}
			code, sb := post(t, url+"/v1/completions", `{"stream":true,`+body[1:])
			text, finish, _ := streamedCompletion(t, sseEvents(t, sb))
			if code != 200 || text != tt.want || finish != wire.FinishLength {
				t.Fatalf("streamed (%d, %s): %q", code, finish, text)
			}
		})
	}
}

// A prompt, a stop string and a chat request through the real model.
func TestStories260KPromptStopChat(t *testing.T) {
	_, url := stories260K(t, nil)
	_, b := post(t, url+"/v1/completions", `{"model":"stories260K","prompt":"Once upon a time","max_tokens":60,"temperature":0,"stop":"Lily."}`)
	r := decodeInto[wire.CompletionResponse](t, b)
	want := ", there was a little girl named "
	if r.Choices[0].Text != want || *r.Choices[0].FinishReason != wire.FinishStop {
		t.Errorf("prompt + stop: got %q (%s), want %q", r.Choices[0].Text, *r.Choices[0].FinishReason, want)
	}
	code, b := post(t, url+"/v1/chat/completions", `{"model":"stories260K","messages":[{"role":"user","content":"Tell me a story."}],"max_tokens":30,"temperature":0}`)
	c := decodeInto[wire.ChatCompletionResponse](t, b)
	if code != 200 || c.Choices[0].Message.Content.Text == "" || c.Usage.CompletionTokens == 0 {
		t.Errorf("chat: %d %s", code, b)
	}
	code, sb := post(t, url+"/v1/chat/completions", `{"model":"stories260K","stream":true,"messages":[{"role":"user","content":"Tell me a story."}],"max_tokens":30,"temperature":0}`)
	text, _, _ := streamedChat(t, sseEvents(t, sb))
	if code != 200 || text != c.Choices[0].Message.Content.Text {
		t.Errorf("streamed chat %q, non-streamed %q", text, c.Choices[0].Message.Content.Text)
	}
}

// lossyEngine loses its first session when it reaches position loseAt.
type lossyEngine struct {
	Engine
	loseAt int
	lost   bool // only touched by the one generation of the test
}

func (e *lossyEngine) NewSession(ctx context.Context) (Session, error) {
	s, err := e.Engine.NewSession(ctx)
	return &lossySession{Session: s, e: e}, err
}

type lossySession struct {
	Session
	e *lossyEngine
}

func (s *lossySession) Forward(ctx context.Context, tokens []int32, pos int) ([]float32, error) {
	if !s.e.lost && pos >= s.e.loseAt {
		s.e.lost = true
		return nil, fmt.Errorf("stage 1 went away: %w", ErrSessionLost)
	}
	return s.Session.Forward(ctx, tokens, pos)
}

// Losing the session mid-generation and rebuilding it with one prefill over
// the token history gives exactly llama2.c's text (the kernels are batch
// invariant, so the prefill reproduces the step-by-step KV cache).
func TestStories260KRebuild(t *testing.T) {
	var lossy *lossyEngine
	_, url := stories260K(t, func(c *Config, _ *ServerConfig) {
		lossy = &lossyEngine{Engine: c.Models[0].Engine, loseAt: 97}
		c.Models[0].Engine = lossy
	})
	code, b := post(t, url+"/v1/completions", `{"model":"stories260K","prompt":"","max_tokens":200,"temperature":0,"stream":true}`)
	text, _, _ := streamedCompletion(t, sseEvents(t, b))
	if code != 200 || !lossy.lost || text != stories260KGreedy {
		t.Fatalf("status %d, lost %v, got %q", code, lossy.lost, text)
	}
}
