package chain

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func sampleRecord() *appRecord {
	return &appRecord{
		Height:     42,
		AppHash:    [32]byte{1, 2, 3},
		Beacon:     [32]byte{9, 8, 7},
		Validators: []validator{{PubKey: [32]byte{5}, Power: 10}, {PubKey: [32]byte{6}, Power: 3}},
		Snapshot:   []byte("contract snapshot bytes"),
	}
}

func TestRecordStoreRoundTrip(t *testing.T) {
	s := recordStore{path: filepath.Join(t.TempDir(), "app.state")}
	if r, err := s.load(); r != nil || err != nil {
		t.Fatalf("empty store: %v, %v", r, err)
	}
	want := sampleRecord()
	if err := s.save(want); err != nil {
		t.Fatal(err)
	}
	want.Height++
	if err := s.save(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.load()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("load = %+v, %v; want %+v", got, err, want)
	}
	ents, _ := os.ReadDir(filepath.Dir(s.path))
	if len(ents) != 1 {
		t.Errorf("temp files left behind: %v", ents)
	}
}

func TestRecordRejectsCorruption(t *testing.T) {
	b := sampleRecord().encode()
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		if _, err := decodeRecord(c); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("flipped byte %d: err %v", i, err)
		}
	}
	if _, err := decodeRecord(b[:len(b)-1]); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("truncated: err %v", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(sampleRecord().encode())
	f.Add((&appRecord{}).encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if !bytes.Equal(r.encode(), b) {
			t.Fatalf("encode(decode(b)) differs from b")
		}
	})
}
