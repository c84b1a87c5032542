package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// appRecord is what Commit makes durable: the contract snapshot plus the
// adapter's own state (height, app hash, beacon, validator set).
//
// File format (all integers big-endian):
//
//	magic    "SUAS" (4 bytes)
//	version  1 (1 byte)
//	height   uint64
//	appHash  32 bytes
//	beacon   32 bytes
//	nvals    uint16 (≤ maxValidators), then nvals × (ed25519 public key 32 bytes, power uint64)
//	snapLen  uint32 (≤ maxSnapshot), then snapLen bytes of contract snapshot
//	checksum SHA-256 of everything before it (32 bytes)
type appRecord struct {
	Height     int64
	AppHash    [32]byte
	Beacon     [32]byte
	Validators []validator
	Snapshot   []byte
}

// validator is one member of the (fixed) validator set.
type validator struct {
	PubKey [32]byte
	Power  int64
}

const (
	recordMagic   = "SUAS"
	recordVersion = 1
	maxValidators = 1 << 12
	maxSnapshot   = 1 << 30
)

// ErrCorruptRecord is returned when the persisted app state fails to decode.
var ErrCorruptRecord = errors.New("corrupt app state record")

func (r *appRecord) encode() []byte {
	b := make([]byte, 0, 4+1+8+64+2+len(r.Validators)*40+4+len(r.Snapshot)+32)
	b = append(b, recordMagic...)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Height))
	b = append(b, r.AppHash[:]...)
	b = append(b, r.Beacon[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Validators)))
	for _, v := range r.Validators {
		b = append(b, v.PubKey[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(v.Power))
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.Snapshot)))
	b = append(b, r.Snapshot...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

func decodeRecord(b []byte) (*appRecord, error) {
	const fixed = 4 + 1 + 8 + 32 + 32 + 2
	if len(b) < fixed+4+32 || !bytes.HasPrefix(b, []byte(recordMagic)) {
		return nil, fmt.Errorf("%w: bad magic or short file", ErrCorruptRecord)
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if want := sha256.Sum256(body); !bytes.Equal(sum, want[:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptRecord)
	}
	if body[4] != recordVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCorruptRecord, body[4], recordVersion)
	}
	r := &appRecord{}
	p := body[5:]
	h := binary.BigEndian.Uint64(p)
	if h > 1<<62 {
		return nil, fmt.Errorf("%w: height out of range", ErrCorruptRecord)
	}
	r.Height = int64(h)
	copy(r.AppHash[:], p[8:40])
	copy(r.Beacon[:], p[40:72])
	n := int(binary.BigEndian.Uint16(p[72:]))
	p = p[74:]
	if n > maxValidators || len(p) < n*40+4 {
		return nil, fmt.Errorf("%w: validator count %d", ErrCorruptRecord, n)
	}
	r.Validators = make([]validator, n)
	for i := range r.Validators {
		copy(r.Validators[i].PubKey[:], p[:32])
		pw := binary.BigEndian.Uint64(p[32:40])
		if pw > 1<<62 {
			return nil, fmt.Errorf("%w: validator power out of range", ErrCorruptRecord)
		}
		r.Validators[i].Power = int64(pw)
		p = p[40:]
	}
	sn := binary.BigEndian.Uint32(p)
	p = p[4:]
	if sn > maxSnapshot || int(sn) != len(p) {
		return nil, fmt.Errorf("%w: snapshot length %d, %d bytes left", ErrCorruptRecord, sn, len(p))
	}
	r.Snapshot = bytes.Clone(p)
	return r, nil
}

// recordStore keeps the latest appRecord in one file, replaced atomically.
type recordStore struct{ path string }

// load returns the stored record, or (nil, nil) if none was ever saved.
func (s recordStore) load() (*appRecord, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read app state: %w", err)
	}
	r, err := decodeRecord(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	return r, nil
}

// save writes r durably: temp file, fsync, rename over the old file, fsync dir.
func (s recordStore) save(r *appRecord) error {
	dir := filepath.Dir(s.path)
	f, err := os.CreateTemp(dir, ".app-state-*")
	if err != nil {
		return fmt.Errorf("save app state: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(r.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save app state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save app state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save app state: sync dir: %w", err)
	}
	return nil
}
