package p2p

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Hash is the SHA-256 of a blob's bytes; it names the blob.
type Hash [32]byte

// String returns the lower-case hex form of h.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash parses the 64-digit hex form of a hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("parse hash %q: want %d hex digits", s, 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("parse hash %q: %w", s, err)
	}
	return h, nil
}

// Subdirectories of a store directory for bookkeeping; blobs lie at its top.
const (
	tmpDir = ".tmp" // files being written or fetched
	pinDir = ".pin" // one empty file per pinned blob
)

// BlobStore keeps content-addressed blobs (weight shards, recorded tensors)
// as files in a directory, each named by the hex SHA-256 of its content.
// Writes go to a temporary file that is synced and then renamed, so a blob
// file is either absent or complete. Its methods are safe for concurrent
// use, also by several processes sharing the directory (except Fetch into
// the same blob from two processes at once).
//
// Retention: a blob stays until Delete, or until Prune finds it unpinned
// and not modified (Put or Touch) since the cutoff. Pin shards that must
// stay; record tensors unpinned and Prune with the challenge window.
type BlobStore struct {
	dir string

	// mu guards fetching.
	mu       sync.Mutex
	fetching map[Hash]chan struct{} // closed when the fetch of that blob ends
}

// OpenBlobStore opens (creating if needed) the store in dir.
func OpenBlobStore(dir string) (*BlobStore, error) {
	for _, d := range []string{dir, filepath.Join(dir, tmpDir), filepath.Join(dir, pinDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open blob store: %w", err)
		}
	}
	return &BlobStore{dir: dir, fetching: make(map[Hash]chan struct{})}, nil
}

// Dir returns the store's directory.
func (s *BlobStore) Dir() string { return s.dir }

// Path returns the file name of blob h (which may not exist).
func (s *BlobStore) Path(h Hash) string { return filepath.Join(s.dir, h.String()) }

func (s *BlobStore) pinPath(h Hash) string { return filepath.Join(s.dir, pinDir, h.String()) }
func (s *BlobStore) partialPath(h Hash) string {
	return filepath.Join(s.dir, tmpDir, h.String()+".part")
}

// Put stores the bytes of r and returns their hash and length. Putting a
// blob that is already stored refreshes its modification time.
func (s *BlobStore) Put(r io.Reader) (Hash, int64, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "put-*")
	if err != nil {
		return Hash{}, 0, fmt.Errorf("put blob: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	hw := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, hw), r)
	if err != nil {
		f.Close()
		return Hash{}, 0, fmt.Errorf("put blob: %w", err)
	}
	var h Hash
	hw.Sum(h[:0])
	if err := s.commit(f, h); err != nil {
		return Hash{}, 0, fmt.Errorf("put blob %s: %w", h, err)
	}
	return h, n, nil
}

// commit syncs and closes f and renames it to blob h.
func (s *BlobStore) commit(f *os.File, h Hash) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), s.Path(h)); err != nil {
		return err
	}
	return syncDir(s.dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Has reports whether blob h is stored.
func (s *BlobStore) Has(h Hash) bool {
	_, err := os.Stat(s.Path(h))
	return err == nil
}

// Size returns the length of blob h; the error matches ErrNotFound when
// it is not stored.
func (s *BlobStore) Size(h Hash) (int64, error) {
	fi, err := os.Stat(s.Path(h))
	if err != nil {
		return 0, notFound(h, err)
	}
	return fi.Size(), nil
}

// Open opens blob h for reading; the error matches ErrNotFound when it is
// not stored. The content is not re-hashed.
func (s *BlobStore) Open(h Hash) (*os.File, error) {
	f, err := os.Open(s.Path(h))
	if err != nil {
		return nil, notFound(h, err)
	}
	return f, nil
}

func notFound(h Hash, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", h, ErrNotFound)
	}
	return fmt.Errorf("blob %s: %w", h, err)
}

// Delete removes blob h, its pin and any partial fetch of it. Deleting an
// absent blob is not an error.
func (s *BlobStore) Delete(h Hash) error {
	for _, p := range []string{s.Path(h), s.pinPath(h), s.partialPath(h)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete blob %s: %w", h, err)
		}
	}
	return nil
}

// Pin protects stored blob h from Prune.
func (s *BlobStore) Pin(h Hash) error {
	if !s.Has(h) {
		return fmt.Errorf("pin blob %s: %w", h, ErrNotFound)
	}
	if err := os.WriteFile(s.pinPath(h), nil, 0o644); err != nil {
		return fmt.Errorf("pin blob %s: %w", h, err)
	}
	return nil
}

// Unpin lets Prune remove blob h again. Unpinning an unpinned blob is not
// an error.
func (s *BlobStore) Unpin(h Hash) error {
	if err := os.Remove(s.pinPath(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unpin blob %s: %w", h, err)
	}
	return nil
}

// Pinned reports whether blob h is pinned.
func (s *BlobStore) Pinned(h Hash) bool {
	_, err := os.Stat(s.pinPath(h))
	return err == nil
}

// Touch sets the modification time of blob h to now, restarting its
// retention period.
func (s *BlobStore) Touch(h Hash) error {
	now := time.Now()
	if err := os.Chtimes(s.Path(h), now, now); err != nil {
		return notFound(h, err)
	}
	return nil
}

// List returns the hashes of all stored blobs in increasing order.
func (s *BlobStore) List() ([]Hash, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	var out []Hash
	for _, e := range ents {
		if h, err := ParseHash(e.Name()); err == nil && e.Type().IsRegular() {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i][:]) < string(out[j][:]) })
	return out, nil
}

// Prune removes every unpinned blob last modified before olderThan, and
// temporary and partial files not written since then (an interrupted fetch
// older than that is not resumed). It returns the removed blobs in
// increasing order.
func (s *BlobStore) Prune(olderThan time.Time) ([]Hash, error) {
	hs, err := s.List()
	if err != nil {
		return nil, err
	}
	var removed []Hash
	for _, h := range hs {
		fi, err := os.Stat(s.Path(h))
		if err != nil || !fi.ModTime().Before(olderThan) || s.Pinned(h) {
			continue
		}
		if err := os.Remove(s.Path(h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("prune blob %s: %w", h, err)
		}
		removed = append(removed, h)
	}
	tmps, err := os.ReadDir(filepath.Join(s.dir, tmpDir))
	if err != nil {
		return removed, fmt.Errorf("prune blobs: %w", err)
	}
	for _, e := range tmps {
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(olderThan) {
			continue
		}
		if strings.HasSuffix(e.Name(), ".part") && s.fetchingNow(e.Name()) {
			continue
		}
		_ = os.Remove(filepath.Join(s.dir, tmpDir, e.Name()))
	}
	return removed, nil
}

// fetchingNow reports whether the partial file name belongs to a fetch in
// progress in this process.
func (s *BlobStore) fetchingNow(name string) bool {
	h, err := ParseHash(strings.TrimSuffix(name, ".part"))
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.fetching[h]
	return ok
}

// lockFetch waits until no other fetch of h runs in this process, then
// claims it; the returned func releases the claim.
func (s *BlobStore) lockFetch(ctx context.Context, h Hash) (func(), error) {
	for {
		s.mu.Lock()
		busy, ok := s.fetching[h]
		if !ok {
			done := make(chan struct{})
			s.fetching[h] = done
			s.mu.Unlock()
			return func() {
				s.mu.Lock()
				delete(s.fetching, h)
				s.mu.Unlock()
				close(done)
			}, nil
		}
		s.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
