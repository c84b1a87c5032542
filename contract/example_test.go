package contract_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/splitup/splitup/contract"
)

// Example follows the calling protocol of doc.go: genesis, a block with
// one signed transfer, the app hash, and a query.
func Example() {
	seed := sha256.Sum256([]byte("alice"))
	alice := ed25519.NewKeyFromSeed(seed[:])
	var aliceAddr, bob contract.Address
	copy(aliceAddr[:], alice.Public().(ed25519.PublicKey))
	bob[0] = 0xb0

	s, err := contract.NewState(contract.Genesis{
		ChainID:  "example",
		Params:   contract.DefaultParams(),
		Accounts: []contract.Account{{Address: aliceAddr, Balance: 5 * contract.Token}},
	})
	if err != nil {
		panic(err)
	}

	tx := contract.NewTx("example", 0, 10, &contract.Transfer{To: bob, Amount: 2 * contract.Token})
	tx.Sign(alice)
	raw := contract.EncodeTx(tx)

	fmt.Println("check:", s.CheckTx(raw).Code)
	s.BeginBlock(contract.Header{ChainID: "example", Height: 1, TimeUnixNano: 1e9})
	res := s.DeliverTx(raw)
	s.EndBlock()
	fmt.Println("deliver:", res.Code, res.Events[0].Type)
	fmt.Println("replay:", s.DeliverTx(raw).Code == contract.CodeReplayedNonce)
	fmt.Println("supply:", s.Supply())

	answer, _ := s.Query("account/"+bob.String(), nil)
	var info contract.AccountInfo
	if err := json.Unmarshal(answer, &info); err != nil {
		panic(err)
	}
	fmt.Println("bob:", info.Balance)
	// Output:
	// check: 0
	// deliver: 0 Transfer
	// replay: true
	// supply: 5000000
	// bob: 2000000
}
