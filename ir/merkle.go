package ir

import "crypto/sha256"

// MerkleRoot returns the RFC 6962 Merkle tree hash over leaves (each leaf is
// already a 32-byte digest, e.g. a Frame hash): a leaf node is
// SHA-256(0x00 ‖ leaf), an inner node SHA-256(0x01 ‖ left ‖ right), the left
// subtree holding the largest power of two below n leaves; the root of no
// leaves is SHA-256 of the empty string. A stage commits, per tensor, the
// root over its frames in step order.
func MerkleRoot(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		var b [33]byte
		copy(b[1:], leaves[0][:])
		return sha256.Sum256(b[:])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:])
	var b [65]byte
	b[0] = 1
	copy(b[1:], l[:])
	copy(b[33:], r[:])
	return sha256.Sum256(b[:])
}

// MerkleProof returns the audit path of leaf i: the sibling hashes from the
// leaf up to the root.
func MerkleProof(leaves [][32]byte, i int) [][32]byte {
	if len(leaves) <= 1 || i < 0 || i >= len(leaves) {
		return nil
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	if i < k {
		return append(MerkleProof(leaves[:k], i), MerkleRoot(leaves[k:]))
	}
	return append(MerkleProof(leaves[k:], i-k), MerkleRoot(leaves[:k]))
}

// VerifyMerkleProof checks that leaf is number i of n leaves under root.
func VerifyMerkleProof(root, leaf [32]byte, i, n int, proof [][32]byte) bool {
	if i < 0 || i >= n {
		return false
	}
	h, ok := walkProof(leaf, i, n, proof)
	return ok && h == root
}

func walkProof(leaf [32]byte, i, n int, proof [][32]byte) ([32]byte, bool) {
	if n == 1 {
		return MerkleRoot([][32]byte{leaf}), len(proof) == 0
	}
	if len(proof) == 0 {
		return [32]byte{}, false
	}
	k := 1
	for k*2 < n {
		k *= 2
	}
	sib := proof[len(proof)-1]
	var b [65]byte
	b[0] = 1
	if i < k {
		h, ok := walkProof(leaf, i, k, proof[:len(proof)-1])
		copy(b[1:], h[:])
		copy(b[33:], sib[:])
		return sha256.Sum256(b[:]), ok
	}
	h, ok := walkProof(leaf, i-k, n-k, proof[:len(proof)-1])
	copy(b[1:], sib[:])
	copy(b[33:], h[:])
	return sha256.Sum256(b[:]), ok
}
