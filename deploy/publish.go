package deploy

import (
	"bytes"
	"context"
	"fmt"

	"github.com/splitup/splitup/contract"
	"github.com/splitup/splitup/p2p"
)

// Publish writes every task shard and the model card of d into store and
// pins them, so that the store's retention never drops them. Blobs the
// store already holds are only pinned again. It is idempotent.
func Publish(store *p2p.BlobStore, d *Deployment) error {
	for i, t := range d.Tasks {
		if err := put(store, t.Hash, func() ([]byte, error) { return d.Shard(i) }); err != nil {
			return fmt.Errorf("deploy: publish task %d shard: %w", i, err)
		}
	}
	if err := put(store, d.CardHash, func() ([]byte, error) { return d.Card, nil }); err != nil {
		return fmt.Errorf("deploy: publish model card: %w", err)
	}
	return nil
}

// put stores the blob that content builds unless store has h, then pins it.
func put(store *p2p.BlobStore, h contract.Hash, content func() ([]byte, error)) error {
	if !store.Has(p2p.Hash(h)) {
		b, err := content()
		if err != nil {
			return err
		}
		got, _, err := store.Put(bytes.NewReader(b))
		if err != nil {
			return err
		}
		if got != p2p.Hash(h) {
			return fmt.Errorf("stored blob hashes to %s, want %s", got, p2p.Hash(h))
		}
	}
	return store.Pin(p2p.Hash(h))
}

// Fetcher downloads blobs by hash; *p2p.Host implements it.
type Fetcher interface {
	Fetch(ctx context.Context, p p2p.PeerID, want p2p.Hash, dst *p2p.BlobStore, progress func(done, total int64)) (int64, error)
}

// FetchAll downloads the blobs hashes from peer into dst, one after another,
// skipping those dst already has, and pins them. Progress, when not nil, is
// called with the index of the blob being fetched and its bytes so far.
// Fetch checks each blob's hash before it becomes visible in dst.
func FetchAll(ctx context.Context, f Fetcher, peer p2p.PeerID, hashes []contract.Hash, dst *p2p.BlobStore, progress func(i int, done, total int64)) error {
	for i, h := range hashes {
		var pr func(done, total int64)
		if progress != nil {
			pr = func(done, total int64) { progress(i, done, total) }
		}
		if _, err := f.Fetch(ctx, peer, p2p.Hash(h), dst, pr); err != nil {
			return fmt.Errorf("deploy: fetch blob %d of %d: %w", i+1, len(hashes), err)
		}
		if err := dst.Pin(p2p.Hash(h)); err != nil {
			return fmt.Errorf("deploy: pin blob %s: %w", p2p.Hash(h), err)
		}
	}
	return nil
}
