package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/splitup/splitup/wire"
)

func TestWrongMethod(t *testing.T) {
	_, ts := testSetup(t, newTestEngine(), nil)
	code, b := post(t, ts.URL+"/v1/models", `{}`)
	checkError(t, code, b, http.StatusMethodNotAllowed, wire.TypeInvalidRequest, "", "")
	resp, err := http.Get(ts.URL + "/v1/completions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /v1/completions: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// The request deadline ends a generation stuck in the engine with 504.
func TestRequestDeadline(t *testing.T) {
	e := newTestEngine()
	e.block, e.blockAt = make(chan struct{}), 5 // never closed: only the deadline ends it
	_, ts := testSetup(t, e, func(_ *Config, s *ServerConfig) { s.RequestTimeout = 100 * time.Millisecond })
	code, b := post(t, ts.URL+"/v1/completions", `{"model":"test-model","prompt":"x","max_tokens":20}`)
	checkError(t, code, b, http.StatusGatewayTimeout, wire.TypeServer, "", wire.CodeTimeout)

	// Streaming: the deadline ends the stream with an error event.
	code, b = post(t, ts.URL+"/v1/completions", `{"model":"test-model","prompt":"x","max_tokens":20,"stream":true,"temperature":0}`)
	events := sseEvents(t, b)
	if code != 200 || len(events) < 2 || !strings.Contains(events[len(events)-1], wire.CodeTimeout) {
		t.Fatalf("status %d events %q", code, events)
	}
	waitFor(t, "sessions to close", func() bool { return e.openSessions() == 0 })
}

// Waiting for a generation slot also ends at the deadline, with 503.
func TestBusyUntilDeadline(t *testing.T) {
	e := newTestEngine()
	release := make(chan struct{})
	e.block, e.blockAt, e.blocked = release, 2, make(chan struct{}, 1)
	svc, _ := testSetup(t, e, func(c *Config, _ *ServerConfig) { c.MaxConcurrent = 1 })
	done := make(chan error, 1)
	go func() {
		_, err := svc.Generate(context.Background(), wire.GenerateRequest{Model: testModel, Prompt: "x", MaxTokens: 3, TopP: 1}, nil)
		done <- err
	}()
	<-e.blocked // the only slot is taken
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := svc.Generate(ctx, wire.GenerateRequest{Model: testModel, Prompt: "y", MaxTokens: 3, TopP: 1}, nil)
	if e, ok := err.(*wire.Error); !ok || e.Status != http.StatusServiceUnavailable {
		t.Errorf("second request: %v, want 503", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A client that goes away mid-stream cancels its generation and the
// session is closed.
func TestClientDisconnect(t *testing.T) {
	e := newTestEngine()
	release := make(chan struct{})
	e.block, e.blockAt, e.blocked = release, 8, make(chan struct{}, 1)
	_, ts := testSetup(t, e, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/completions",
		strings.NewReader(`{"model":"test-model","prompt":"x","max_tokens":50,"stream":true,"temperature":0}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "data: ") {
		t.Fatalf("first line %q, %v", first, err)
	}
	<-e.blocked
	cancel()
	resp.Body.Close()
	waitFor(t, "the session to close after the client left", func() bool { return e.openSessions() == 0 })
	close(release)
}

// Serve shuts down gracefully: a request in flight when its context ends
// still completes, new connections are refused, Serve returns nil, and no
// goroutine is left behind.
func TestGracefulShutdownNoLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	e := newTestEngine()
	release := make(chan struct{})
	e.block, e.blockAt, e.blocked = release, 6, make(chan struct{}, 1)
	svc, err := NewService(Config{Models: []Model{{ID: testModel, Engine: e, Tokenizer: byteTokenizer{}, BOS: 1, EOS: 2, ContextLength: 64}}})
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
	url := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	// A few ordinary requests, streamed and not.
	for _, body := range []string{
		`{"model":"test-model","prompt":"","max_tokens":3}`,
		`{"model":"test-model","prompt":"","max_tokens":3,"stream":true}`,
	} {
		resp, err := client.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// One in flight, blocked inside the engine, while shutdown starts.
	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := client.Post(url+"/v1/completions", "application/json",
			strings.NewReader(`{"model":"test-model","prompt":"abcde","max_tokens":4,"temperature":0}`))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- result{resp.StatusCode, string(b), err}
	}()
	<-e.blocked
	stop()
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	r := <-inflight
	if r.err != nil || r.code != 200 || !strings.Contains(r.body, testScript[6:10]) {
		t.Fatalf("in-flight request: %d %q %v", r.code, r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	tr.CloseIdleConnections()
	waitFor(t, "goroutines to return to the baseline", func() bool { return runtime.NumGoroutine() <= before })
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("timed out waiting for %s; goroutines:\n%s", what, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A streaming client that stops reading does not hold its generation (and
// its slot and session) for good: once the socket buffers are full, an
// event's write fails after WriteTimeout and the session closes.
func TestStalledReaderReleased(t *testing.T) {
	e := newTestEngine()
	_, ts := testSetup(t, e, func(c *Config, s *ServerConfig) {
		c.Models[0].ContextLength = 1 << 20
		c.Limits.MaxTokens = 1 << 20
		s.WriteTimeout = 200 * time.Millisecond
	})
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	body := `{"model":"test-model","prompt":"x","max_tokens":1000000,"stream":true,"temperature":0}`
	if _, err := io.WriteString(conn, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing.
	waitFor(t, "the generation of a client that stopped reading to end", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.opened == 1 && e.open == 0
	})
}

// A request whose body never arrives fails after BodyTimeout, though its
// headers promised one.
func TestSlowBodyTimesOut(t *testing.T) {
	_, ts := testSetup(t, newTestEngine(), func(_ *Config, s *ServerConfig) { s.BodyTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a request whose body stalls: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "timeout") {
		t.Fatalf("stalled body: %d %s, want 400 naming the timeout", resp.StatusCode, b)
	}
}

// A prompt too long in bytes for any tokenisation to fit the context is
// refused before it is encoded; one just long enough in tokens is refused
// by its token count.
func TestPromptTooLong(t *testing.T) {
	e := newTestEngine()
	_, ts := testSetup(t, e, nil) // context 128, one token per byte
	for _, c := range []struct {
		bytes int
		want  string
	}{{128*32 + 1, "no prompt over 4096 bytes fits"}, {200, "the prompt is 201 tokens"}} {
		code, b := post(t, ts.URL+"/v1/completions", `{"model":"test-model","prompt":"`+strings.Repeat("a", c.bytes)+`"}`)
		if code != http.StatusBadRequest || !strings.Contains(string(b), c.want) || !strings.Contains(string(b), `"param":"prompt"`) {
			t.Errorf("prompt of %d bytes: %d %s, want 400 saying %q", c.bytes, code, b, c.want)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.opened != 0 {
		t.Errorf("%d sessions opened for refused prompts", e.opened)
	}
}
