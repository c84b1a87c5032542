package contract

import (
	"errors"
	"fmt"
	"slices"
)

// PoolAddress is the reserved account that receives tx fees, verification
// surcharges and slashed stake, and pays validator rewards. No tx may be
// signed by it.
var PoolAddress = Address(sha([]byte("splitup/pool")))

// st is the state behind State.
type st struct {
	chainID      string
	height       int64
	header       Header
	params       Params
	authorities  []Address
	accounts     map[Address]*account
	nodes        map[Address]*node
	models       map[Hash]*model
	execs        map[uint64]*execution
	nextExec     uint64
	active       []uint64  // ids of executions not yet settled, ascending (derived)
	closed       []uint64  // ids of settled executions by (Closed, id), oldest first (derived)
	acctKeys     []Address // sorted keys of accounts, built on first use (derived)
	nodeKeyCache []Address // sorted keys of nodes, built on first use (derived)
	sigCache     sigCache
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
		s.acctKeys = insertKey(s.acctKeys, a)
	}
	return ac
}

// accountKeys returns the account addresses in ascending order. The slice
// is shared: callers must not modify it nor create accounts while ranging.
func (s *st) accountKeys() []Address {
	if s.acctKeys == nil && len(s.accounts) > 0 {
		s.acctKeys = sortedKeys(s.accounts, cmpAddr)
	}
	return s.acctKeys
}

// nodeKeys returns the node addresses in ascending order, shared like accountKeys.
func (s *st) nodeKeys() []Address {
	if s.nodeKeyCache == nil && len(s.nodes) > 0 {
		s.nodeKeyCache = sortedKeys(s.nodes, cmpAddr)
	}
	return s.nodeKeyCache
}

// insertKey adds a to a sorted key cache; a nil cache stays nil (built lazily).
func insertKey(keys []Address, a Address) []Address {
	if keys == nil {
		return nil
	}
	i, _ := slices.BinarySearchFunc(keys, a, cmpAddr)
	return slices.Insert(keys, i, a)
}

// balance returns a's balance without creating the account.
func (s *st) balance(a Address) uint64 {
	if ac := s.accounts[a]; ac != nil {
		return ac.Balance
	}
	return 0
}
