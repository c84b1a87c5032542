package contract

import (
	"bytes"
	"errors"
	"testing"
)

// sampleMsgs has one message of every type.
func sampleMsgs() []Msg {
	h := Hash{1, 2, 3}
	m := chainModel("sample", 2, 7, GiB)
	return []Msg{
		&Transfer{To: testAddr("user"), Amount: 42},
		m,
		&RegisterNode{VRAMBytes: 8 * GiB, Backends: []string{"cpu", "cuda"}, P2PAddr: "/ip4/1.2.3.4/tcp/1", Stake: 1800 * Token},
		&Stake{Amount: 5},
		&Unstake{Amount: 6},
		&Specialize{Tasks: []TaskRef{{Model: h, Task: 1}, {Model: h, Task: 2}}},
		&Heartbeat{},
		&RequestExecution{Model: h, MaxFee: 1 << 40, MaxTokens: 256},
		&CancelExecution{Exec: 9},
		&CommitResult{Exec: 1, Task: 2, Steps: 3, Inputs: roots(m.Tasks[0].Inputs, 1, "x"), Outputs: roots(m.Tasks[0].Outputs, 1, "x")},
		&ReportFailure{Exec: 1, Task: 0, Reason: "stream reset"},
		&SubmitVerification{Exec: 1, Task: 0, Outputs: roots(m.Tasks[0].Outputs, 1, "y"), Match: true},
		&SetParams{Params: DefaultParams()},
	}
}

// TestTxRoundTrip encodes, decodes and re-encodes a tx of every message type
// and checks that corrupted encodings are refused.
func TestTxRoundTrip(t *testing.T) {
	for _, msg := range sampleMsgs() {
		tx := NewTx("chain", 7, 10, msg)
		tx.Sign(testKey("user"))
		raw := EncodeTx(tx)
		got, err := DecodeTx(raw)
		if err != nil {
			t.Fatalf("%T: %v", msg, err)
		}
		if !bytes.Equal(EncodeTx(got), raw) || got.Hash() != tx.Hash() {
			t.Fatalf("%T: round trip differs", msg)
		}
		for _, bad := range [][]byte{raw[:len(raw)-1], append(bytes.Clone(raw), 0),
			append([]byte{'S', 'U', 'T', 'X', txVersion - 1}, raw[5:]...), append([]byte{'S', 'U', 'T', 'X', txVersion + 1}, raw[5:]...)} {
			if _, err := DecodeTx(bad); !errors.Is(err, ErrDecode) {
				t.Fatalf("%T: decoded a corrupted tx (err %v)", msg, err)
			}
		}
	}
}

// TestDecodeRejectsHugeCounts checks that a hostile list count fails before
// any allocation.
func TestDecodeRejectsHugeCounts(t *testing.T) {
	tx := NewTx("c", 0, 0, &Specialize{Tasks: []TaskRef{{}}})
	raw := EncodeTx(tx)
	// The list count sits right after the type byte: claim 2^32-1 elements.
	i := bytes.IndexByte(raw[5+2+1+16+32:], typeSpecialize) + 5 + 2 + 1 + 16 + 32
	copy(raw[i+1:], []byte{0xff, 0xff, 0xff, 0xff})
	if _, err := DecodeTx(raw); !errors.Is(err, ErrDecode) {
		t.Fatalf("want ErrDecode, got %v", err)
	}
}

// TestAddressText checks the hex text forms of Address and Hash.
func TestAddressText(t *testing.T) {
	a := testAddr("n1")
	b, _ := a.MarshalText()
	var c Address
	if err := c.UnmarshalText(b); err != nil || c != a {
		t.Fatalf("address text round trip: %v", err)
	}
	if _, err := ParseAddress("zz"); err == nil {
		t.Fatal("parsed a bad address")
	}
	if _, err := ParseHash(string(b[:62]) + "zz"); err == nil {
		t.Fatal("parsed a bad hash")
	}
}

// FuzzDecodeTx: garbage never panics, and whatever decodes re-encodes to the
// same bytes.
func FuzzDecodeTx(f *testing.F) {
	for _, msg := range sampleMsgs() {
		tx := NewTx("chain", 1, 10, msg)
		tx.Sign(testKey("n1"))
		f.Add(EncodeTx(tx))
	}
	f.Add([]byte("SUTX\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := DecodeTx(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeTx(tx), b) {
			t.Fatalf("decode→encode changed the bytes")
		}
	})
}
