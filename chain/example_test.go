package chain_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// Example runs a one-validator chain in process, sends a transfer from the
// faucet and watches for transfer events.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	nc := chain.DefaultNodeConfig()
	nc.LogLevel = "*:error"
	nw, err := chain.InitNetwork(chain.NetworkOptions{
		Dir: dir, Validators: 1, ChainID: "example", FaucetBalance: 1000 * contract.Token,
		Node: nc, // BasePort 0: free loopback ports
	})
	if err != nil {
		log.Fatal(err)
	}
	node, err := chain.StartNode(filepath.Join(dir, nw.Validators[0].Home), os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	defer node.Stop()

	ctx := context.Background()
	c, _ := chain.Dial(node.RPC())
	defer c.Close()
	events, _ := c.Subscribe(ctx, contract.EventTransfer)

	faucet, _ := chain.ReadKeyFile(filepath.Join(dir, nw.Faucet))
	s, err := chain.NewSigner(ctx, c, faucet)
	if err != nil {
		log.Fatal(err)
	}
	res, err := s.Send(ctx, &contract.Transfer{To: contract.Address{1}, Amount: 5})
	if err != nil {
		log.Fatal(err)
	}
	ev := <-events
	fmt.Println(res.Height > 0, ev.Type, ev.Attr("amount"))
	// Output: true Transfer 5
}
