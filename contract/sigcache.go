package contract

// sigCacheSize bounds the verified-signature cache.
const sigCacheSize = 8192

// sigCache remembers the hashes of raw txs whose signature verified, so that
// DeliverTx does not verify again what CheckTx already did. ed25519
// verification is a pure function of the bytes, so the cache never changes
// a result; it is not part of the state or the snapshot.
type sigCache struct {
	seen map[Hash]struct{}
	ring []Hash // insertion order, for eviction
	next int
}

func (c *sigCache) has(h Hash) bool {
	_, found := c.seen[h]
	return found
}

func (c *sigCache) add(h Hash) {
	if c.seen == nil {
		c.seen = make(map[Hash]struct{}, sigCacheSize)
		c.ring = make([]Hash, 0, sigCacheSize)
	}
	if len(c.ring) < sigCacheSize {
		c.ring = append(c.ring, h)
	} else {
		delete(c.seen, c.ring[c.next])
		c.ring[c.next] = h
		c.next = (c.next + 1) % sigCacheSize
	}
	c.seen[h] = struct{}{}
}
