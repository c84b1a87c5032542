package chain

import (
	"errors"

	"github.com/splitup/splitup/contract"
)

// queryCode maps a contract query error to an adapter result code.
func queryCode(err error) uint32 {
	if errors.Is(err, contract.ErrNotFound) {
		return CodeQueryNotFound
	}
	return CodeQueryBad
}
