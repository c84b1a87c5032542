package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/splitup/splitup/wire"
)

func TestModels(t *testing.T) {
	_, ts := testSetup(t, newTestEngine(), nil)
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got wire.ModelList
	if err := jsonDecode(resp, &got); err != nil {
		t.Fatal(err)
	}
	want := wire.ModelList{Object: "list", Data: []wire.Model{{ID: testModel, Object: "model", Created: 1700000000, OwnedBy: "splitup"}}}
	if fmt.Sprint(got) != fmt.Sprint(want) || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %+v (%s), want %+v", got, resp.Header.Get("Content-Type"), want)
	}
}

func TestModelByID(t *testing.T) {
	_, ts := testSetup(t, newTestEngine(), nil)
	resp, err := http.Get(ts.URL + "/v1/models/" + testModel)
	if err != nil {
		t.Fatal(err)
	}
	var m wire.Model
	err = jsonDecode(resp, &m)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || m.ID != testModel || m.Object != "model" {
		t.Fatalf("%d %+v %v", resp.StatusCode, m, err)
	}
	resp, err = http.Get(ts.URL + "/v1/models/org/other")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e wire.ErrorResponse
	if err := jsonDecode(resp, &e); err != nil || resp.StatusCode != 404 || *e.Error.Code != wire.CodeModelNotFound {
		t.Fatalf("%d %+v %v", resp.StatusCode, e, err)
	}
}

func TestCompletionGreedy(t *testing.T) {
	_, ts := testSetup(t, newTestEngine(), nil)
	code, b := post(t, ts.URL+"/v1/completions", `{"model":"test-model","prompt":"Hi","max_tokens":10,"temperature":0}`)
	if code != 200 {
		t.Fatalf("status %d: %s", code, b)
	}
	got := decodeInto[wire.CompletionResponse](t, b)
	want := testScript[3:13] // BOS H i: generation starts at position 3
	if len(got.Choices) != 1 || got.Choices[0].Text != want || *got.Choices[0].FinishReason != wire.FinishLength {
		t.Fatalf("got %s, want text %q finish length", b, want)
	}
	if *got.Usage != (wire.Usage{PromptTokens: 3, CompletionTokens: 10, TotalTokens: 13}) {
		t.Errorf("usage %+v", *got.Usage)
	}
	if !strings.HasPrefix(got.ID, "cmpl-") || got.Created != 1750000000 || got.Model != testModel || got.Object != "text_completion" {
		t.Errorf("meta: %s", b)
	}
}

// TestGreedySessionPicksToken checks that at temperature 0 the gateway lets
// a GreedySession pick the token (through a lost session and its rebuild),
// with the same text as sampling the logits, and that it samples the logits
// itself at any other temperature.
func TestGreedySessionPicksToken(t *testing.T) {
	for _, body := range []string{
		`{"model":"test-model","prompt":"Hello","max_tokens":40,"temperature":0}`,
		`{"model":"test-model","prompt":"Hello","max_tokens":40,"temperature":1,"seed":5}`,
	} {
		_, ts := testSetup(t, newTestEngine(), nil)
		_, want := post(t, ts.URL+"/v1/completions", body)
		e := newTestEngine()
		e.greedy = true
		lost := false
		e.fail = func(call, pos int) error {
			if pos == 20 && !lost {
				lost = true
				return fmt.Errorf("node left: %w", ErrSessionLost)
			}
			return nil
		}
		_, ts2 := testSetup(t, e, nil)
		_, got := post(t, ts2.URL+"/v1/completions", body)
		w, g := decodeInto[wire.CompletionResponse](t, want), decodeInto[wire.CompletionResponse](t, got)
		if len(g.Choices) != 1 || g.Choices[0].Text != w.Choices[0].Text || *g.Usage != *w.Usage {
			t.Fatalf("%s: greedy session %s\nlogits %s", body, got, want)
		}
		greedy := strings.Contains(body, `"temperature":0}`)
		if n := e.argmaxes; greedy && n != e.forwards || !greedy && n != 0 || !lost || e.opened != 2 {
			t.Errorf("%s: %d ForwardArgmax of %d calls, lost %v, %d sessions opened (want 2)", body, n, e.forwards, lost, e.opened)
		}
	}
}

func TestCompletionEOSAndStop(t *testing.T) {
	e := newTestEngine()
	e.eosAt = 9
	_, ts := testSetup(t, e, nil)
	// EOS is sampled after 9 tokens have run: 3 prompt + 6 generated, then EOS.
	code, b := post(t, ts.URL+"/v1/completions", `{"model":"test-model","prompt":"Hi","max_tokens":50,"temperature":0}`)
	got := decodeInto[wire.CompletionResponse](t, b)
	if code != 200 || got.Choices[0].Text != testScript[3:9] || *got.Choices[0].FinishReason != "stop" || got.Usage.CompletionTokens != 7 {
		t.Fatalf("EOS: status %d %s", code, b)
	}
	// The stop string is cut off and not returned.
	_, b = post(t, ts.URL+"/v1/completions", `{"model":"test-model","prompt":"Hi","max_tokens":50,"temperature":0,"stop":["pon"]}`)
	got = decodeInto[wire.CompletionResponse](t, b)
	if got.Choices[0].Text != "e u" || *got.Choices[0].FinishReason != "stop" {
		t.Fatalf("stop: %s", b)
	}
}

func TestChatNonStream(t *testing.T) {
	_, ts := testSetup(t, newTestEngine(), nil)
	code, b := post(t, ts.URL+"/v1/chat/completions",
		`{"model":"test-model","messages":[{"role":"user","content":"x"}],"max_tokens":5,"temperature":0}`)
	if code != 200 {
		t.Fatalf("status %d: %s", code, b)
	}
	got := decodeInto[wire.ChatCompletionResponse](t, b)
	n := 1 + len("User: x\nAssistant:")
	if got.Object != "chat.completion" || got.Choices[0].Message.Role != "assistant" ||
		got.Choices[0].Message.Content.Text != testScript[n:n+5] || got.Usage.PromptTokens != n {
		t.Fatalf("got %s", b)
	}
}

// Streamed and non-streamed responses carry the same text, finish reason
// and usage, whatever the sampling parameters and stop strings.
func TestStreamMatchesNonStream(t *testing.T) {
	e := newTestEngine()
	e.eosAt = 60
	_, ts := testSetup(t, e, nil)
	params := []string{
		`"temperature":0`,
		`"temperature":0,"stop":["tim","e,"]`,
		`"temperature":1,"seed":7`,
		`"temperature":1.3,"top_p":0.8,"seed":42,"stop":"a"`,
		`"temperature":0.7,"seed":3,"stop":["ab","ba","zz","y"]`,
		`"temperature":1,"seed":99,"max_tokens":200`,
	}
	for _, p := range params {
		for _, ep := range []string{"completions", "chat/completions"} {
			input := `"prompt":"Hello"`
			if ep != "completions" {
				input = `"messages":[{"role":"system","content":"s"},{"role":"user","content":"Hello"}]`
			}
			body := `{"model":"test-model",` + input + `,"max_tokens":40,` + p + `}`
			_, b := post(t, ts.URL+"/v1/"+ep, body)
			var want string
			var wantFinish string
			var wantUsage wire.Usage
			if ep == "completions" {
				r := decodeInto[wire.CompletionResponse](t, b)
				want, wantFinish, wantUsage = r.Choices[0].Text, *r.Choices[0].FinishReason, *r.Usage
			} else {
				r := decodeInto[wire.ChatCompletionResponse](t, b)
				want, wantFinish, wantUsage = r.Choices[0].Message.Content.Text, r.Choices[0].FinishReason, r.Usage
			}
			sbody := strings.Replace(body, "{", `{"stream":true,"stream_options":{"include_usage":true},`, 1)
			code, sb := post(t, ts.URL+"/v1/"+ep, sbody)
			if code != 200 {
				t.Fatalf("%s: status %d %s", sbody, code, sb)
			}
			var got, finish string
			var usage *wire.Usage
			if ep == "completions" {
				got, finish, usage = streamedCompletion(t, sseEvents(t, sb))
			} else {
				got, finish, usage = streamedChat(t, sseEvents(t, sb))
			}
			if got != want || finish != wantFinish || usage == nil || *usage != wantUsage {
				t.Errorf("%s %s:\nstream     %q %s %+v\nnon-stream %q %s %+v", ep, p, got, finish, usage, want, wantFinish, wantUsage)
			}
		}
	}
}

func TestStreamNeverEmitsStopPrefixThenRetracts(t *testing.T) {
	_, ts := testSetup(t, newTestEngine(), nil)
	// The script holds "a time": "a ti" is held back until "m" completes the stop.
	code, b := post(t, ts.URL+"/v1/completions",
		`{"model":"test-model","prompt":"","max_tokens":40,"temperature":0,"stream":true,"stop":["a tim"]}`)
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	events := sseEvents(t, b)
	text, finish, _ := streamedCompletion(t, events)
	if text != "nce upon " || finish != "stop" {
		t.Fatalf("got %q %s", text, finish)
	}
	for _, ev := range events {
		if strings.Contains(ev, `"text":"a"`) || strings.Contains(ev, `"text":"t"`) {
			t.Errorf("a prefix of the stop string was streamed: %s", ev)
		}
	}
}

func TestErrors(t *testing.T) {
	e := newTestEngine()
	_, ts := testSetup(t, e, func(c *Config, s *ServerConfig) { s.MaxBodyBytes = 300 })
	tests := []struct {
		name, path, body string
		status           int
		typ, param, code string
	}{
		{"malformed json", "/v1/completions", `{"model":`, 400, wire.TypeInvalidRequest, "", wire.CodeInvalidJSON},
		{"empty body", "/v1/completions", ``, 400, wire.TypeInvalidRequest, "", wire.CodeInvalidJSON},
		{"wrong type", "/v1/completions", `{"model":"test-model","max_tokens":"ten"}`, 400, wire.TypeInvalidRequest, "", wire.CodeInvalidJSON},
		{"max_tokens 0", "/v1/completions", `{"model":"test-model","max_tokens":0}`, 400, wire.TypeInvalidRequest, "max_tokens", wire.CodeInvalidValue},
		{"temperature", "/v1/chat/completions", `{"model":"test-model","messages":[{"role":"user","content":"x"}],"temperature":3}`, 400, wire.TypeInvalidRequest, "temperature", wire.CodeInvalidValue},
		{"no messages", "/v1/chat/completions", `{"model":"test-model","messages":[]}`, 400, wire.TypeInvalidRequest, "messages", wire.CodeMissing},
		{"unknown model", "/v1/completions", `{"model":"gpt-9","prompt":"x"}`, 404, wire.TypeInvalidRequest, "model", wire.CodeModelNotFound},
		{"unknown model stream", "/v1/chat/completions", `{"model":"gpt-9","stream":true,"messages":[{"role":"user","content":"x"}]}`, 404, wire.TypeInvalidRequest, "model", wire.CodeModelNotFound},
		{"prompt beyond context", "/v1/completions", `{"model":"test-model","prompt":"` + strings.Repeat("x", 127) + `"}`, 400, wire.TypeInvalidRequest, "prompt", wire.CodeInvalidValue},
		{"body too large", "/v1/completions", `{"model":"test-model","prompt":"` + strings.Repeat("x", 400) + `"}`, 413, wire.TypeInvalidRequest, "", wire.CodeBodyTooLarge},
		{"unknown route", "/v1/embeddings", `{}`, 404, wire.TypeInvalidRequest, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := post(t, ts.URL+tt.path, tt.body)
			checkError(t, code, b, tt.status, tt.typ, tt.param, tt.code)
		})
	}
	if n := e.openSessions(); n != 0 {
		t.Errorf("%d sessions left open", n)
	}
}

func checkError(t *testing.T, code int, b []byte, status int, typ, param, ecode string) {
	t.Helper()
	got := decodeInto[wire.ErrorResponse](t, b)
	gotParam, gotCode := "", ""
	if got.Error.Param != nil {
		gotParam = *got.Error.Param
	}
	if got.Error.Code != nil {
		gotCode = *got.Error.Code
	}
	if code != status || got.Error.Type != typ || gotParam != param || gotCode != ecode || got.Error.Message == "" {
		t.Errorf("got %d %s, want %d type %s param %q code %q", code, b, status, typ, param, ecode)
	}
}

func TestEngineFailures(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		set    func(e *testEngine)
		status int
		code   string
	}{
		{"session error", func(e *testEngine) { e.sessionErr = boom }, 500, wire.CodeEngineFailed},
		{"session unavailable", func(e *testEngine) { e.sessionErr = fmt.Errorf("no nodes: %w", ErrUnavailable) }, 503, wire.CodeEngineUnavailable},
		{"forward error", func(e *testEngine) { e.fail = func(call, pos int) error { return boom } }, 500, wire.CodeEngineFailed},
		{"forward unavailable", func(e *testEngine) {
			e.fail = func(call, pos int) error { return fmt.Errorf("stage 2: %w", ErrUnavailable) }
		}, 503, wire.CodeEngineUnavailable},
		{"session lost too often", func(e *testEngine) { e.fail = func(call, pos int) error { return ErrSessionLost } }, 500, wire.CodeEngineFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine()
			tt.set(e)
			_, ts := testSetup(t, e, nil)
			code, b := post(t, ts.URL+"/v1/completions", `{"model":"test-model","prompt":"x"}`)
			checkError(t, code, b, tt.status, wire.TypeServer, "", tt.code)
			if n := e.openSessions(); n != 0 {
				t.Errorf("%d sessions left open", n)
			}
		})
	}
}

// A failure after the first streamed event arrives as an error event, and
// the stream has no [DONE].
func TestStreamErrorMidway(t *testing.T) {
	e := newTestEngine()
	e.fail = func(call, pos int) error {
		if pos >= 6 {
			return errors.New("node crashed")
		}
		return nil
	}
	_, ts := testSetup(t, e, nil)
	code, b := post(t, ts.URL+"/v1/chat/completions",
		`{"model":"test-model","prompt":"x","messages":[{"role":"user","content":""}],"stream":true,"max_tokens":30,"temperature":0}`)
	events := sseEvents(t, b)
	last := events[len(events)-1]
	if code != 200 || !strings.Contains(last, `"error"`) || !strings.Contains(last, "node crashed") || strings.Contains(string(b), "[DONE]") {
		t.Fatalf("status %d, events %q", code, events)
	}
}

// A lost session is rebuilt from the token history and the output is the
// same as an uninterrupted run, also when sampling at temperature > 0.
func TestSessionLostIsRebuilt(t *testing.T) {
	body := `{"model":"test-model","prompt":"Hello","max_tokens":40,"temperature":1,"seed":5}`
	ref := newTestEngine()
	_, ts := testSetup(t, ref, nil)
	_, want := post(t, ts.URL+"/v1/completions", body)

	e := newTestEngine()
	var mu sync.Mutex
	lost := map[int]bool{}
	e.fail = func(call, pos int) error {
		mu.Lock()
		defer mu.Unlock()
		if (pos == 10 || pos == 25) && !lost[pos] {
			lost[pos] = true
			return fmt.Errorf("node left: %w", ErrSessionLost)
		}
		return nil
	}
	_, ts2 := testSetup(t, e, nil)
	_, got := post(t, ts2.URL+"/v1/completions", body)
	w, g := decodeInto[wire.CompletionResponse](t, want), decodeInto[wire.CompletionResponse](t, got)
	if g.Choices[0].Text != w.Choices[0].Text || *g.Usage != *w.Usage {
		t.Fatalf("rebuilt run %s\nuninterrupted %s", got, want)
	}
	if e.opened != 3 || e.openSessions() != 0 {
		t.Errorf("opened %d sessions (want 3), %d left open", e.opened, e.openSessions())
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := newTestEngine()
	_, ts := testSetup(t, e, func(c *Config, _ *ServerConfig) { c.MaxConcurrent = 3 })
	bodies := make([]string, 12)
	want := make([]string, len(bodies))
	for i := range bodies {
		bodies[i] = fmt.Sprintf(`{"model":"test-model","prompt":"p%d","max_tokens":30,"temperature":0.9,"seed":%d}`, i, i)
		_, b := post(t, ts.URL+"/v1/completions", bodies[i])
		want[i] = decodeInto[wire.CompletionResponse](t, b).Choices[0].Text
	}
	var wg sync.WaitGroup
	got := make([]string, len(bodies))
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(ts.URL+"/v1/completions", "application/json", strings.NewReader(bodies[i]))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var r wire.CompletionResponse
			if err := jsonDecode(resp, &r); err != nil {
				t.Error(err)
				return
			}
			got[i] = r.Choices[0].Text
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("request %d: concurrent %q, alone %q", i, got[i], want[i])
		}
	}
}

func TestServiceDirect(t *testing.T) {
	svc, _ := testSetup(t, newTestEngine(), nil)
	var pieces []string
	res, err := svc.Generate(context.Background(), wire.GenerateRequest{Model: testModel, Prompt: "ab", MaxTokens: 7, TopP: 1},
		func(s string) error { pieces = append(pieces, s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "") != res.Text || res.Text != testScript[3:10] || res.PromptTokens != 3 || res.CompletionTokens != 7 {
		t.Fatalf("pieces %q result %+v", pieces, res)
	}
	// An emit error ends generation and is reported.
	_, err = svc.Generate(context.Background(), wire.GenerateRequest{Model: testModel, MaxTokens: 7, TopP: 1},
		func(string) error { return errors.New("client gone") })
	if err == nil || !strings.Contains(err.Error(), "client gone") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	e := newTestEngine()
	ok := Model{ID: "m", Engine: e, Tokenizer: byteTokenizer{}, ContextLength: 8}
	bad := []Config{
		{},
		{Models: []Model{{Engine: e, Tokenizer: byteTokenizer{}, ContextLength: 8}}},
		{Models: []Model{ok, ok}},
		{Models: []Model{{ID: "m", Tokenizer: byteTokenizer{}, ContextLength: 8}}},
		{Models: []Model{{ID: "m", Engine: e, Tokenizer: byteTokenizer{}}}},
		{Models: []Model{ok}, MaxConcurrent: -1},
		{Models: []Model{ok}, Limits: wire.Limits{MaxTokens: 10}},
	}
	for i, c := range bad {
		if _, err := NewService(c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	if _, err := NewServer(nil, ServerConfig{RequestTimeout: -1}); err == nil {
		t.Error("negative timeout accepted")
	}
}
