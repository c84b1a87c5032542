package chain

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"testing"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/oasisprotocol/curve25519-voi/primitives/ed25519/extra/ecvrf"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestECVRFVectors checks the suite against the ECVRF-EDWARDS25519-SHA512-ELL2
// test vectors of RFC 9381, appendix B.3.
func TestECVRFVectors(t *testing.T) {
	vectors := []struct{ sk, pk, alpha, pi, beta string }{
		{
			sk:    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
			pk:    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
			alpha: "",
			pi:    "7d9c633ffeee27349264cf5c667579fc583b4bda63ab71d001f89c10003ab46f14adf9a3cd8b8412d9038531e865c341cafa73589b023d14311c331a9ad15ff2fb37831e00f0acaa6d73bc9997b06501",
			beta:  "9d574bf9b8302ec0fc1e21c3ec5368269527b87b462ce36dab2d14ccf80c53cccf6758f058c5b1c856b116388152bbe509ee3b9ecfe63d93c3b4346c1fbc6c54",
		},
		{
			sk:    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
			pk:    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
			alpha: "72",
			pi:    "47b327393ff2dd81336f8a2ef10339112401253b3c714eeda879f12c509072ef055b48372bb82efbdce8e10c8cb9a2f9d60e93908f93df1623ad78a86a028d6bc064dbfc75a6a57379ef855dc6733801",
			beta:  "38561d6b77b71d30eb97a062168ae12b667ce5c28caccdf76bc88e093e4635987cd96814ce55b4689b3dd2947f80e59aac7b7675f8083865b46c89b2ce9cc735",
		},
		{
			sk:    "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
			pk:    "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
			alpha: "af82",
			pi:    "926e895d308f5e328e7aa159c06eddbe56d06846abf5d98c2512235eaa57fdce35b46edfc655bc828d44ad09d1150f31374e7ef73027e14760d42e77341fe05467bb286cc2c9d7fde29120a0b2320d04",
			beta:  "121b7f9b9aaaa29099fc04a94ba52784d44eac976dd1a3cca458733be5cd090a7b5fbd148444f17f8daf1fb55cb04b1ae85a626e30a54b4b0f8abf4a43314a58",
		},
	}
	for i, v := range vectors {
		priv := ed25519.NewKeyFromSeed(unhex(t, v.sk))
		if pk := priv.Public().(ed25519.PublicKey); !bytes.Equal(pk, unhex(t, v.pk)) {
			t.Fatalf("vector %d: public key %x", i, pk)
		}
		pi, beta := proveRaw(priv, unhex(t, v.alpha))
		if !bytes.Equal(pi, unhex(t, v.pi)) {
			t.Errorf("vector %d: pi %x", i, pi)
		}
		if !bytes.Equal(beta, unhex(t, v.beta)) {
			t.Errorf("vector %d: beta %x", i, beta)
		}
		ok, vbeta := verifyRaw(unhex(t, v.pk), unhex(t, v.pi), unhex(t, v.alpha))
		if !ok || !bytes.Equal(vbeta, beta) {
			t.Errorf("vector %d: verify ok=%v beta %x", i, ok, vbeta)
		}
	}
}

func TestBeaconProveVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	prev := GenesisBeacon("test-chain")
	e, b, err := ProveBeacon(priv, prev, 7)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyBeacon(pub, prev, 7, e)
	if err != nil || got != b {
		t.Fatalf("verify: %v, beacon %x want %x", err, got, b)
	}
	// Deterministic: the proposer cannot grind by re-proving.
	if e2, b2, _ := ProveBeacon(priv, prev, 7); e2 != e || b2 != b {
		t.Fatal("proof is not deterministic")
	}
	dec, err := DecodeBeaconEntry(e.Encode())
	if err != nil || dec != e {
		t.Fatalf("decode(encode) = %v, %v", dec, err)
	}

	cases := []struct {
		name   string
		pub    []byte
		prev   [32]byte
		height int64
		entry  func() BeaconEntry
		want   error
	}{
		{"wrong key", otherPub, prev, 7, func() BeaconEntry { return e }, ErrBeaconProof},
		{"wrong previous beacon", pub, b, 7, func() BeaconEntry { return e }, ErrBeaconProof},
		{"wrong height", pub, prev, 8, func() BeaconEntry { return e }, ErrBeaconHeight},
		{"replayed at another height", pub, prev, 8, func() BeaconEntry { x := e; x.Height = 8; return x }, ErrBeaconProof},
		{"altered gamma", pub, prev, 7, func() BeaconEntry { x := e; x.Proof[0] ^= 1; return x }, ErrBeaconProof},
		{"altered challenge", pub, prev, 7, func() BeaconEntry { x := e; x.Proof[40] ^= 1; return x }, ErrBeaconProof},
		{"altered response", pub, prev, 7, func() BeaconEntry { x := e; x.Proof[79] ^= 0x80; return x }, ErrBeaconProof},
		{"short key", pub[:31], prev, 7, func() BeaconEntry { return e }, ErrBeaconProof},
	}
	for _, c := range cases {
		if _, err := VerifyBeacon(c.pub, c.prev, c.height, c.entry()); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestDecodeBeaconEntryRejects(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	e, _, _ := ProveBeacon(priv, [32]byte{}, 1)
	good := e.Encode()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not magic": []byte("SUTX...."),
		"short":     good[:len(good)-1],
		"long":      append(bytes.Clone(good), 0),
		"version":   append(append([]byte(beaconMagic), 2), good[5:]...),
	} {
		if _, err := DecodeBeaconEntry(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzDecodeBeaconEntry(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(nil)
	e, _, _ := ProveBeacon(priv, [32]byte{}, 1)
	f.Add(e.Encode())
	f.Add([]byte(beaconMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeBeaconEntry(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Encode(), b) {
			t.Fatalf("encode(decode(%x)) = %x", b, e.Encode())
		}
	})
}

// proveRaw and verifyRaw expose the suite itself (no framing) for tests
// against the RFC 9381 vectors.
func proveRaw(priv []byte, alpha []byte) (pi, beta []byte) {
	pi = ecvrf.Prove(voied25519.PrivateKey(priv), alpha)
	beta, _ = ecvrf.ProofToHash(pi)
	return pi, beta
}

func verifyRaw(pub, pi, alpha []byte) (bool, []byte) {
	return ecvrf.Verify(voied25519.PublicKey(pub), pi, alpha)
}
