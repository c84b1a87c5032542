package chain

import cmtnode "github.com/cometbft/cometbft/node"

// Comet exposes the CometBFT node to tests and benchmarks.
func (n *Node) Comet() *cmtnode.Node { return n.cmt }
