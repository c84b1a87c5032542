package contract

import (
	"errors"
	"fmt"
)

// PoolAddress is the reserved account that receives tx fees, verification
// surcharges and slashed stake, and pays validator rewards. No tx may be
// signed by it.
var PoolAddress = Address(sha([]byte("splitup/pool")))

// st is the state behind State.
type st struct {
	chainID     string
	height      int64
	header      Header
	params      Params
	authorities []Address
	accounts    map[Address]*account
	nodes       map[Address]*node
	models      map[Hash]*model
	execs       map[uint64]*execution
	nextExec    uint64
	active      []uint64 // ids of executions not yet settled, ascending (derived)
	sigCache    sigCache
}

type account struct {
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"`
}

func newState(g Genesis) (*State, error) {
	if err := g.validate(); err != nil {
		return nil, err
	}
	s := &State{st{
		chainID:     g.ChainID,
		params:      g.Params,
		authorities: append([]Address(nil), g.Authorities...),
		accounts:    map[Address]*account{},
		nodes:       map[Address]*node{},
		models:      map[Hash]*model{},
		execs:       map[uint64]*execution{},
		nextExec:    1,
	}}
	s.header = Header{ChainID: g.ChainID, TimeUnixNano: g.GenesisTimeUnixNano}
	for _, a := range g.Accounts {
		s.acct(a.Address).Balance = a.Balance
	}
	return s, nil
}

// ErrGenesis is wrapped by genesis validation failures.
var ErrGenesis = errors.New("invalid genesis")

func (g *Genesis) validate() error {
	if g.ChainID == "" || len(g.ChainID) > maxString {
		return fmt.Errorf("%w: chain_id must be 1..%d bytes", ErrGenesis, maxString)
	}
	if err := g.Params.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrGenesis, err)
	}
	seen := map[Address]bool{}
	var total uint64
	for _, a := range g.Accounts {
		if seen[a.Address] {
			return fmt.Errorf("%w: duplicate account %s", ErrGenesis, a.Address)
		}
		seen[a.Address] = true
		var ok bool
		if total, ok = add(total, a.Balance); !ok {
			return fmt.Errorf("%w: total supply overflows uint64", ErrGenesis)
		}
	}
	if len(g.Authorities) > maxList {
		return fmt.Errorf("%w: too many authorities", ErrGenesis)
	}
	return nil
}

// acct returns the account for a, creating it.
func (s *st) acct(a Address) *account {
	ac := s.accounts[a]
	if ac == nil {
		ac = &account{}
		s.accounts[a] = ac
	}
	return ac
}

// balance returns a's balance without creating the account.
func (s *st) balance(a Address) uint64 {
	if ac := s.accounts[a]; ac != nil {
		return ac.Balance
	}
	return 0
}
