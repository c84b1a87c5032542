package p2p

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Blob protocol, version 1. The client sends one request and closes its
// side; the server answers with a response header and, when the status is
// blobOK, the blob's bytes from the requested offset to the end, then
// closes.
//
//	request:  "SPBQ" | version 1 | hash [32] | offset u64
//	response: "SPBA" | version 1 | status u8 | size u64 | text length u16 | text
//
// Integers are little-endian; size is the whole blob's length; text
// (at most MaxBlobText bytes) explains a status other than blobOK and is
// empty otherwise.
const (
	blobRequestMagic  = "SPBQ"
	blobResponseMagic = "SPBA"
	blobVersion       = 1
	blobRequestLen    = 4 + 1 + 32 + 8
	blobResponseFixed = 4 + 1 + 1 + 8 + 2
	// MaxBlobText caps the explanation in a blob response.
	MaxBlobText = 1024
)

// blobStatus is the status byte of a blob response.
type blobStatus uint8

const (
	blobOK         blobStatus = 0
	blobNotFound   blobStatus = 1
	blobBadOffset  blobStatus = 2 // offset beyond the blob's end
	blobBusy       blobStatus = 3
	blobBadRequest blobStatus = 4
	blobInternal   blobStatus = 5
	blobMaxStatus             = blobInternal
)

type blobRequest struct {
	Hash   Hash
	Offset uint64
}

func (r *blobRequest) encode() []byte {
	b := make([]byte, 0, blobRequestLen)
	b = append(b, blobRequestMagic...)
	b = append(b, blobVersion)
	b = append(b, r.Hash[:]...)
	return binary.LittleEndian.AppendUint64(b, r.Offset)
}

func decodeBlobRequest(b []byte) (blobRequest, error) {
	var r blobRequest
	if len(b) != blobRequestLen || string(b[:4]) != blobRequestMagic {
		return r, fmt.Errorf("%w: not a blob request", ErrMalformed)
	}
	if b[4] != blobVersion {
		return r, fmt.Errorf("%w: blob request version %d, this build speaks %d", ErrMalformed, b[4], blobVersion)
	}
	copy(r.Hash[:], b[5:37])
	r.Offset = binary.LittleEndian.Uint64(b[37:])
	return r, nil
}

type blobResponse struct {
	Status blobStatus
	Size   uint64
	Text   string
}

func (r *blobResponse) encode() []byte {
	text := r.Text
	if len(text) > MaxBlobText {
		text = text[:MaxBlobText]
	}
	b := make([]byte, 0, blobResponseFixed+len(text))
	b = append(b, blobResponseMagic...)
	b = append(b, blobVersion, byte(r.Status))
	b = binary.LittleEndian.AppendUint64(b, r.Size)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(text)))
	return append(b, text...)
}

// readBlobResponse reads a response header from r; the text length is
// checked before it is read.
func readBlobResponse(r io.Reader) (blobResponse, error) {
	var resp blobResponse
	var b [blobResponseFixed]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return resp, err
	}
	if string(b[:4]) != blobResponseMagic {
		return resp, fmt.Errorf("%w: not a blob response", ErrMalformed)
	}
	if b[4] != blobVersion {
		return resp, fmt.Errorf("%w: blob response version %d, this build speaks %d", ErrMalformed, b[4], blobVersion)
	}
	resp.Status = blobStatus(b[5])
	if resp.Status > blobMaxStatus {
		return resp, fmt.Errorf("%w: unknown blob status %d", ErrMalformed, b[5])
	}
	resp.Size = binary.LittleEndian.Uint64(b[6:])
	n := binary.LittleEndian.Uint16(b[14:])
	if n > MaxBlobText {
		return resp, fmt.Errorf("%w: blob response text of %d bytes > %d", ErrTooLarge, n, MaxBlobText)
	}
	if resp.Status == blobOK && n != 0 {
		return resp, fmt.Errorf("%w: text in a blob response with status ok", ErrMalformed)
	}
	text := make([]byte, n)
	if _, err := io.ReadFull(r, text); err != nil {
		return resp, err
	}
	resp.Text = string(text)
	return resp, nil
}

// ServeBlobs makes the host answer blob requests from store. A nil store
// stops serving.
func (h *Host) ServeBlobs(store *BlobStore) {
	if store == nil {
		h.h.RemoveStreamHandler(protoID(BlobProtocol))
		return
	}
	h.h.SetStreamHandler(protoID(BlobProtocol), func(ns network.Stream) {
		h.serve(ns, func(ns network.Stream) { h.serveBlob(ns, store) })
	})
}

// serveBlob answers one request.
func (h *Host) serveBlob(ns network.Stream, store *BlobStore) {
	_ = ns.SetReadDeadline(time.Now().Add(h.cfg.ReadTimeout))
	var b [blobRequestLen]byte
	if _, err := io.ReadFull(ns, b[:]); err != nil {
		_ = ns.Reset()
		return
	}
	req, err := decodeBlobRequest(b[:])
	if err != nil {
		h.blobReply(ns, blobResponse{Status: blobBadRequest, Text: err.Error()})
		return
	}
	if !h.takeBlobPeer(ns.Conn().RemotePeer()) {
		h.blobReply(ns, blobResponse{Status: blobBusy, Text: fmt.Sprintf("serving %d blobs to you already", maxBlobServesPerPeer)})
		return
	}
	defer h.releaseBlobPeer(ns.Conn().RemotePeer())
	select {
	case h.blobs <- struct{}{}:
		defer func() { <-h.blobs }()
	default:
		h.blobReply(ns, blobResponse{Status: blobBusy, Text: fmt.Sprintf("serving %d blobs already", cap(h.blobs))})
		return
	}
	f, err := store.Open(req.Hash)
	if err != nil {
		st := blobInternal
		if errors.Is(err, ErrNotFound) {
			st = blobNotFound
		}
		h.blobReply(ns, blobResponse{Status: st, Text: err.Error()})
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		h.blobReply(ns, blobResponse{Status: blobInternal, Text: err.Error()})
		return
	}
	size := fi.Size()
	if req.Offset > uint64(size) {
		h.blobReply(ns, blobResponse{Status: blobBadOffset, Size: uint64(size),
			Text: fmt.Sprintf("offset %d beyond the end of blob %s (%d bytes)", req.Offset, req.Hash, size)})
		return
	}
	w := deadlineWriter{s: ns, d: h.cfg.WriteTimeout}
	if _, err := w.Write((&blobResponse{Status: blobOK, Size: uint64(size)}).encode()); err != nil {
		_ = ns.Reset()
		return
	}
	buf := make([]byte, 256<<10)
	off := int64(req.Offset)
	w.until = time.Now().Add(h.cfg.WriteTimeout + serveTime(size-off, h.cfg.MinBlobRate))
	if _, err := io.CopyBuffer(w, io.NewSectionReader(f, off, size-off), buf); err != nil {
		_ = ns.Reset()
		return
	}
	_ = ns.Close()
}

// serveTime is how long n bytes take at rate bytes per second, at most
// a week.
func serveTime(n, rate int64) time.Duration {
	const most = 7 * 24 * time.Hour
	if rate <= 0 || float64(n)/float64(rate) >= most.Seconds() {
		return most
	}
	return time.Duration(float64(n) / float64(rate) * float64(time.Second))
}

// maxBlobServesPerPeer caps the blob requests served at once to one peer:
// one peer reading slowly on many streams would otherwise hold every slot
// of MaxBlobServes, and no other node could fetch its shards here.
const maxBlobServesPerPeer = 2

// takeBlobPeer counts a blob serve for p, unless p has the most already.
func (h *Host) takeBlobPeer(p peer.ID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.blobPeers[p] >= maxBlobServesPerPeer {
		return false
	}
	h.blobPeers[p]++
	return true
}

// releaseBlobPeer ends a blob serve counted by takeBlobPeer.
func (h *Host) releaseBlobPeer(p peer.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.blobPeers[p]--; h.blobPeers[p] <= 0 {
		delete(h.blobPeers, p)
	}
}

// blobReply sends a response without data and closes the stream.
func (h *Host) blobReply(ns network.Stream, r blobResponse) {
	w := deadlineWriter{s: ns, d: h.cfg.WriteTimeout}
	if _, err := w.Write(r.encode()); err != nil {
		_ = ns.Reset()
		return
	}
	_ = ns.Close()
}

// fetchBuf is the read size of a fetch and the granularity of its progress.
const fetchBuf = 1 << 20

// Fetch copies blob want from peer p into dst and returns how many blob
// bytes it received. A previous fetch of want that was interrupted (by ctx,
// a dropped peer or a crash) left a partial file in dst; Fetch resumes from
// its end, from p or any other peer. At the end the whole content is hashed:
// if it is not want, the partial file is deleted and the error matches
// ErrHashMismatch and names both hashes (a resumed fetch that fails the
// check is first taken again whole from p, as the resumed prefix may be
// what was wrong). Progress, when not nil, is called
// with the bytes held so far (including resumed ones) and the blob's size.
// When dst already has want, Fetch returns at once. The error matches
// ErrNotFound when p does not have the blob and ErrBusy when p refused.
func (h *Host) Fetch(ctx context.Context, p PeerID, want Hash, dst *BlobStore, progress func(done, total int64)) (int64, error) {
	return h.FetchUpTo(ctx, p, want, dst, 0, progress)
}

// FetchUpTo is Fetch of a blob known to hold at most limit bytes (0: no
// bound but the format's): a peer that claims more is refused before
// anything is written.
func (h *Host) FetchUpTo(ctx context.Context, p PeerID, want Hash, dst *BlobStore, limit int64, progress func(done, total int64)) (int64, error) {
	if progress == nil {
		progress = func(int64, int64) {}
	}
	unlock, err := dst.lockFetch(ctx, want)
	if err != nil {
		return 0, fmt.Errorf("fetch blob %s: %w", want, err)
	}
	defer unlock()
	if size, err := dst.Size(want); err == nil {
		progress(size, size)
		return 0, nil
	}
	part, err := os.OpenFile(dst.partialPath(want), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("fetch blob %s: %w", want, err)
	}
	hw := sha256.New()
	offset, err := io.Copy(hw, part) // hash the resumed prefix; leaves the file at its end
	if err != nil {
		part.Close()
		return 0, fmt.Errorf("fetch blob %s: read partial file: %w", want, err)
	}
	n, err := h.fetchInto(ctx, p, want, offset, limit, part, hw, progress)
	if errors.Is(err, errRestart) {
		// The partial file is longer than the blob: start over.
		offset = 0
		if err = restart(part, hw); err == nil {
			n, err = h.fetchInto(ctx, p, want, 0, limit, part, hw, progress)
		}
	}
	var got Hash
	if err == nil {
		hw.Sum(got[:0])
	}
	if err == nil && got != want && offset > 0 {
		// The resumed prefix, perhaps another peer's bytes, may be what is
		// wrong: take the whole blob from p once before blaming it.
		if err = restart(part, hw); err == nil {
			var m int64
			m, err = h.fetchInto(ctx, p, want, 0, limit, part, hw, progress)
			n += m
			hw.Sum(got[:0])
		}
	}
	if err != nil {
		part.Close()
		return n, fmt.Errorf("fetch blob %s from %s: %w", want, p, err)
	}
	if got != want {
		part.Close()
		_ = os.Remove(part.Name())
		return n, fmt.Errorf("fetch blob %s from %s: %w: the received bytes hash to %s; partial file deleted", want, p, ErrHashMismatch, got)
	}
	if err := dst.commit(part, want); err != nil {
		return n, fmt.Errorf("fetch blob %s: store: %w", want, err)
	}
	return n, nil
}

// errRestart reports a partial file longer than the blob.
var errRestart = errors.New("partial file beyond the blob's end")

func restart(part *os.File, hw hash.Hash) error {
	hw.Reset()
	if err := part.Truncate(0); err != nil {
		return err
	}
	_, err := part.Seek(0, io.SeekStart)
	return err
}

// fetchInto requests want from offset and appends the bytes to part and hw.
func (h *Host) fetchInto(ctx context.Context, p PeerID, want Hash, offset, limit int64, part *os.File, hw hash.Hash, progress func(done, total int64)) (int64, error) {
	ns, err := h.newStream(ctx, p, BlobProtocol)
	if err != nil {
		return 0, err
	}
	defer h.untrack(ns)
	clean := false
	defer func() {
		if !clean {
			_ = ns.Reset()
		}
	}()
	stop := context.AfterFunc(ctx, func() { _ = ns.Reset() })
	defer stop()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &StreamError{Peer: p, Op: "fetch", Err: markTimeout(err)}
	}
	r := deadlineReader{s: ns, d: h.cfg.ReadTimeout}
	total, err := h.requestBlob(ns, r, want, offset)
	if err != nil {
		var se *StreamError
		if errors.As(err, &se) {
			return 0, fail(se.Err)
		}
		return 0, err
	}
	if limit > 0 && total > limit {
		return 0, fmt.Errorf("%w: the peer offers %d bytes; the blob holds at most %d", ErrMalformed, total, limit)
	}
	progress(offset, total)
	dst := io.MultiWriter(part, hw)
	// Each MiB must arrive within the read timeout, not each read: a peer
	// that trickles a byte at a time does not hold the fetch for ever.
	body := chunkReader{s: ns, d: h.cfg.ReadTimeout}
	got, err := copyBlob(ctx, dst, body, offset, total, progress)
	if err != nil {
		if errors.Is(err, errWrite) {
			return got, err
		}
		return got, fail(err)
	}
	clean = true
	_ = ns.Close()
	return got, nil
}

// requestBlob sends the request for want from offset and reads the
// response header; it returns the blob's size. Errors of the stream come
// back as *StreamError, refusals by the peer as ErrNotFound, ErrBusy or
// errRestart.
func (h *Host) requestBlob(ns network.Stream, r io.Reader, want Hash, offset int64) (int64, error) {
	broken := func(err error) error { return &StreamError{Op: "fetch", Err: err} }
	req := blobRequest{Hash: want, Offset: uint64(offset)}
	if _, err := (deadlineWriter{s: ns, d: h.cfg.WriteTimeout}).Write(req.encode()); err != nil {
		return 0, broken(err)
	}
	_ = ns.CloseWrite()
	resp, err := readBlobResponse(r)
	if err != nil {
		return 0, broken(err)
	}
	switch resp.Status {
	case blobOK:
	case blobNotFound:
		return 0, fmt.Errorf("%w: peer does not have it", ErrNotFound)
	case blobBusy:
		return 0, fmt.Errorf("%w: %s", ErrBusy, resp.Text)
	case blobBadOffset:
		return 0, errRestart
	default:
		return 0, fmt.Errorf("peer failed (status %d): %s", resp.Status, resp.Text)
	}
	if resp.Size > uint64(1)<<62 || int64(resp.Size) < offset {
		return 0, broken(fmt.Errorf("%w: blob size %d with offset %d", ErrMalformed, resp.Size, offset))
	}
	return int64(resp.Size), nil
}

// chunkReader reads a stream under one deadline per chunk of copyBlob:
// reset sets it d from now.
type chunkReader struct {
	s network.Stream
	d time.Duration
}

func (r chunkReader) Read(p []byte) (int, error) { return r.s.Read(p) }

func (r chunkReader) reset() { _ = r.s.SetReadDeadline(deadline(r.d)) }

// errWrite marks a failure to write the partial file.
var errWrite = errors.New("write partial file")

// copyBlob copies the blob's bytes from offset to total from r to dst,
// reporting progress after each read, then checks that r ends there.
func copyBlob(ctx context.Context, dst io.Writer, r chunkReader, offset, total int64, progress func(done, total int64)) (int64, error) {
	buf := make([]byte, fetchBuf)
	var got int64
	for left := total - offset; left > 0; {
		r.reset()
		k, err := io.ReadFull(r, buf[:min(left, fetchBuf)])
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return got, fmt.Errorf("%w: %w", errWrite, werr)
			}
			got += int64(k)
			left -= int64(k)
			progress(offset+got, total)
		}
		if err != nil {
			return got, err
		}
		if err := ctx.Err(); err != nil {
			return got, err
		}
	}
	r.reset()
	if k, err := r.Read(buf[:1]); k != 0 || err != io.EOF {
		return got, fmt.Errorf("%w: bytes after the blob's end", ErrMalformed)
	}
	return got, nil
}
