package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"github.com/libp2p/go-libp2p/core/network"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t testing.TB, s *BlobStore, b []byte) Hash {
	t.Helper()
	h, n, err := s.Put(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(b)) || h != sha256.Sum256(b) {
		t.Fatalf("Put = %s, %d; want %x, %d", h, n, sha256.Sum256(b), len(b))
	}
	return h
}

func readBlob(t testing.TB, s *BlobStore, h Hash) []byte {
	t.Helper()
	f, err := s.Open(h)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBlobStore(t *testing.T) {
	s := mustStore(t)
	a, b := []byte("shard a"), []byte("recorded tensor b")
	ha, hb := put(t, s, a), put(t, s, b)
	if filepath.Base(s.Path(ha)) != ha.String() {
		t.Errorf("blob file %s is not named by its hex hash", s.Path(ha))
	}
	if !s.Has(ha) || !bytes.Equal(readBlob(t, s, ha), a) {
		t.Error("stored blob a not readable")
	}
	if n, err := s.Size(hb); err != nil || n != int64(len(b)) {
		t.Errorf("Size = %d, %v", n, err)
	}
	if _, err := s.Open(Hash{1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of an absent blob: %v, want ErrNotFound", err)
	}
	if got, err := s.List(); err != nil || len(got) != 2 {
		t.Errorf("List = %v, %v", got, err)
	}
	put(t, s, a) // storing again is fine

	// Retention: both blobs are old; only the pinned one survives Prune.
	if err := s.Pin(ha); err != nil || !s.Pinned(ha) {
		t.Fatalf("Pin: %v", err)
	}
	if err := s.Pin(Hash{7}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Pin of an absent blob: %v", err)
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, h := range []Hash{ha, hb} {
		os.Chtimes(s.Path(h), old, old)
	}
	stale := filepath.Join(s.Dir(), tmpDir, Hash{9}.String()+".part")
	os.WriteFile(stale, []byte("x"), 0o644)
	os.Chtimes(stale, old, old)
	removed, err := s.Prune(time.Now().Add(-24 * time.Hour))
	if err != nil || len(removed) != 1 || removed[0] != hb || s.Has(hb) || !s.Has(ha) {
		t.Errorf("Prune removed %v (err %v); want only %s", removed, err, hb)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("Prune left a stale partial file")
	}
	// Touch restarts the retention period of an unpinned blob.
	if err := s.Unpin(ha); err != nil || s.Pinned(ha) {
		t.Fatalf("Unpin: %v", err)
	}
	if err := s.Touch(ha); err != nil {
		t.Fatal(err)
	}
	if removed, _ := s.Prune(time.Now().Add(-time.Hour)); len(removed) != 0 {
		t.Errorf("Prune removed a touched blob: %v", removed)
	}
	if err := s.Delete(ha); err != nil || s.Has(ha) {
		t.Errorf("Delete: %v", err)
	}
	if err := s.Delete(ha); err != nil {
		t.Errorf("second Delete: %v", err)
	}
}

func TestParseHash(t *testing.T) {
	h := Hash(sha256.Sum256([]byte("x")))
	if got, err := ParseHash(h.String()); err != nil || got != h {
		t.Errorf("ParseHash(%s) = %s, %v", h, got, err)
	}
	for _, bad := range []string{"", "abc", h.String()[:63] + "g"} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded", bad)
		}
	}
}

// blobPair returns a host serving a store and a client host connected to it.
func blobPair(t *testing.T, mod func(*Config)) (srv, cli *Host, store *BlobStore, p PeerID) {
	t.Helper()
	srv = newTestHost(t, mod)
	cli = newTestHost(t, nil)
	store = mustStore(t)
	srv.ServeBlobs(store)
	return srv, cli, store, connect(t, cli, srv)
}

func TestFetch(t *testing.T) {
	_, cli, src, p := blobPair(t, nil)
	data := randomBytes(t, 12<<20+12345)
	h := put(t, src, data)
	dst := mustStore(t)
	var last, calls int64
	n, err := cli.Fetch(context.Background(), p, h, dst, func(done, total int64) {
		if done < last || total != int64(len(data)) {
			t.Errorf("progress(%d, %d) after %d", done, total, last)
		}
		last = done
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) || last != n || calls < 3 {
		t.Errorf("received %d, progress ended at %d after %d calls; want %d", n, last, calls, len(data))
	}
	if !bytes.Equal(readBlob(t, dst, h), data) {
		t.Fatal("fetched blob differs")
	}
	// Fetching a blob the store has is free.
	if n, err := cli.Fetch(context.Background(), p, h, dst, nil); n != 0 || err != nil {
		t.Errorf("second Fetch = %d, %v", n, err)
	}
}

func TestFetchResumeAfterCancel(t *testing.T) {
	_, cli, src, p := blobPair(t, nil)
	data := randomBytes(t, 8<<20)
	h := put(t, src, data)
	dst := mustStore(t)
	total := int64(len(data))

	ctx, cancel := context.WithCancel(context.Background())
	n1, err := cli.Fetch(ctx, p, h, dst, func(done, _ int64) {
		if done >= total/2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Fetch: %v, want context.Canceled", err)
	}
	if dst.Has(h) || n1 == 0 || n1 >= total {
		t.Fatalf("cancelled Fetch received %d of %d bytes; blob present: %v", n1, total, dst.Has(h))
	}

	first := int64(-1)
	n2, err := cli.Fetch(context.Background(), p, h, dst, func(done, _ int64) {
		if first < 0 {
			first = done
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n2 >= total || n1+n2 != total || first != n1 {
		t.Errorf("resumed Fetch received %d bytes (first progress %d) after %d; want %d", n2, first, n1, total-n1)
	}
	if !bytes.Equal(readBlob(t, dst, h), data) {
		t.Fatal("resumed blob differs")
	}
}

func TestFetchResumeAfterPeerDies(t *testing.T) {
	srv, cli, src, p := blobPair(t, nil)
	data := randomBytes(t, 8<<20)
	h := put(t, src, data)
	dst := mustStore(t)
	total := int64(len(data))
	n1, err := cli.Fetch(context.Background(), p, h, dst, func(done, _ int64) {
		if done >= total/3 {
			srv.Close()
		}
	})
	if !errors.Is(err, ErrStreamBroken) || n1 >= total {
		t.Fatalf("Fetch from a peer that died: received %d, err %v; want ErrStreamBroken", n1, err)
	}
	// Another peer with the same blob completes it.
	srv2 := newTestHost(t, nil)
	srv2.ServeBlobs(src)
	n2, err := cli.Fetch(context.Background(), connect(t, cli, srv2), h, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n2 >= total || n1+n2 != total {
		t.Errorf("resumed Fetch received %d after %d of %d", n2, n1, total)
	}
	if !bytes.Equal(readBlob(t, dst, h), data) {
		t.Fatal("resumed blob differs")
	}
}

func TestFetchHashMismatch(t *testing.T) {
	_, cli, src, p := blobPair(t, nil)
	want := Hash(sha256.Sum256([]byte("the real shard")))
	lie := randomBytes(t, 3<<20)
	if err := os.WriteFile(src.Path(want), lie, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := mustStore(t)
	_, err := cli.Fetch(context.Background(), p, want, dst, nil)
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Fetch of lying bytes: %v, want ErrHashMismatch", err)
	}
	mustContain(t, err, want.String(), Hash(sha256.Sum256(lie)).String())
	if dst.Has(want) {
		t.Error("mismatching blob was stored")
	}
	if _, err := os.Stat(dst.partialPath(want)); !os.IsNotExist(err) {
		t.Error("partial file of a mismatching blob kept")
	}
}

// A partial file whose bytes are wrong (left by a peer that lied and
// dropped the connection) does not make an honest peer fail the fetch: the
// blob is taken again whole.
func TestFetchCorruptPartial(t *testing.T) {
	_, cli, src, p := blobPair(t, nil)
	data := randomBytes(t, 3<<20)
	h := put(t, src, data)
	dst := mustStore(t)
	if err := os.WriteFile(dst.partialPath(h), randomBytes(t, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := cli.Fetch(context.Background(), p, h, dst, nil)
	if err != nil || !bytes.Equal(readBlob(t, dst, h), data) {
		t.Fatalf("Fetch over a corrupt partial file: %v", err)
	}
	if n != int64(len(data))+(2<<20) {
		t.Errorf("received %d bytes, want the rest after the partial file, then the whole blob (%d)", n, len(data)+(2<<20))
	}
}

// A peer that offers more bytes than the caller knows the blob holds is
// refused before anything is written.
func TestFetchUpToRefusesOversize(t *testing.T) {
	_, cli, src, p := blobPair(t, nil)
	data := randomBytes(t, 64<<10)
	h := put(t, src, data)
	dst := mustStore(t)
	_, err := cli.FetchUpTo(context.Background(), p, h, dst, 1000, nil)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("FetchUpTo(limit 1000) of a %d-byte blob: %v, want ErrMalformed", len(data), err)
	}
	mustContain(t, err, "offers 65536 bytes", "at most 1000")
	if fi, err := os.Stat(dst.partialPath(h)); dst.Has(h) || (err == nil && fi.Size() != 0) {
		t.Error("bytes of a refused blob were written")
	}
	if _, err := cli.FetchUpTo(context.Background(), p, h, dst, int64(len(data)), nil); err != nil || !bytes.Equal(readBlob(t, dst, h), data) {
		t.Fatalf("FetchUpTo(limit = size): %v", err)
	}
}

// A peer that trickles a blob a byte at a time, each within the read
// timeout, fails the fetch once a MiB has not come within it.
func TestFetchTrickleTimesOut(t *testing.T) {
	srv := newTestHost(t, nil)
	cli := newTestHost(t, func(c *Config) { c.ReadTimeout = 300 * time.Millisecond })
	srv.h.SetStreamHandler(protoID(BlobProtocol), func(ns network.Stream) {
		defer ns.Reset()
		var b [blobRequestLen]byte
		if _, err := io.ReadFull(ns, b[:]); err != nil {
			return
		}
		resp := blobResponse{Status: blobOK, Size: 4 << 20}
		if _, err := ns.Write(resp.encode()); err != nil {
			return
		}
		for range 4 << 20 {
			if _, err := ns.Write([]byte{7}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	p := connect(t, cli, srv)
	start := time.Now()
	_, err := cli.Fetch(context.Background(), p, Hash{1, 2, 3}, mustStore(t), nil)
	if !errors.Is(err, ErrStreamBroken) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Fetch from a trickling peer: %v, want a broken stream past its deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the trickle held the fetch %v", d)
	}
}

func TestFetchUnknownHash(t *testing.T) {
	_, cli, _, p := blobPair(t, nil)
	h := Hash{0xab}
	_, err := cli.Fetch(context.Background(), p, h, mustStore(t), nil)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Fetch of an unknown hash: %v, want ErrNotFound", err)
	}
	mustContain(t, err, h.String(), p.String(), "does not have it")
}

func TestFetchPartialLongerThanBlob(t *testing.T) {
	_, cli, src, p := blobPair(t, nil)
	data := randomBytes(t, 1000)
	h := put(t, src, data)
	dst := mustStore(t)
	os.WriteFile(dst.partialPath(h), make([]byte, 5000), 0o644)
	n, err := cli.Fetch(context.Background(), p, h, dst, nil)
	if err != nil || n != 1000 || !bytes.Equal(readBlob(t, dst, h), data) {
		t.Fatalf("Fetch over an overlong partial file: %d, %v", n, err)
	}
}

func TestFetchBusy(t *testing.T) {
	_, cli, src, p := blobPair(t, func(c *Config) { c.MaxBlobServes = 1 })
	big := put(t, src, randomBytes(t, 4<<20))
	small := put(t, src, []byte("small"))
	var busyErr error
	asked := false
	_, err := cli.Fetch(context.Background(), p, big, mustStore(t), func(done, total int64) {
		if !asked { // the server holds its only slot for this fetch now
			asked = true
			_, busyErr = cli.Fetch(context.Background(), p, small, mustStore(t), nil)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(busyErr, ErrBusy) {
		t.Errorf("Fetch while the peer serves its maximum: %v, want ErrBusy", busyErr)
	}
}

// TestFetchBusyPerPeer: one peer that opens blob requests and reads
// nothing holds at most maxBlobServesPerPeer of the server's slots; its
// next request is refused, and another peer is still served.
func TestFetchBusyPerPeer(t *testing.T) {
	srv, cli, src, p := blobPair(t, nil)
	big := put(t, src, randomBytes(t, 64<<20))
	small := put(t, src, []byte("small"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range maxBlobServesPerPeer {
		ns, err := cli.newStream(ctx, p, BlobProtocol)
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Reset()
		req := blobRequest{Hash: big}
		if _, err := ns.Write(req.encode()); err != nil {
			t.Fatal(err)
		}
		if _, err := readBlobResponse(ns); err != nil { // served: the slot is held
			t.Fatal(err)
		}
	}
	_, err := cli.Fetch(ctx, p, small, mustStore(t), nil)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("a third request from the same peer: %v, want ErrBusy", err)
	}
	other := newTestHost(t, nil)
	if n, err := other.Fetch(ctx, connect(t, other, srv), small, mustStore(t), nil); err != nil || n != 5 {
		t.Fatalf("another peer's request: %d, %v", n, err)
	}
}

// TestFetchSlowReaderCutOff: a peer that reads a blob just fast enough to
// beat each write's timeout is cut off once the serve falls behind
// MinBlobRate, and its slot is free again.
func TestFetchSlowReaderCutOff(t *testing.T) {
	srv, cli, src, p := blobPair(t, func(c *Config) { c.WriteTimeout, c.MinBlobRate = time.Second, 16<<20 })
	big := put(t, src, randomBytes(t, 64<<20)) // 5 s allowed; 25 s at the reader's 2.5 MiB/s
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, err := cli.newStream(ctx, p, BlobProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Reset()
	if _, err := ns.Write((&blobRequest{Hash: big}).encode()); err != nil {
		t.Fatal(err)
	}
	if _, err := readBlobResponse(ns); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	buf := make([]byte, 256<<10)
	var got int
	for {
		n, err := io.ReadFull(ns, buf)
		got += n
		if err != nil {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("still served after %v (%d MiB read)", time.Since(start), got>>20)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got >= 64<<20 {
		t.Fatalf("the slow reader got the whole blob in %v", time.Since(start))
	}
	for srv.blobPeersHeld() > 0 {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the cut-off serve still holds its slot")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := serveTime(1<<20, 1<<20); d != time.Second {
		t.Errorf("serveTime(1 MiB, 1 MiB/s) = %v", d)
	}
	if d := serveTime(1<<62, 1); d != 7*24*time.Hour {
		t.Errorf("serveTime of an absurd size = %v, want the week cap", d)
	}
}

func TestBlobRequestDecoding(t *testing.T) {
	r := blobRequest{Hash: Hash{1, 2}, Offset: 99}
	got, err := decodeBlobRequest(r.encode())
	if err != nil || got != r {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	b := r.encode()
	b[4] = 2
	if _, err := decodeBlobRequest(b); !errors.Is(err, ErrMalformed) {
		t.Errorf("version 2: %v", err)
	}
	resp := (&blobResponse{Status: blobNotFound, Text: "x"}).encode()
	resp[14], resp[15] = 0xff, 0xff // text length 65535
	if _, err := readBlobResponse(bytes.NewReader(resp)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversize response text: %v", err)
	}
}
