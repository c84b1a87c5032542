package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/splitup/splitup/wire"
)

// TestOpenAIClient runs testdata/openai_client.mjs, which uses the official
// openai npm package, against a gateway on 127.0.0.1 serving the test engine.
// Install the client with: npm ci --prefix gateway/testdata
func TestOpenAIClient(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the node client test")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the openai client test needs Node.js 20+")
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", "openai", "package.json")); err != nil {
		t.Skip("testdata/node_modules/openai is missing; run: npm ci --prefix gateway/testdata --no-audit --no-fund")
	}

	e := newTestEngine()
	svc, err := NewService(Config{
		Models: []Model{{ID: testModel, OwnedBy: "splitup", Engine: e, Tokenizer: byteTokenizer{}, BOS: 1, EOS: 2, ContextLength: 128}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(svc, ServerConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, node, filepath.Join("testdata", "openai_client.mjs"), "http://"+ln.Addr().String())
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node client: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout)
	}
	t.Logf("client report: %s", stdout)
	var got clientReport
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("client output %s: %v", stdout, err)
	}
	checkClientReport(t, got)
}

type clientText struct {
	Text   string      `json:"text"`
	Finish string      `json:"finish"`
	Role   string      `json:"role"`
	Object string      `json:"object"`
	Usage  *wire.Usage `json:"usage"`
}

type clientFailure struct {
	OK     bool   `json:"ok"`
	Status int    `json:"status"`
	Type   string `json:"type"`
	Code   string `json:"code"`
	Param  string `json:"param"`
	Name   string `json:"name"`
}

type clientReport struct {
	Models           []string      `json:"models"`
	Retrieved        string        `json:"retrieved"`
	Completion       clientText    `json:"completion"`
	CompletionStream clientText    `json:"completionStream"`
	Chat             clientText    `json:"chat"`
	ChatStream       clientText    `json:"chatStream"`
	UnknownModel     clientFailure `json:"unknownModel"`
	BadMaxTokens     clientFailure `json:"badMaxTokens"`
}

func checkClientReport(t *testing.T, got clientReport) {
	t.Helper()
	if len(got.Models) != 1 || got.Models[0] != testModel || got.Retrieved != testModel {
		t.Errorf("models %v, retrieved %q", got.Models, got.Retrieved)
	}
	wantUsage := wire.Usage{PromptTokens: 3, CompletionTokens: 10, TotalTokens: 13}
	c := got.Completion
	if c.Text != testScript[3:13] || c.Finish != "length" || c.Object != "text_completion" || c.Usage == nil || *c.Usage != wantUsage {
		t.Errorf("completion %+v", c)
	}
	cs := got.CompletionStream
	if cs.Text != c.Text || cs.Finish != c.Finish || cs.Usage == nil || *cs.Usage != wantUsage {
		t.Errorf("streamed completion %+v, non-streamed %+v", cs, c)
	}
	ch := got.Chat
	if ch.Text == "" || ch.Role != "assistant" || ch.Usage == nil || ch.Usage.CompletionTokens == 0 {
		t.Errorf("chat %+v", ch)
	}
	if got.ChatStream.Text != ch.Text || got.ChatStream.Finish != ch.Finish {
		t.Errorf("streamed chat %+v, non-streamed %+v", got.ChatStream, ch)
	}
	if f := got.UnknownModel; f.OK || f.Status != 404 || f.Code != wire.CodeModelNotFound || f.Param != "model" || f.Name != "NotFoundError" {
		t.Errorf("unknown model: %+v", f)
	}
	if f := got.BadMaxTokens; f.OK || f.Status != 400 || f.Type != wire.TypeInvalidRequest || f.Param != "max_tokens" || f.Name != "BadRequestError" {
		t.Errorf("max_tokens 0: %+v", f)
	}
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }
