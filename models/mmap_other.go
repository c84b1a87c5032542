//go:build !linux

package models

import (
	"errors"
	"os"
)

// mapFile is not available here; callers read tensors into memory instead.
func mapFile(f *os.File, size int64) ([]byte, error) { return nil, errors.ErrUnsupported }

// unmapFile is never called here: mapFile maps nothing.
func unmapFile(b []byte) error { return nil }
