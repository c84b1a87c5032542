package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/splitup/splitup/ir"
)

func TestConfigValidate(t *testing.T) {
	c := Config{Key: testKey(t)}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ListenAddrs[0] != DefaultListenAddr || c.MaxTensorBytes != DefaultMaxTensorBytes ||
		c.MaxMessageBytes != 2*DefaultMaxTensorBytes+1<<20 || c.ReadTimeout != DefaultReadTimeout {
		t.Errorf("defaults not filled in: %+v", c)
	}
	for name, bad := range map[string]Config{
		"no key":       {},
		"short key":    {Key: make([]byte, 32)},
		"bad addr":     {Key: testKey(t), ListenAddrs: []string{"127.0.0.1:4001"}},
		"negative":     {Key: testKey(t), MaxTensorBytes: -1},
		"huge message": {Key: testKey(t), MaxMessageBytes: MaxMessagePayload + 1},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, bad)
		}
	}
}

func TestHostIdentityAndAddrs(t *testing.T) {
	key := testKey(t)
	h := newTestHost(t, func(c *Config) { c.Key = key })
	id, err := PeerIDFromPublicKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if id != h.ID() {
		t.Errorf("PeerIDFromPublicKey = %s, host id %s", id, h.ID())
	}
	addrs := h.Addrs()
	if len(addrs) == 0 {
		t.Fatal("no addresses")
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") || !strings.HasSuffix(a, "/p2p/"+id.String()) {
			t.Errorf("address %q is not a loopback TCP address ending in /p2p/%s", a, id)
		}
	}
	if _, err := PeerIDFromPublicKey(make([]byte, 5)); err == nil {
		t.Error("PeerIDFromPublicKey accepted a 5-byte key")
	}
	pub, err := PublicKeyOf(h.ID())
	if err != nil || !pub.Equal(key.Public()) {
		t.Errorf("PublicKeyOf(host id) = %x, %v; want the host's key", pub, err)
	}
	if _, err := PublicKeyOf(PeerID("not a peer id")); err == nil {
		t.Error("PublicKeyOf accepted a malformed peer id")
	}
}

// TestListenPortIsExclusive: a second host cannot start on a port another
// host listens on (so no connection meant for one reaches the other), and
// AddrPeer reads the peer id off an address.
func TestListenPortIsExclusive(t *testing.T) {
	a := newTestHost(t, nil)
	addr := a.Addrs()[0]
	listen := addr[:strings.Index(addr, "/p2p/")]
	if b, err := New(context.Background(), Config{Key: testKey(t), ListenAddrs: []string{listen}}); err == nil {
		b.Close()
		t.Fatalf("a second host started on %s", listen)
	}
	if id, err := AddrPeer(addr); err != nil || id != a.ID() {
		t.Errorf("AddrPeer(%q) = %s, %v; want %s", addr, id, err, a.ID())
	}
	if _, err := AddrPeer("/ip4/127.0.0.1/tcp/1"); err == nil {
		t.Error("AddrPeer accepted an address without /p2p/")
	}
}

func TestConnect(t *testing.T) {
	a := newTestHost(t, nil)
	b := newTestHost(t, nil)
	if id := connect(t, a, b); id != b.ID() {
		t.Errorf("Connect returned %s, want %s", id, b.ID())
	}
	_, err := a.Connect(context.Background(), "/ip4/127.0.0.1/tcp/1")
	mustContain(t, err, "want /ip4/HOST/tcp/PORT/p2p/ID")
	// An address whose peer id is not the listener's key fails the Noise
	// handshake.
	other := newTestHost(t, nil)
	addr := strings.Replace(b.Addrs()[0], b.ID().String(), other.ID().String(), 1)
	if _, err := a.Connect(context.Background(), addr); err == nil {
		t.Error("Connect succeeded to a listener with another peer id")
	}
}

// echoStage answers each Step with a StepResult that carries the same
// tensors under the prefix "out.", records what it saw, and ends on Close.
func echoStage(seen chan<- Message) func(context.Context, *Stream) {
	return func(ctx context.Context, s *Stream) {
		for {
			m, err := s.Recv()
			if err != nil {
				return
			}
			if seen != nil {
				seen <- m
			}
			switch m := m.(type) {
			case *Step:
				r := &StepResult{SessionID: m.SessionID, Index: m.Index}
				for _, t := range m.Tensors {
					r.Tensors = append(r.Tensors, NamedTensor{Name: "out." + t.Name, Frame: t.Frame})
				}
				if s.Send(r) != nil {
					return
				}
			case *Close:
				return
			}
		}
	}
}

func TestPipelineSession(t *testing.T) {
	srv := newTestHost(t, nil)
	cli := newTestHost(t, nil)
	seen := make(chan Message, 16)
	srv.SetPipelineHandler(echoStage(seen))
	p := connect(t, cli, srv)
	s, err := cli.OpenPipeline(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Peer() != srv.ID() {
		t.Errorf("Peer() = %s, want %s", s.Peer(), srv.ID())
	}
	open := &OpenSession{SessionID: "exec-1", ModelID: [32]byte{9}, TaskID: 2}
	if err := s.Send(open); err != nil {
		t.Fatal(err)
	}
	// 40 rows: several chunks written as one; 1100 rows: over
	// coalesceLimit, written chunk by chunk.
	for i, rows := range []int{5, 1, 40, 1100, 1} {
		x := testFrame(rows, 64)
		pos := make([]int32, rows)
		step := &Step{SessionID: "exec-1", Index: uint64(i), Positions: pos, Tensors: []NamedTensor{{Name: "x", Frame: x}}}
		if err := s.Send(step); err != nil {
			t.Fatal(err)
		}
		m, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		r, ok := m.(*StepResult)
		if !ok || r.Index != uint64(i) || r.Tensor("out.x") == nil || r.Tensor("out.x").Shape[0] != rows ||
			string(r.Tensor("out.x").Data) != string(x.Data) {
			t.Fatalf("step %d: got %v %+v", i, m.Type(), m)
		}
	}
	if err := s.Send(&Close{SessionID: "exec-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != io.EOF {
		t.Errorf("Recv after Close: %v, want io.EOF", err)
	}
	if got := (<-seen).(*OpenSession); *got != *open {
		t.Errorf("server saw %+v, want %+v", got, open)
	}
}

func TestPipelineRemoteError(t *testing.T) {
	srv := newTestHost(t, nil)
	cli := newTestHost(t, nil)
	srv.SetPipelineHandler(func(ctx context.Context, s *Stream) {
		if _, err := s.Recv(); err == nil {
			s.Send(&Error{Code: CodeUnknownSession, Text: "no session exec-9"})
		}
		s.Recv() // wait for the client to finish
	})
	s, err := cli.OpenPipeline(context.Background(), connect(t, cli, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(&Step{SessionID: "exec-9"}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := m.(*Error); !ok || e.Code != CodeUnknownSession {
		t.Fatalf("got %#v, want an Error with CodeUnknownSession", m)
	}
	// An Error message does not break the stream.
	if err := s.Send(&Close{}); err != nil {
		t.Errorf("Send after a remote Error: %v", err)
	}
}

func TestPipelineReadTimeout(t *testing.T) {
	srv := newTestHost(t, nil)
	cli := newTestHost(t, nil)
	srv.SetPipelineHandler(func(ctx context.Context, s *Stream) { <-ctx.Done() })
	s, err := cli.OpenPipeline(context.Background(), connect(t, cli, srv))
	if err != nil {
		t.Fatal(err)
	}
	s.SetTimeouts(100*time.Millisecond, time.Second)
	if err := s.Send(&OpenSession{SessionID: "x"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Recv()
	if !errors.Is(err, ErrStreamBroken) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Recv from a silent peer: %v, want ErrStreamBroken and os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
	var se *StreamError
	if !errors.As(err, &se) || se.Peer != srv.ID() {
		t.Errorf("error %v does not name peer %s", err, srv.ID())
	}
	// The failure is sticky.
	if err2 := s.Send(&Close{}); !errors.Is(err2, ErrStreamBroken) {
		t.Errorf("Send after a failure: %v", err2)
	}
}

// TestSetReadTimeoutDuringRecv: a new read timeout applies to a Recv
// already waiting: none lets it outwait the host's timeout, and the host's
// again ends a wait that has outlasted it.
func TestSetReadTimeoutDuringRecv(t *testing.T) {
	srv := newTestHost(t, nil)
	cli := newTestHost(t, func(c *Config) { c.ReadTimeout = 150 * time.Millisecond })
	reply := make(chan struct{})
	srv.SetPipelineHandler(func(ctx context.Context, s *Stream) {
		if _, err := s.Recv(); err != nil {
			return
		}
		<-reply
		s.Send(&Close{SessionID: "late"})
		<-ctx.Done()
	})
	s, err := cli.OpenPipeline(context.Background(), connect(t, cli, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	if err := s.Send(&OpenSession{SessionID: "x"}); err != nil {
		t.Fatal(err)
	}
	type got struct {
		m   Message
		err error
	}
	recv := func() chan got {
		c := make(chan got, 1)
		go func() {
			m, err := s.Recv()
			c <- got{m, err}
		}()
		return c
	}
	first := recv()
	time.Sleep(20 * time.Millisecond) // let Recv start under the host's 150 ms
	s.SetReadTimeout(0)
	time.Sleep(400 * time.Millisecond)
	close(reply)
	if r := <-first; r.err != nil || r.m.Type() != TypeClose {
		t.Fatalf("Recv without a read timeout: %v, %v; want the Close sent after 400 ms", r.m, r.err)
	}
	second := recv()
	time.Sleep(300 * time.Millisecond) // silent peer, no timeout yet
	select {
	case r := <-second:
		t.Fatalf("Recv without a read timeout returned %v, %v", r.m, r.err)
	default:
	}
	start := time.Now()
	s.ResetReadTimeout()
	select {
	case r := <-second:
		if !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("Recv after the host's read timeout was restored: %v, want os.ErrDeadlineExceeded", r.err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the restored timeout took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read timeout set during Recv did not end it")
	}
}

func TestSendRejectsInvalidMessage(t *testing.T) {
	srv := newTestHost(t, nil)
	cli := newTestHost(t, nil)
	srv.SetPipelineHandler(echoStage(nil))
	s, err := cli.OpenPipeline(context.Background(), connect(t, cli, srv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bad := ir.Frame{DType: ir.F32, Shape: ir.Shape{2}, Data: make([]byte, 3)}
	err = s.Send(&Step{Tensors: []NamedTensor{{Name: "x", Frame: bad}}})
	if err == nil || errors.Is(err, ErrStreamBroken) {
		t.Fatalf("Send of a bad frame: %v, want an encoding error that leaves the stream usable", err)
	}
	if err := s.Send(&Step{Index: 1}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Recv(); err != nil || m.(*StepResult).Index != 1 {
		t.Fatalf("after a refused Send: %v, %v", m, err)
	}
}

func TestOpenPipelineUnknownPeer(t *testing.T) {
	a := newTestHost(t, nil)
	b := newTestHost(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := a.OpenPipeline(ctx, b.ID()) // address never learnt
	if !errors.Is(err, ErrStreamBroken) {
		t.Errorf("OpenPipeline to a peer without address: %v", err)
	}
	// A peer that does not serve the protocol.
	_, err = a.OpenPipeline(context.Background(), connect(t, a, b))
	if err == nil {
		t.Error("OpenPipeline succeeded to a peer without a pipeline handler")
	}
}

func TestHostCloseStopsEverything(t *testing.T) {
	// A first pair of hosts starts libp2p's process-wide goroutines.
	warm := newTestHost(t, nil)
	warm.Close()
	base := runtime.NumGoroutine()

	srv, err := New(context.Background(), Config{Key: testKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := New(context.Background(), Config{Key: testKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	inHandler := make(chan struct{})
	srv.SetPipelineHandler(func(ctx context.Context, s *Stream) {
		close(inHandler)
		for {
			if _, err := s.Recv(); err != nil { // ends when Close resets the stream
				return
			}
		}
	})
	srv.ServeBlobs(mustStore(t))
	s, err := cli.OpenPipeline(context.Background(), connect(t, cli, srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&OpenSession{}); err != nil {
		t.Fatal(err)
	}
	<-inHandler
	select {
	case <-srv.Done():
		t.Error("Done was closed before Close")
	default:
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Done():
	default:
		t.Error("Done is still open after Close")
	}
	if _, err := s.Recv(); !errors.Is(err, ErrStreamBroken) {
		t.Errorf("client Recv after the server closed: %v (%T)", err, err)
	}
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cli.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitGoroutines(t, base)
}
