package p2p

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	cryptopb "github.com/libp2p/go-libp2p/core/crypto/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// PeerID identifies a node on the network. It is derived from the node's
// ed25519 public key, the same key that signs its chain transactions.
type PeerID = peer.ID

// Default values that Config.Validate fills in for zero fields.
const (
	// DefaultListenAddr is the listen address when Config.ListenAddrs is empty.
	DefaultListenAddr = "/ip4/127.0.0.1/tcp/0"
	// DefaultMaxTensorBytes caps the data of one tensor frame (512 MiB).
	DefaultMaxTensorBytes = int64(512) << 20
	// DefaultReadTimeout is how long a read may wait for the next byte.
	DefaultReadTimeout = 2 * time.Minute
	// DefaultWriteTimeout is how long a write may wait for the remote to take bytes.
	DefaultWriteTimeout = 2 * time.Minute
	// DefaultDialTimeout bounds Connect and the opening of a stream.
	DefaultDialTimeout = 10 * time.Second
	// DefaultMaxBlobServes caps the blob requests served at once.
	DefaultMaxBlobServes = 16
	// DefaultMinBlobRate is the average rate a blob serve must keep (256 KiB/s).
	DefaultMinBlobRate = int64(256) << 10
)

// Config configures a Host. Zero fields take the defaults above.
type Config struct {
	// Key is the node's ed25519 private key; the peer id derives from its
	// public half. Required.
	Key ed25519.PrivateKey
	// ListenAddrs are TCP multiaddrs to listen on, such as
	// "/ip4/0.0.0.0/tcp/4001". Default: DefaultListenAddr (loopback, a free port).
	ListenAddrs []string
	// MaxTensorBytes caps the data bytes of one tensor received on a
	// pipeline stream. Default: DefaultMaxTensorBytes.
	MaxTensorBytes int64
	// MaxMessageBytes caps the payload bytes of one pipeline message (all its
	// tensors together). Default: 2 × MaxTensorBytes + 1 MiB.
	MaxMessageBytes int64
	// ReadTimeout is the longest a stream read waits for data before the
	// stream counts as broken. Default: DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout is the longest a stream write waits for the remote to
	// accept data. Default: DefaultWriteTimeout.
	WriteTimeout time.Duration
	// DialTimeout bounds Connect and the opening of a stream. Default:
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// MaxBlobServes caps the blob requests this host serves at once; more
	// are refused with a busy status. Default: DefaultMaxBlobServes.
	MaxBlobServes int
	// MinBlobRate is the average rate, in bytes per second, that a blob
	// serve must keep: one that has not sent its bytes within WriteTimeout
	// plus their size ÷ MinBlobRate is cut off, so a peer reading just fast
	// enough to beat each write's timeout cannot hold a slot for hours.
	// Fetch resumes a cut-off blob where it stopped. Default:
	// DefaultMinBlobRate.
	MinBlobRate int64
}

// Validate checks c and fills in defaults for zero fields.
func (c *Config) Validate() error {
	if len(c.Key) != ed25519.PrivateKeySize {
		return fmt.Errorf("p2p config: Key has %d bytes, want an ed25519 private key of %d", len(c.Key), ed25519.PrivateKeySize)
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []string{DefaultListenAddr}
	}
	for _, a := range c.ListenAddrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("p2p config: listen address %q: %w", a, err)
		}
	}
	if c.MaxTensorBytes < 0 || c.MaxMessageBytes < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.DialTimeout < 0 || c.MaxBlobServes < 0 || c.MinBlobRate < 0 {
		return errors.New("p2p config: limits and timeouts must not be negative")
	}
	if c.MaxTensorBytes == 0 {
		c.MaxTensorBytes = DefaultMaxTensorBytes
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 2*c.MaxTensorBytes + 1<<20
	}
	if c.MaxMessageBytes > MaxMessagePayload {
		return fmt.Errorf("p2p config: MaxMessageBytes %d above the format's limit %d", c.MaxMessageBytes, int64(MaxMessagePayload))
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.MaxBlobServes == 0 {
		c.MaxBlobServes = DefaultMaxBlobServes
	}
	if c.MinBlobRate == 0 {
		c.MinBlobRate = DefaultMinBlobRate
	}
	return nil
}

// limits returns the decoder limits of c.
func (c *Config) limits() Limits {
	return Limits{MaxTensorBytes: c.MaxTensorBytes, MaxMessageBytes: c.MaxMessageBytes}
}

// PeerIDFromPublicKey returns the peer id of the node whose ed25519 public
// key is pub.
func PeerIDFromPublicKey(pub ed25519.PublicKey) (PeerID, error) {
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("peer id from public key: %w", err)
	}
	return peer.IDFromPublicKey(k)
}

// PublicKeyOf returns the ed25519 public key a peer id was made from
// (PeerIDFromPublicKey inverted).
func PublicKeyOf(id PeerID) (ed25519.PublicKey, error) {
	k, err := id.ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("public key of peer %s: %w", id, err)
	}
	raw, err := k.Raw()
	if err != nil || k.Type() != cryptopb.KeyType_Ed25519 || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key of peer %s: not an ed25519 key", id)
	}
	return ed25519.PublicKey(raw), nil
}

// Host is a libp2p host that speaks the SplitUp protocols over TCP with
// Noise security. Its methods are safe for concurrent use.
type Host struct {
	cfg    Config
	h      host.Host
	ctx    context.Context // cancelled by Close; parent of handler contexts
	cancel context.CancelFunc
	wg     sync.WaitGroup // handler goroutines in flight
	blobs  chan struct{}  // semaphore of blob serves

	// mu guards closed, streams and blobPeers.
	mu        sync.Mutex
	closed    bool
	streams   map[network.Stream]struct{} // open streams, reset by Close
	blobPeers map[peer.ID]int             // blob serves in flight per peer
}

// New starts a host listening on cfg.ListenAddrs. The only transport is TCP,
// the only security protocol Noise and the only muxer yamux; relay, QUIC,
// NAT port mapping and local discovery are off. ctx supplies values only:
// the host runs until Close.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := crypto.UnmarshalEd25519PrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("p2p: node key: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.NoTransports,
		// A listen port is this host's alone: with SO_REUSEPORT (libp2p's
		// default) a second process could bind the same port and the kernel
		// would hand connections to either, so dials would meet the wrong
		// peer id instead of failing to start.
		libp2p.Transport(tcp.NewTCPTransport, tcp.DisableReuseport()),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, muxer()),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.ForceReachabilityPublic(),
		libp2p.Ping(false),
		libp2p.ConnectionManager(connmgr.NullConnMgr{}),
	)
	if err != nil {
		return nil, fmt.Errorf("p2p: start host on %v: %w", cfg.ListenAddrs, err)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Host{
		cfg:       cfg,
		h:         h,
		ctx:       hctx,
		cancel:    cancel,
		blobs:     make(chan struct{}, cfg.MaxBlobServes),
		streams:   make(map[network.Stream]struct{}),
		blobPeers: make(map[peer.ID]int),
	}, nil
}

// ID returns the host's peer id.
func (h *Host) ID() PeerID { return h.h.ID() }

// Addrs returns the addresses peers can dial, each a full multiaddr ending
// in /p2p/<peer id>, such as "/ip4/127.0.0.1/tcp/40123/p2p/12D3KooW...".
func (h *Host) Addrs() []string {
	suffix := "/p2p/" + h.h.ID().String()
	var out []string
	for _, a := range h.h.Addrs() {
		out = append(out, a.String()+suffix)
	}
	return out
}

// AddrPeer returns the peer id at the end of addr, a multiaddr ending in
// /p2p/<peer id>.
func AddrPeer(addr string) (PeerID, error) {
	info, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return "", fmt.Errorf("p2p: address %q (want /ip4/HOST/tcp/PORT/p2p/ID): %w", addr, err)
	}
	return info.ID, nil
}

// Connect dials the peer at addr, a multiaddr ending in /p2p/<peer id>, and
// returns its peer id. The address is remembered for later streams.
func (h *Host) Connect(ctx context.Context, addr string) (PeerID, error) {
	info, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return "", fmt.Errorf("p2p: connect: address %q (want /ip4/HOST/tcp/PORT/p2p/ID): %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.DialTimeout)
	defer cancel()
	h.h.Peerstore().AddAddrs(info.ID, info.Addrs, peerstore.PermanentAddrTTL)
	if err := h.h.Connect(ctx, *info); err != nil {
		return "", fmt.Errorf("p2p: connect to %s: %w", addr, err)
	}
	return info.ID, nil
}

// Done is closed once Close has begun and every stream open then has been
// reset.
func (h *Host) Done() <-chan struct{} { return h.ctx.Done() }

// Close resets every open stream, waits for the handlers it started to
// return, and stops the libp2p host. It is safe to call more than once.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for s := range h.streams {
		_ = s.Reset()
	}
	h.mu.Unlock()
	h.cancel()
	h.h.RemoveStreamHandler(protoID(PipelineProtocol))
	h.h.RemoveStreamHandler(protoID(BlobProtocol))
	h.wg.Wait()
	if err := h.h.Close(); err != nil {
		return fmt.Errorf("p2p: close host: %w", err)
	}
	return nil
}

// track registers s so that Close can reset it; it reports false (and
// resets s) when the host is closing.
func (h *Host) track(s network.Stream) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		_ = s.Reset()
		return false
	}
	h.streams[s] = struct{}{}
	return true
}

func (h *Host) untrack(s network.Stream) {
	h.mu.Lock()
	delete(h.streams, s)
	h.mu.Unlock()
}

// serve runs fn for an incoming stream as a tracked handler goroutine; the
// stream is closed when fn returns.
func (h *Host) serve(s network.Stream, fn func(network.Stream)) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = s.Reset()
		return
	}
	h.wg.Add(1)
	h.streams[s] = struct{}{}
	h.mu.Unlock()
	defer h.wg.Done()
	defer h.untrack(s)
	fn(s)
}

// newStream opens a tracked stream to p for protocol proto.
func (h *Host) newStream(ctx context.Context, p PeerID, proto string) (network.Stream, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.DialTimeout)
	defer cancel()
	s, err := h.h.NewStream(ctx, p, protoID(proto))
	if err != nil {
		return nil, &StreamError{Peer: p, Op: "open " + proto, Err: err}
	}
	if !h.track(s) {
		return nil, &StreamError{Peer: p, Op: "open " + proto, Err: ErrClosed}
	}
	return s, nil
}

// streamWindow is the yamux receive window each stream starts with
// (16 × yamux's 256 KiB). The default window grows only when it drains
// within 4 round trips, which keeps bulk tensors far below what the link
// carries, most of all on a busy machine where the reader is scheduled
// late. A larger window costs memory only while a reader lags; it also
// bounds what a peer can park unread on one stream. yamux still grows the
// window up to its 16 MiB maximum on long, fast links.
const streamWindow = 4 << 20

// muxer returns the yamux configuration of the host.
func muxer() *yamux.Transport {
	t := *yamux.DefaultTransport
	t.InitialStreamWindowSize = streamWindow
	t.MaxStreamWindowSize = max(t.MaxStreamWindowSize, streamWindow)
	return &t
}
