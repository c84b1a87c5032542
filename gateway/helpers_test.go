package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/splitup/splitup/wire"
)

const testModel = "test-model"

// testSetup builds a Service over e (model testModel, context 128) and an
// httptest server; edit may change either config first.
func testSetup(t *testing.T, e *testEngine, edit func(*Config, *ServerConfig)) (*Service, *httptest.Server) {
	t.Helper()
	cfg := Config{
		Models: []Model{{ID: testModel, OwnedBy: "splitup", Created: 1700000000, Engine: e,
			Tokenizer: byteTokenizer{}, BOS: 1, EOS: 2, ContextLength: 128}},
		Limits: wire.Limits{DefaultMaxTokens: 16, DefaultChatMaxTokens: 32, MaxTokens: 1000},
		Now:    func() time.Time { return time.Unix(1750000000, 0) },
	}
	scfg := ServerConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if edit != nil {
		edit(&cfg, &scfg)
	}
	svc, err := NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(svc, scfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return svc, ts
}

// post sends body as JSON and returns the status and the raw response body.
func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decodeInto[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// sseEvents splits an event stream into the payloads of its "data:" lines.
func sseEvents(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("unexpected SSE line %q in %s", line, b)
		}
		out = append(out, data)
	}
	return out
}

// streamedCompletion collects a streamed completion: text, finish reason, usage.
func streamedCompletion(t *testing.T, events []string) (string, string, *wire.Usage) {
	t.Helper()
	if len(events) == 0 || events[len(events)-1] != wire.StreamDone {
		t.Fatalf("stream does not end with [DONE]: %q", events)
	}
	var text strings.Builder
	var finish string
	var usage *wire.Usage
	for _, ev := range events[:len(events)-1] {
		c := decodeInto[wire.CompletionResponse](t, []byte(ev))
		if c.Object != wire.ObjectTextCompletion {
			t.Fatalf("chunk object %q", c.Object)
		}
		if c.Usage != nil {
			usage = c.Usage
		}
		for _, ch := range c.Choices {
			if finish != "" {
				t.Fatalf("chunk after the finish reason: %s", ev)
			}
			text.WriteString(ch.Text)
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	return text.String(), finish, usage
}

// streamedChat collects a streamed chat completion.
func streamedChat(t *testing.T, events []string) (string, string, *wire.Usage) {
	t.Helper()
	if len(events) < 2 || events[len(events)-1] != wire.StreamDone {
		t.Fatalf("stream does not end with [DONE]: %q", events)
	}
	first := decodeInto[wire.ChatCompletionChunk](t, []byte(events[0]))
	if first.Choices[0].Delta.Role != "assistant" {
		t.Fatalf("first chunk has no assistant role: %s", events[0])
	}
	var text strings.Builder
	var finish string
	var usage *wire.Usage
	for _, ev := range events[:len(events)-1] {
		c := decodeInto[wire.ChatCompletionChunk](t, []byte(ev))
		if c.Object != wire.ObjectChatCompletionChunk {
			t.Fatalf("chunk object %q", c.Object)
		}
		if c.Usage != nil {
			usage = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	return text.String(), finish, usage
}

func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
