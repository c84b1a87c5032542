package chain

// queryCode maps a contract query error to an adapter result code.
func queryCode(err error) uint32 {
	return CodeQueryBad
}
