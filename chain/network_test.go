package chain_test

import (
	"os"
	"strings"
	"testing"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/contract"
)

// TestInitNetworkChecksFirst: a bad node configuration or bad params are
// refused before anything is written, so a corrected rerun in the same
// directory works.
func TestInitNetworkChecksFirst(t *testing.T) {
	dir := t.TempDir()
	bad := chain.DefaultNodeConfig()
	bad.TimeoutCommitMillis = -1
	badParams := contract.DefaultParams()
	badParams.ChallengeNanos = -1
	for _, o := range []chain.NetworkOptions{
		{Dir: dir, Validators: 1, ChainID: "c", Node: bad},
		{Dir: dir, Validators: 1, ChainID: "c", Node: chain.DefaultNodeConfig(), Params: &badParams},
	} {
		if _, err := chain.InitNetwork(o); err == nil {
			t.Fatalf("InitNetwork accepted %+v", o)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a refused InitNetwork wrote %d entries into %s", len(entries), dir)
		}
	}
	if _, err := chain.InitNetwork(chain.NetworkOptions{Dir: dir, Validators: 1, ChainID: "c", Node: chain.DefaultNodeConfig()}); err != nil {
		t.Fatalf("the corrected rerun: %v", err)
	}
	if _, err := chain.InitNetwork(chain.NetworkOptions{Dir: dir, Validators: 1, ChainID: "c", Node: chain.DefaultNodeConfig()}); err == nil || !strings.Contains(err.Error(), "already holds a network") {
		t.Errorf("a second init: %v", err)
	}
}
