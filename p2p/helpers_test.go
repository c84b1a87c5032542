package p2p

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"runtime"
	"strings"
	"testing"
	"time"
)

func testKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newTestHost starts a host on loopback that is closed when the test ends.
func newTestHost(t testing.TB, mod func(*Config)) *Host {
	t.Helper()
	cfg := Config{Key: testKey(t)}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// connect dials b from a and returns b's peer id.
func connect(t testing.TB, a, b *Host) PeerID {
	t.Helper()
	id, err := a.Connect(context.Background(), b.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// waitGoroutines polls until at most n goroutines run, failing the test
// with a stack dump after a deadline.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines still run, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustContain(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func mustStore(t testing.TB) *BlobStore {
	t.Helper()
	s, err := OpenBlobStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// blobPeersHeld counts the blob serves under way, over all peers.
func (h *Host) blobPeersHeld() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.blobPeers {
		n += c
	}
	return n
}
