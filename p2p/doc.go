// Package p2p is SplitUp's network layer: a libp2p host that speaks two
// protocols, pipeline streams for activations and a blob protocol for
// content-addressed files (weight shards, recorded tensors).
//
// The host uses only the TCP transport with Noise security and the yamux
// muxer; QUIC, relays, hole punching, NAT port mapping and local discovery
// are off. A node's peer id derives from its ed25519 key, the same key that
// signs its chain transactions (PeerIDFromPublicKey), so the chain's node
// registry tells who a peer is.
//
// # Pipeline streams
//
// The gateway (or an upstream stage) drives a session over one stream:
//
//  1. The server calls SetPipelineHandler; the client Connects to the
//     server's address (Host.Addrs) and calls OpenPipeline.
//  2. The client sends OpenSession{session, model, task}; the server
//     prepares the task's state for the session.
//  3. Per step the client sends Step{session, index, positions, tensors};
//     the server answers StepResult{session, index, tensors} or Error.
//     A batched prefill is one Step whose tensors carry the row count in
//     Shape[0], one position per row.
//  4. The client sends Close. The server's handler returns on it, which
//     closes the stream; the client's next Recv returns io.EOF, and it
//     closes its side with Stream.Close.
//
// Between steps the client may send Route (stage-to-stage relaying: the
// server then opens a stream to the next stage, sends Attach on it, naming
// the client whose session it is, and passes each step's outputs on as
// that stage's Steps; see Route; a stage whose steps now come by relay
// waits on its client's stream without a read timeout) and
// Fetch (rows of a tensor the session recorded, to rebuild another stage
// on a replacement node); each is answered like a Step.
//
// Messages are framed (magic, version, type, bounded length; see
// MessageMagic) and tensors travel as canonical ir.Frame encodings, so a
// receiver can hash what it received for its commitments without
// re-encoding. Decoders check every length against Limits before they
// allocate, and a claimed payload is only allocated as its bytes arrive.
//
// # Detecting a dead peer
//
// Every Send and Recv error other than a clean io.EOF matches
// ErrStreamBroken; callers report the peer and reassign its task. How fast
// a failure surfaces:
//
//   - The remote process dies (crash, SIGKILL) while its kernel lives: the
//     kernel closes the TCP connection (FIN, or RST when data was unread),
//     yamux ends the session and every pending Recv on it fails at once —
//     within milliseconds on loopback or a LAN (TestPeerKilled).
//   - The remote machine or the network vanishes: nothing arrives. Recv
//     fails after Config.ReadTimeout without a byte, Send after
//     Config.WriteTimeout without progress; yamux keepalive pings also
//     close a silent connection (about 30 s ping interval plus a 10 s
//     write timeout).
//   - The remote breaks the protocol (garbage, a length above the limits):
//     Recv answers with an Error message, closes the stream and fails with
//     an error that also matches ErrMalformed or ErrTooLarge. Other streams
//     of the host are not affected.
//
// # Blobs
//
// A BlobStore keeps blobs in a directory, named by the hex SHA-256 of
// their content. ServeBlobs answers the blob protocol from a store; Fetch
// downloads a blob into a store, resuming an interrupted download from
// where it stopped and verifying the hash before the blob becomes visible.
// A host serves at most Config.MaxBlobServes blobs at once, two of them to
// one peer, and cuts off a serve that falls behind Config.MinBlobRate.
package p2p
