package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519/extra/ecvrf"
)

// Beacon entry wire format: the first tx of every block.
//
//	magic   "SUBN" (4 bytes)
//	version 1      (1 byte)
//	height  uint64 big-endian (8 bytes)
//	proof   ECVRF-EDWARDS25519-SHA512-ELL2 proof (80 bytes)
const (
	beaconMagic   = "SUBN"
	beaconVersion = 1
	// BeaconEntrySize is the exact length of an encoded beacon entry.
	BeaconEntrySize = len(beaconMagic) + 1 + 8 + ecvrf.ProofSize
)

// Errors of beacon verification; ProcessProposal rejects a block on any of them.
var (
	ErrNoBeacon       = errors.New("block does not start with a beacon entry")
	ErrBadBeacon      = errors.New("malformed beacon entry")
	ErrBeaconHeight   = errors.New("beacon entry is for another height")
	ErrBeaconProof    = errors.New("beacon proof does not verify for the proposer's key")
	ErrUnknownSigner  = errors.New("proposer is not in the validator set")
	ErrBeaconMisplace = errors.New("beacon entry after the first tx")
)

// BeaconEntry is the decoded first tx of a block.
type BeaconEntry struct {
	Height int64
	Proof  [ecvrf.ProofSize]byte
}

// GenesisBeacon is the "previous beacon" of the first block of a chain:
// SHA-256("splitup/beacon/genesis" ‖ chainID).
func GenesisBeacon(chainID string) [32]byte {
	return sha256.Sum256([]byte("splitup/beacon/genesis" + chainID))
}

// BeaconInput is the VRF input (alpha) for a block: prev ‖ height (uint64 big-endian).
func BeaconInput(prev [32]byte, height int64) []byte {
	alpha := make([]byte, 0, 40)
	alpha = append(alpha, prev[:]...)
	return binary.BigEndian.AppendUint64(alpha, uint64(height))
}

// ProveBeacon returns the beacon entry for height, proved with the proposer's
// ed25519 private key (64 bytes: seed ‖ public key, as CometBFT stores it),
// and the resulting beacon value.
func ProveBeacon(priv []byte, prev [32]byte, height int64) (BeaconEntry, [32]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return BeaconEntry{}, [32]byte{}, fmt.Errorf("beacon: private key has %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	pi := ecvrf.Prove(ed25519.PrivateKey(priv), BeaconInput(prev, height))
	e := BeaconEntry{Height: height}
	copy(e.Proof[:], pi)
	out, err := ecvrf.ProofToHash(pi)
	if err != nil {
		return BeaconEntry{}, [32]byte{}, fmt.Errorf("beacon: %w", err)
	}
	return e, beaconFromOutput(out), nil
}

// VerifyBeacon checks e against the proposer's ed25519 public key and the
// previous beacon, and returns the new beacon value: the first 32 bytes of
// the 64-byte VRF output (beta).
func VerifyBeacon(pub []byte, prev [32]byte, height int64, e BeaconEntry) ([32]byte, error) {
	if e.Height != height {
		return [32]byte{}, fmt.Errorf("%w: entry %d, block %d", ErrBeaconHeight, e.Height, height)
	}
	if len(pub) != ed25519.PublicKeySize {
		return [32]byte{}, fmt.Errorf("%w: public key has %d bytes", ErrBeaconProof, len(pub))
	}
	ok, out := ecvrf.Verify(ed25519.PublicKey(pub), e.Proof[:], BeaconInput(prev, height))
	if !ok {
		return [32]byte{}, ErrBeaconProof
	}
	return beaconFromOutput(out), nil
}

func beaconFromOutput(beta []byte) (b [32]byte) {
	copy(b[:], beta)
	return b
}

// Encode returns the wire form of e (BeaconEntrySize bytes).
func (e BeaconEntry) Encode() []byte {
	b := make([]byte, 0, BeaconEntrySize)
	b = append(b, beaconMagic...)
	b = append(b, beaconVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Height))
	return append(b, e.Proof[:]...)
}

// isBeaconTx reports whether tx claims to be a beacon entry (by its magic).
func isBeaconTx(tx []byte) bool { return bytes.HasPrefix(tx, []byte(beaconMagic)) }

// DecodeBeaconEntry parses the wire form; it rejects any other length or version.
func DecodeBeaconEntry(b []byte) (BeaconEntry, error) {
	if !isBeaconTx(b) {
		return BeaconEntry{}, ErrNoBeacon
	}
	if len(b) != BeaconEntrySize || b[len(beaconMagic)] != beaconVersion {
		return BeaconEntry{}, ErrBadBeacon
	}
	var e BeaconEntry
	h := binary.BigEndian.Uint64(b[len(beaconMagic)+1:])
	if h > 1<<62 {
		return BeaconEntry{}, ErrBadBeacon
	}
	e.Height = int64(h)
	copy(e.Proof[:], b[len(beaconMagic)+1+8:])
	return e, nil
}
