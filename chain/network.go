package chain

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/splitup/splitup/contract"
)

// NetworkFile is the description InitNetwork writes in its directory.
const NetworkFile = "network.json"

// FaucetKeyFile is the funded account (also the params authority) InitNetwork
// creates in its directory.
const FaucetKeyFile = "faucet.key"

// MaxBlockBytes is the block size limit written to the genesis.
const MaxBlockBytes = 1 << 20

// NetworkOptions configures InitNetwork.
type NetworkOptions struct {
	// Dir is created; validator homes are Dir/node0 … Dir/node{N-1}.
	Dir string
	// Validators is the number of validators (≥ 1).
	Validators int
	// ChainID names the chain.
	ChainID string
	// BasePort: validator i listens for p2p on BasePort+10i and RPC on
	// BasePort+10i+1. 0 picks free loopback ports.
	BasePort int
	// FaucetBalance is the faucet's genesis balance in base units.
	FaucetBalance uint64
	// Accounts are further genesis balances.
	Accounts []contract.Account
	// Params are the contract parameters; nil means contract.DefaultParams().
	Params *contract.Params
	// Node is the template for every validator's NodeConfig (listen
	// addresses, peers and moniker are filled in).
	Node NodeConfig
}

// Validate checks the options.
func (o NetworkOptions) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("network: empty directory")
	case o.Validators < 1 || o.Validators > 100:
		return fmt.Errorf("network: %d validators; want 1..100", o.Validators)
	case o.ChainID == "":
		return errors.New("network: empty chain id")
	case o.BasePort < 0 || o.BasePort+10*o.Validators > 65535:
		return fmt.Errorf("network: base port %d out of range", o.BasePort)
	}
	// What InitNetwork checks of each validator's configuration and of the
	// params, checked before it writes anything.
	probe := o.Node
	probe.P2PListen, probe.RPCListen, probe.PersistentPeers = "127.0.0.1:1", "127.0.0.1:2", nil
	if err := probe.Validate(); err != nil {
		return err
	}
	if o.Params != nil {
		if err := o.Params.Validate(); err != nil {
			return fmt.Errorf("network: %w", err)
		}
	}
	return nil
}

// Network describes an initialised network (the content of network.json).
type Network struct {
	ChainID    string             `json:"chain_id"`
	Faucet     string             `json:"faucet_key"` // relative to the directory
	Validators []NetworkValidator `json:"validators"`
}

// NetworkValidator is one validator of a Network.
type NetworkValidator struct {
	Home   string `json:"home"` // relative to the directory
	RPC    string `json:"rpc"`  // http://host:port
	P2P    string `json:"p2p"`  // nodeid@host:port
	NodeID string `json:"node_id"`
}

// InitNetwork creates keys, the genesis and configurations for a validator
// set on 127.0.0.1, a funded faucet key, and Dir/network.json. It refuses a
// directory that already holds a network.
func InitNetwork(o NetworkOptions) (*Network, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.Dir, NetworkFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a network; remove it or choose another --home", o.Dir)
	}
	ports, err := networkPorts(o)
	if err != nil {
		return nil, err
	}
	nw := &Network{ChainID: o.ChainID, Faucet: FaucetKeyFile}
	var gvals []cmttypes.GenesisValidator
	for i := range o.Validators {
		home := filepath.Join(o.Dir, "node"+strconv.Itoa(i))
		for _, d := range []string{"config", "data"} {
			if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
				return nil, fmt.Errorf("network: %w", err)
			}
		}
		pv := privval.GenFilePV(filepath.Join(home, PrivValKeyFile), filepath.Join(home, PrivValState))
		pv.Save()
		nk, err := p2p.LoadOrGenNodeKey(filepath.Join(home, NodeKeyFile))
		if err != nil {
			return nil, fmt.Errorf("network: node key: %w", err)
		}
		gvals = append(gvals, cmttypes.GenesisValidator{
			Address: pv.Key.Address, PubKey: pv.Key.PubKey, Power: 10, Name: "node" + strconv.Itoa(i),
		})
		p2pAddr := "127.0.0.1:" + strconv.Itoa(ports[2*i])
		nw.Validators = append(nw.Validators, NetworkValidator{
			Home:   "node" + strconv.Itoa(i),
			RPC:    "http://127.0.0.1:" + strconv.Itoa(ports[2*i+1]),
			P2P:    string(nk.ID()) + "@" + p2pAddr,
			NodeID: string(nk.ID()),
		})
	}
	faucet, err := GenerateKeyFile(filepath.Join(o.Dir, FaucetKeyFile))
	if err != nil {
		return nil, fmt.Errorf("network: faucet: %w", err)
	}
	gen, err := genesisDoc(o, gvals, faucet)
	if err != nil {
		return nil, err
	}
	for i, v := range nw.Validators {
		home := filepath.Join(o.Dir, v.Home)
		if err := gen.SaveAs(filepath.Join(home, GenesisFile)); err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
		nc := o.Node
		nc.Moniker = v.Home
		nc.P2PListen = "127.0.0.1:" + strconv.Itoa(ports[2*i])
		nc.RPCListen = "127.0.0.1:" + strconv.Itoa(ports[2*i+1])
		nc.PersistentPeers = nil
		for j, w := range nw.Validators {
			if j != i {
				nc.PersistentPeers = append(nc.PersistentPeers, w.P2P)
			}
		}
		if err := nc.Validate(); err != nil {
			return nil, err
		}
		if err := writeJSON(filepath.Join(home, NodeConfigFile), nc, 0o600); err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
	}
	if err := writeJSON(filepath.Join(o.Dir, NetworkFile), nw, 0o644); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return nw, nil
}

func networkPorts(o NetworkOptions) ([]int, error) {
	if o.BasePort == 0 {
		return freePorts(2 * o.Validators)
	}
	ports := make([]int, 0, 2*o.Validators)
	for i := range o.Validators {
		ports = append(ports, o.BasePort+10*i, o.BasePort+10*i+1)
	}
	return ports, nil
}

func genesisDoc(o NetworkOptions, vals []cmttypes.GenesisValidator, faucet ed25519.PrivateKey) (*cmttypes.GenesisDoc, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	params := contract.DefaultParams()
	if o.Params != nil {
		params = *o.Params
	}
	g := contract.Genesis{
		ChainID:             o.ChainID,
		GenesisTimeUnixNano: now.UnixNano(),
		Params:              params,
		Accounts:            append([]contract.Account{{Address: AddressOf(faucet), Balance: o.FaucetBalance}}, o.Accounts...),
		Authorities:         []contract.Address{AddressOf(faucet)},
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("network: contract genesis: %w", err)
	}
	appState, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	cp := cmttypes.DefaultConsensusParams()
	// Bound blocks so that an overloaded mempool cannot produce multi-second
	// rounds: 1 MiB holds about 5,000 transfers.
	cp.Block.MaxBytes = MaxBlockBytes
	doc := &cmttypes.GenesisDoc{
		GenesisTime:     now,
		ChainID:         o.ChainID,
		InitialHeight:   1,
		ConsensusParams: cp,
		Validators:      vals,
		AppState:        appState,
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("network: genesis: %w", err)
	}
	return doc, nil
}

// ReadNetwork reads DIR/network.json.
func ReadNetwork(dir string) (*Network, error) {
	b, err := os.ReadFile(filepath.Join(dir, NetworkFile))
	if err != nil {
		return nil, fmt.Errorf("read network: %w", err)
	}
	var n Network
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("read network %s: %w", filepath.Join(dir, NetworkFile), err)
	}
	return &n, nil
}
