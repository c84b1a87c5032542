package p2p

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// recordingStage answers each Step with an empty StepResult and reports
// every Recv error other than io.EOF.
func recordingStage(errs chan<- error) func(context.Context, *Stream) {
	return func(ctx context.Context, s *Stream) {
		for {
			m, err := s.Recv()
			if err != nil {
				if err != io.EOF {
					errs <- err
				}
				return
			}
			if st, ok := m.(*Step); ok {
				if s.Send(&StepResult{SessionID: st.SessionID, Index: st.Index}) != nil {
					return
				}
			}
		}
	}
}

func roundTrip(t *testing.T, s *Stream, i uint64) {
	t.Helper()
	if err := s.Send(&Step{SessionID: "good", Index: i, Tensors: []NamedTensor{{Name: "x", Frame: testFrame(1, 16)}}}); err != nil {
		t.Fatalf("good stream: send: %v", err)
	}
	m, err := s.Recv()
	if err != nil {
		t.Fatalf("good stream: recv: %v", err)
	}
	if r, ok := m.(*StepResult); !ok || r.Index != i {
		t.Fatalf("good stream: got %#v", m)
	}
}

// TestPipelineRejectsBadPeers sends garbage, a header that claims a 10 GB
// payload and an oversize tensor on fresh streams while a good stream
// stays in use: each bad stream gets an Error message and is closed, the
// handler sees a clear error, the good stream keeps working, and no
// goroutine is left behind.
func TestPipelineRejectsBadPeers(t *testing.T) {
	srv := newTestHost(t, func(c *Config) { c.MaxTensorBytes = 1 << 20 })
	cli := newTestHost(t, nil)
	errs := make(chan error, 8)
	srv.SetPipelineHandler(recordingStage(errs))
	p := connect(t, cli, srv)
	good, err := cli.OpenPipeline(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	roundTrip(t, good, 0)
	base := runtime.NumGoroutine()

	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	tenGB := make([]byte, MessageHeaderLen, MessageHeaderLen+4096)
	copy(tenGB, MessageMagic)
	tenGB[4], tenGB[5] = MessageVersion, byte(TypeStep)
	binary.LittleEndian.PutUint64(tenGB[6:], 10_000_000_000)
	tenGB = append(tenGB, make([]byte, 4096)...)
	bigTensor, err := EncodeMessage(&Step{Tensors: []NamedTensor{{Name: "x", Frame: testFrame(1, 1<<18+1)}}})
	if err != nil {
		t.Fatal(err)
	}
	unknownType := append([]byte(MessageMagic), MessageVersion, 42, 0, 0, 0, 0, 0, 0, 0, 0)

	for i, tc := range []struct {
		name  string
		bytes []byte
		want  error
		code  uint32
		text  string
	}{
		{"garbage", garbage, ErrMalformed, CodeProtocol, "bad magic"},
		{"10 GB header", tenGB, ErrTooLarge, CodeTooLarge, "claims 10000000000 payload bytes"},
		{"oversize tensor", bigTensor, ErrTooLarge, CodeTooLarge, "limit 1048576"},
		{"unknown type", unknownType, ErrMalformed, CodeProtocol, "unknown message type 42"},
	} {
		raw, err := cli.h.NewStream(context.Background(), p, protoID(PipelineProtocol))
		if err != nil {
			t.Fatal(err)
		}
		go raw.Write(tc.bytes) // may fail once the server closes
		select {
		case err := <-errs:
			if !errors.Is(err, ErrStreamBroken) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%s: handler got %v, want ErrStreamBroken and %v containing %q", tc.name, err, tc.want, tc.text)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the handler reported no error", tc.name)
		}
		checkRejected(t, tc.name, raw, tc.code)
		raw.Reset()
		roundTrip(t, good, uint64(i+1))
	}
	waitGoroutines(t, base)
}

// checkRejected reads the Error message the server sends before closing.
func checkRejected(t *testing.T, name string, raw network.Stream, code uint32) {
	t.Helper()
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := ReadMessage(raw, testLimits)
	if err != nil {
		t.Errorf("%s: reading the server's answer: %v", name, err)
		return
	}
	if e, ok := m.(*Error); !ok || e.Code != code {
		t.Errorf("%s: server answered %#v, want an Error with code %d", name, m, code)
	}
	if _, err := ReadMessage(raw, testLimits); err != io.EOF {
		t.Errorf("%s: after the Error: %v, want io.EOF", name, err)
	}
}

// TestManySessionsNoLeak runs sessions in parallel and checks that all
// their goroutines end.
func TestManySessionsNoLeak(t *testing.T) {
	srv := newTestHost(t, nil)
	cli := newTestHost(t, nil)
	srv.SetPipelineHandler(echoStage(nil))
	p := connect(t, cli, srv)
	warm, err := cli.OpenPipeline(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, warm, 0)
	warm.Send(&Close{})
	warm.Close()
	base := runtime.NumGoroutine()
	done := make(chan error)
	for i := range 8 {
		go func() {
			s, err := cli.OpenPipeline(context.Background(), p)
			if err != nil {
				done <- err
				return
			}
			defer s.Close()
			for j := range 5 {
				if err := s.Send(&Step{SessionID: fmt.Sprint(i), Index: uint64(j)}); err != nil {
					done <- err
					return
				}
				if _, err := s.Recv(); err != nil {
					done <- err
					return
				}
			}
			done <- s.Send(&Close{})
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	waitGoroutines(t, base)
}

const helperEnv = "SPLITUP_P2P_TEST_HELPER"

// TestHelperPipelineServer is not a test: TestPeerKilled runs the test
// binary with it as a separate process to kill.
func TestHelperPipelineServer(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestPeerKilled")
	}
	h, err := New(context.Background(), Config{Key: testKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	h.SetPipelineHandler(echoStage(nil))
	fmt.Printf("ADDR %s\n", h.Addrs()[0])
	io.Copy(io.Discard, os.Stdin) // until the parent closes stdin or kills us
	h.Close()
}

// TestPeerKilled kills (SIGKILL) a peer process while a Recv waits on it:
// the Recv must fail with ErrStreamBroken at once, long before the read
// timeout.
func TestPeerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPipelineServer$")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}()
	var addr string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatal("helper process printed no address")
	}
	go io.Copy(io.Discard, stdout)

	cli := newTestHost(t, func(c *Config) { c.ReadTimeout = time.Minute })
	p, err := cli.Connect(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cli.OpenPipeline(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	roundTrip(t, s, 0)

	// A Step whose answer never comes: the peer dies first.
	res := make(chan error, 1)
	go func() {
		_, err := s.Recv()
		res <- err
	}()
	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		took := time.Since(killed)
		t.Logf("Recv failed %v after SIGKILL: %v", took, err)
		if !errors.Is(err, ErrStreamBroken) {
			t.Errorf("Recv after the peer died: %v, want ErrStreamBroken", err)
		}
		if took > 5*time.Second {
			t.Errorf("dead peer detected after %v", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Recv still waits 30 s after the peer was killed")
	}
	if err := s.Send(&Step{}); !errors.Is(err, ErrStreamBroken) {
		t.Errorf("Send after the peer died: %v, want ErrStreamBroken", err)
	}
}
