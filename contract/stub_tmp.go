package contract

type node struct{}
type model struct{}
type execution struct{}
type sigCache struct{}

func loadState(b []byte) (*State, error)     { return nil, ErrDecode }
func (s *st) snapshot() []byte               { return nil }
func (s *st) appHash() [32]byte              { return sha(s.snapshot()) }
func (s *st) checkTx(raw []byte) TxResult    { return TxResult{} }
func (s *st) beginBlock(h Header) []Event    { return nil }
func (s *st) deliverTx(raw []byte) TxResult  { return TxResult{} }
func (s *st) endBlock() []Event              { return nil }
func (s *st) query(p string) ([]byte, error) { return nil, nil }
