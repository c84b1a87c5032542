package p2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Protocol ids.
const (
	// PipelineProtocol carries pipeline messages both ways on one stream.
	PipelineProtocol = "/splitup/pipeline/1"
	// BlobProtocol fetches a content-addressed blob, optionally from an offset.
	BlobProtocol = "/splitup/blob/1"
)

func protoID(s string) protocol.ID { return protocol.ID(s) }

// writeChunk is the most a single stream write carries, so the write
// deadline is an idle timeout rather than a bound on a whole message.
const writeChunk = 1 << 20

// rejectTimeout bounds the best-effort Error sent before closing a stream
// whose peer broke the protocol.
const rejectTimeout = 2 * time.Second

// Stream is a pipeline stream with one peer. One goroutine may Send while
// another Recvs; concurrent Sends (or Recvs) are serialised.
//
// Every failure other than a clean end of stream leaves the stream broken:
// the error matches ErrStreamBroken (and os.ErrDeadlineExceeded after a
// timeout), the underlying stream is reset (or,
// after a protocol violation by the peer, answered with an Error message and
// closed), and later calls return the same error.
type Stream struct {
	h   *Host
	s   network.Stream
	lim Limits

	rmu sync.Mutex // serialises Recv
	wmu sync.Mutex // serialises writes to s

	// mu guards the fields below.
	mu           sync.Mutex
	err          error // sticky: set once the stream is broken or closed
	readTimeout  time.Duration
	writeTimeout time.Duration
}

// SetPipelineHandler makes the host accept pipeline streams and run fn for
// each in its own goroutine. ctx is cancelled when the host closes; the
// stream is closed when fn returns. A nil fn stops accepting new streams.
func (h *Host) SetPipelineHandler(fn func(ctx context.Context, s *Stream)) {
	if fn == nil {
		h.h.RemoveStreamHandler(protoID(PipelineProtocol))
		return
	}
	h.h.SetStreamHandler(protoID(PipelineProtocol), func(ns network.Stream) {
		h.serve(ns, func(ns network.Stream) {
			st := h.wrap(ns)
			ctx, cancel := context.WithCancel(h.ctx)
			defer cancel()
			defer st.Close()
			fn(ctx, st)
		})
	})
}

// OpenPipeline opens a pipeline stream to p, dialling it if needed (its
// address must be known from Connect). ctx bounds only the opening. The
// caller must Close or Reset the stream.
func (h *Host) OpenPipeline(ctx context.Context, p PeerID) (*Stream, error) {
	ns, err := h.newStream(ctx, p, PipelineProtocol)
	if err != nil {
		return nil, err
	}
	return h.wrap(ns), nil
}

func (h *Host) wrap(ns network.Stream) *Stream {
	return &Stream{
		h:            h,
		s:            ns,
		lim:          h.cfg.limits(),
		readTimeout:  h.cfg.ReadTimeout,
		writeTimeout: h.cfg.WriteTimeout,
	}
}

// Peer returns the remote peer.
func (s *Stream) Peer() PeerID { return s.s.Conn().RemotePeer() }

// Host returns the host the stream belongs to (to open streams to other
// peers on behalf of this one).
func (s *Stream) Host() *Host { return s.h }

// SetTimeouts replaces the host's read and write timeouts for this stream.
// A read fails when no byte arrives for read; a write when the remote
// takes no byte for write. Zero means no timeout: then only a dropped
// connection ends a wait. A Recv waiting in another goroutine waits under
// the new read timeout from now on.
func (s *Stream) SetTimeouts(read, write time.Duration) {
	s.mu.Lock()
	s.readTimeout, s.writeTimeout = read, write
	s.mu.Unlock()
	_ = s.s.SetReadDeadline(deadline(read))
}

// SetReadTimeout replaces the stream's read timeout alone (see
// SetTimeouts): 0 lets reads wait until the connection drops.
func (s *Stream) SetReadTimeout(read time.Duration) {
	s.mu.Lock()
	s.readTimeout = read
	s.mu.Unlock()
	_ = s.s.SetReadDeadline(deadline(read))
}

// ResetReadTimeout puts the stream back under its host's read timeout
// (Config.ReadTimeout).
func (s *Stream) ResetReadTimeout() { s.SetReadTimeout(s.h.cfg.ReadTimeout) }

func (s *Stream) timeouts() (time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readTimeout, s.writeTimeout
}

func (s *Stream) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fail marks the stream broken by cause during op and resets it; it returns
// the first failure.
func (s *Stream) fail(op string, cause error) error {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = &StreamError{Peer: s.Peer(), Op: op, Err: markTimeout(cause)}
	}
	err := s.err
	s.mu.Unlock()
	if first {
		_ = s.s.Reset()
		s.h.untrack(s.s)
	}
	return err
}

// Send writes m. A message that fails to encode returns an error that does
// not break the stream; any write failure does.
func (s *Stream) Send(m Message) error {
	chunks, n, err := encodeChunks(m)
	if err != nil {
		return fmt.Errorf("p2p: send: %w", err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.failed(); err != nil {
		return err
	}
	_, wt := s.timeouts()
	w := deadlineWriter{s: s.s, d: wt}
	if len(chunks) > 1 && n <= coalesceLimit {
		// One write, so one muxer frame and one segment: each extra
		// write costs the receiver another wake-up.
		bp := coalescePool.Get().(*[]byte)
		defer coalescePool.Put(bp)
		buf := (*bp)[:0]
		for _, c := range chunks {
			buf = append(buf, c...)
		}
		*bp = buf
		chunks = [][]byte{buf}
	}
	for _, c := range chunks {
		if _, err := w.Write(c); err != nil {
			return s.fail("send "+m.Type().String(), err)
		}
	}
	return nil
}

// coalesceLimit is the largest message Send copies into one buffer to
// write at once; larger ones go out chunk by chunk, tensor data uncopied.
const coalesceLimit = 256 << 10

// coalescePool holds Send's buffers for coalesced messages.
var coalescePool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// Recv reads the next message. It returns io.EOF when the peer closed its
// side cleanly between messages. A message that breaks the format or the
// host's limits is answered with an Error message, the stream is closed,
// and the returned error matches ErrStreamBroken and ErrMalformed or
// ErrTooLarge.
func (s *Stream) Recv() (Message, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if err := s.failed(); err != nil {
		return nil, err
	}
	m, err := ReadMessage(streamReader{s}, s.lim)
	switch {
	case err == nil:
		return m, nil
	case err == io.EOF:
		return nil, io.EOF
	case errors.Is(err, ErrTooLarge):
		return nil, s.reject(CodeTooLarge, err)
	case errors.Is(err, ErrMalformed):
		return nil, s.reject(CodeProtocol, err)
	}
	return nil, s.fail("recv", err)
}

// reject answers a protocol violation with a best-effort Error message,
// closes the stream and marks it broken.
func (s *Stream) reject(code uint32, cause error) error {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = &StreamError{Peer: s.Peer(), Op: "recv", Err: cause}
	}
	err := s.err
	s.mu.Unlock()
	if !first {
		return err
	}
	s.h.untrack(s.s)
	if !s.wmu.TryLock() {
		_ = s.s.Reset() // a Send is in progress; no room for a reply
		return err
	}
	defer s.wmu.Unlock()
	w := deadlineWriter{s: s.s, d: rejectTimeout}
	text := cause.Error()
	if len(text) > MaxErrorText {
		text = text[:MaxErrorText]
	}
	if WriteMessage(w, &Error{Code: code, Text: text}) != nil {
		_ = s.s.Reset()
		return err
	}
	_ = s.s.Close()
	return err
}

// Close closes the stream: the peer reads the messages already sent, then
// io.EOF. Later calls on s return an error matching ErrClosed.
func (s *Stream) Close() error {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = &StreamError{Peer: s.Peer(), Op: "use", Err: ErrClosed}
	}
	s.mu.Unlock()
	if !first {
		return nil
	}
	s.h.untrack(s.s)
	if err := s.s.Close(); err != nil {
		_ = s.s.Reset()
		return fmt.Errorf("p2p: close stream with %s: %w", s.Peer(), err)
	}
	return nil
}

// Reset aborts the stream in both directions; the peer's next call on it
// fails with an error matching ErrStreamBroken.
func (s *Stream) Reset() {
	s.fail("use", ErrClosed)
}

// markTimeout makes a timeout of the muxer match os.ErrDeadlineExceeded.
func markTimeout(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %w", os.ErrDeadlineExceeded, err)
	}
	return err
}

// streamReader reads s's stream under s's read timeout as it is at each
// read (SetTimeouts may change it while a Recv waits).
type streamReader struct{ s *Stream }

// Read reads from the stream under a fresh read deadline.
func (r streamReader) Read(p []byte) (int, error) {
	rt, _ := r.s.timeouts()
	return deadlineReader{s: r.s.s, d: rt}.Read(p)
}

// deadlineReader sets an idle read deadline before each read.
type deadlineReader struct {
	s network.Stream
	d time.Duration
}

// Read reads from the stream under a fresh read deadline.
func (r deadlineReader) Read(p []byte) (int, error) {
	if err := r.s.SetReadDeadline(deadline(r.d)); err != nil {
		return 0, err
	}
	return r.s.Read(p)
}

// deadline returns the deadline d from now, or none for d == 0.
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// deadlineWriter writes in chunks of at most writeChunk bytes, each under
// a fresh write deadline, never later than until (if set).
type deadlineWriter struct {
	s     network.Stream
	d     time.Duration
	until time.Time
}

// Write writes p in chunks, each under a fresh write deadline.
func (w deadlineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := p[:min(len(p), writeChunk)]
		dl := deadline(w.d)
		if !w.until.IsZero() && (dl.IsZero() || w.until.Before(dl)) {
			dl = w.until
		}
		if err := w.s.SetWriteDeadline(dl); err != nil {
			return n, err
		}
		k, err := w.s.Write(c)
		n += k
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}
