package chain

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/cli/flags"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/libs/service"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmttypes "github.com/cometbft/cometbft/types"
)

// Node is one running validator: a CometBFT node with the App in process.
type Node struct {
	home string
	cfg  NodeConfig
	app  *App
	cmt  *cmtnode.Node
}

// StartNode starts the validator whose home directory is home (made by
// InitNetwork). CometBFT's log goes to logw. Stop it with Stop.
func StartNode(home string, logw io.Writer) (*Node, error) {
	nc, err := ReadNodeConfig(home)
	if err != nil {
		return nil, err
	}
	cfg := cometConfig(home, nc)
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("start node: cometbft config: %w", err)
	}
	gen, err := cmttypes.GenesisDocFromFile(cfg.GenesisFile())
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	pv, err := loadPrivValidator(cfg)
	if err != nil {
		return nil, err
	}
	nodeKey, err := p2p.LoadNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("start node: node key: %w", err)
	}
	priv, ok := pv.Key.PrivKey.(ed25519.PrivKey)
	if !ok {
		return nil, fmt.Errorf("start node: validator key is %s; the beacon needs ed25519", pv.Key.PrivKey.Type())
	}
	app, err := NewApp(AppConfig{ChainID: gen.ChainID, StatePath: filepath.Join(home, AppStateFile), PrivKey: []byte(priv)})
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	logger, err := flags.ParseLogLevel(nc.LogLevel, cmtlog.NewTMLogger(cmtlog.NewSyncWriter(logw)), "info")
	if err != nil {
		return nil, fmt.Errorf("start node: log_level %q: %w", nc.LogLevel, err)
	}
	n, err := cmtnode.NewNode(cfg, pv, nodeKey,
		proxy.NewConnSyncLocalClientCreator(app),
		func() (*cmttypes.GenesisDoc, error) { return gen, nil },
		cmtcfg.DefaultDBProvider,
		cmtnode.DefaultMetricsProvider(cfg.Instrumentation),
		logger)
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	if err := n.Start(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	return &Node{home: home, cfg: nc, app: app, cmt: n}, nil
}

// loadPrivValidator loads the validator key and sign state, checking that
// both files exist first (CometBFT's loader exits the process otherwise).
func loadPrivValidator(cfg *cmtcfg.Config) (*privval.FilePV, error) {
	for _, f := range []string{cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile()} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("start node: %w (run 'splitup chain init' first)", err)
		}
	}
	return privval.LoadFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile()), nil
}

// RPC returns the node's RPC URL (http://host:port).
func (n *Node) RPC() string { return "http://" + n.cfg.RPCListen }

// App returns the node's ABCI application.
func (n *Node) App() *App { return n.app }

// Stop stops the node and waits until it has shut down.
func (n *Node) Stop() error {
	err := n.cmt.Stop()
	n.cmt.Wait()
	if err != nil && !errors.Is(err, service.ErrAlreadyStopped) {
		return fmt.Errorf("stop node: %w", err)
	}
	return nil
}
