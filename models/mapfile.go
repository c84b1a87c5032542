package models

import "os"

// MapFile returns the contents of the file at path, mapped read-only where
// the system allows it (read into memory otherwise), and a function that
// releases them; data must not be used after release. A mapping is read
// from the page cache, which the kernel can reclaim: loading a large shard
// through it does not hold a second, anonymous copy of the file while the
// weights are copied into the kernels' own memory.
func MapFile(path string) (data []byte, release func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() > 0 {
		if b, err := mapFile(f, st.Size()); err == nil {
			return b, func() error { return unmapFile(b) }, nil
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
