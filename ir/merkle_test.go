package ir

import (
	"crypto/sha256"
	"testing"
)

func TestMerkle(t *testing.T) {
	var leaves [][32]byte
	seen := map[[32]byte]bool{}
	for n := 0; n <= 17; n++ {
		root := MerkleRoot(leaves)
		if seen[root] {
			t.Fatalf("root of %d leaves repeats an earlier root", n)
		}
		seen[root] = true
		for i := range leaves {
			p := MerkleProof(leaves, i)
			if !VerifyMerkleProof(root, leaves[i], i, n, p) {
				t.Fatalf("n=%d leaf %d: proof rejected", n, i)
			}
			bad := leaves[i]
			bad[0] ^= 1
			if VerifyMerkleProof(root, bad, i, n, p) {
				t.Fatalf("n=%d leaf %d: altered leaf accepted", n, i)
			}
		}
		leaves = append(leaves, sha256.Sum256([]byte{byte(n)}))
	}
	// RFC 6962: the root of one leaf differs from the leaf (domain separation).
	one := [][32]byte{sha256.Sum256([]byte("x"))}
	if MerkleRoot(one) == one[0] {
		t.Fatal("no leaf prefix")
	}
}
