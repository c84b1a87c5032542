package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
)

// Files of a validator home directory.
const (
	NodeConfigFile = "config/node.json"    // NodeConfig
	GenesisFile    = "config/genesis.json" // CometBFT genesis; app_state is a contract.Genesis
	PrivValKeyFile = "config/priv_validator_key.json"
	NodeKeyFile    = "config/node_key.json"
	PrivValState   = "data/priv_validator_state.json"
	AppStateFile   = "data/app.state" // the contract state, replaced atomically by every Commit
)

// NodeConfig is the per-validator configuration, stored as JSON in
// HOME/config/node.json. Everything CometBFT needs beyond it is derived.
type NodeConfig struct {
	// Moniker is a human-readable node name.
	Moniker string `json:"moniker"`
	// P2PListen is the host:port of the consensus p2p listener.
	P2PListen string `json:"p2p_listen"`
	// RPCListen is the host:port of the CometBFT RPC (HTTP + websocket).
	RPCListen string `json:"rpc_listen"`
	// PersistentPeers are "nodeid@host:port" entries this node keeps dialling.
	PersistentPeers []string `json:"persistent_peers"`
	// TimeoutCommitMillis is the pause after a commit before the next height
	// (milliseconds); it sets the block time when the chain is idle.
	TimeoutCommitMillis int `json:"timeout_commit_ms"`
	// GossipSleepMillis is the consensus gossip sleep (milliseconds); CometBFT's
	// default of 100 dominates block latency with several validators.
	GossipSleepMillis int `json:"gossip_sleep_ms"`
	// MempoolSize is the maximum number of txs held in the mempool. A full
	// mempool drops gossiped txs, which can leave a gap in a sender's nonces
	// on another validator (the later txs then fail with a future-nonce
	// code), so it is sized for bursts rather than kept small.
	MempoolSize int `json:"mempool_size"`
	// LogLevel is CometBFT's filter, e.g. "state:info,*:error" or "info".
	LogLevel string `json:"log_level"`
	// Localhost relaxes address-book rules so that peers on 127.0.0.1 may connect.
	Localhost bool `json:"localhost"`
}

// DefaultNodeConfig returns a devnet configuration: 200 ms block time,
// 10 ms gossip sleeps, loopback rules relaxed.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{
		Moniker:             "splitup",
		P2PListen:           "127.0.0.1:26656",
		RPCListen:           "127.0.0.1:26657",
		TimeoutCommitMillis: 200,
		GossipSleepMillis:   10,
		MempoolSize:         100_000,
		LogLevel:            "state:info,*:error",
		Localhost:           true,
	}
}

// Validate checks the configuration.
func (c NodeConfig) Validate() error {
	for _, hp := range []struct{ name, v string }{{"p2p_listen", c.P2PListen}, {"rpc_listen", c.RPCListen}} {
		if _, _, err := net.SplitHostPort(hp.v); err != nil {
			return fmt.Errorf("node config: %s %q is not host:port: %w", hp.name, hp.v, err)
		}
	}
	for _, p := range c.PersistentPeers {
		if i := strings.IndexByte(p, '@'); i <= 0 {
			return fmt.Errorf("node config: persistent peer %q is not nodeid@host:port", p)
		}
	}
	switch {
	case c.TimeoutCommitMillis < 0 || c.TimeoutCommitMillis > 60_000:
		return fmt.Errorf("node config: timeout_commit_ms %d out of range 0..60000", c.TimeoutCommitMillis)
	case c.GossipSleepMillis <= 0 || c.GossipSleepMillis > 10_000:
		return fmt.Errorf("node config: gossip_sleep_ms %d out of range 1..10000", c.GossipSleepMillis)
	case c.MempoolSize <= 0:
		return errors.New("node config: mempool_size must be > 0")
	case c.LogLevel == "":
		return errors.New("node config: empty log_level")
	}
	return nil
}

// ReadNodeConfig reads HOME/config/node.json.
func ReadNodeConfig(home string) (NodeConfig, error) {
	var c NodeConfig
	b, err := os.ReadFile(filepath.Join(home, NodeConfigFile))
	if err != nil {
		return c, fmt.Errorf("read node config: %w (is %s a validator home made by 'splitup chain init'?)", err, home)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read node config %s: %w", filepath.Join(home, NodeConfigFile), err)
	}
	return c, c.Validate()
}

// writeJSON writes v as indented JSON with the given mode.
func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), mode)
}

// cometConfig derives CometBFT's configuration for a home directory.
func cometConfig(home string, c NodeConfig) *cmtcfg.Config {
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(home)
	cfg.Moniker = c.Moniker
	cfg.LogLevel = c.LogLevel
	cfg.Genesis = GenesisFile
	cfg.PrivValidatorKey = PrivValKeyFile
	cfg.PrivValidatorState = PrivValState
	cfg.NodeKey = NodeKeyFile
	cfg.ProxyApp = "splitup" // in-process; never dialled

	cfg.RPC.ListenAddress = "tcp://" + c.RPCListen
	cfg.RPC.MaxSubscriptionClients = 200
	cfg.RPC.MaxSubscriptionsPerClient = 20
	cfg.RPC.TimeoutBroadcastTxCommit = 30 * time.Second

	cfg.P2P.ListenAddress = "tcp://" + c.P2PListen
	cfg.P2P.PersistentPeers = strings.Join(c.PersistentPeers, ",")
	cfg.P2P.AddrBookStrict = !c.Localhost
	cfg.P2P.AllowDuplicateIP = c.Localhost
	cfg.P2P.PexReactor = !c.Localhost
	cfg.P2P.FlushThrottleTimeout = 10 * time.Millisecond
	cfg.P2P.SendRate = 50 << 20
	cfg.P2P.RecvRate = 50 << 20
	cfg.P2P.MaxPacketMsgPayloadSize = 64 << 10
	cfg.P2P.PersistentPeersMaxDialPeriod = 2 * time.Second

	cfg.Consensus.TimeoutCommit = time.Duration(c.TimeoutCommitMillis) * time.Millisecond
	cfg.Consensus.TimeoutPropose = time.Second
	cfg.Consensus.TimeoutPrevote = 500 * time.Millisecond
	cfg.Consensus.TimeoutPrecommit = 500 * time.Millisecond
	cfg.Consensus.CreateEmptyBlocks = true
	cfg.Consensus.PeerGossipSleepDuration = time.Duration(c.GossipSleepMillis) * time.Millisecond
	cfg.Consensus.PeerQueryMaj23SleepDuration = 500 * time.Millisecond

	cfg.Mempool.Size = c.MempoolSize
	cfg.Mempool.CacheSize = 2 * c.MempoolSize
	// The contract's CheckTx only rejects what can never become valid
	// (bad encoding or signature, replayed nonce); txs that a block made
	// invalid fail deterministically in DeliverTx, so rechecking every
	// pending tx after each block would only repeat signature checks.
	cfg.Mempool.Recheck = false
	cfg.Mempool.MaxTxBytes = MaxBlockBytes / 2

	cfg.Instrumentation.Prometheus = false
	return cfg
}

// freePorts reserves n distinct loopback TCP ports by binding them at once.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
