package deploy_test

import (
	"context"
	"fmt"
	"log"

	"github.com/splitup/splitup/chain"
	"github.com/splitup/splitup/deploy"
	"github.com/splitup/splitup/models"
	"github.com/splitup/splitup/p2p"
	"github.com/splitup/splitup/partition"
)

// Example deploys a model: plan it for 300 KiB tasks, publish the shards
// into a blob store, serve them, and register the model on a local chain.
func Example() {
	ctx := context.Background()
	m, err := models.Load("stories260K.bin")
	if err != nil {
		log.Fatal(err)
	}
	d, err := deploy.Prepare(m, 300<<10, partition.CostModel{Chunk: 16, Context: 64})
	if err != nil {
		log.Fatal(err)
	}
	store, err := p2p.OpenBlobStore("blobs")
	if err != nil {
		log.Fatal(err)
	}
	if err := deploy.Publish(store, d); err != nil {
		log.Fatal(err)
	}
	key, err := chain.ReadKeyFile("deployer.key")
	if err != nil {
		log.Fatal(err)
	}
	host, err := p2p.New(ctx, p2p.Config{Key: key})
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close()
	host.ServeBlobs(store)
	c, err := chain.Dial("http://127.0.0.1:26657")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	id, err := deploy.Register(ctx, c, key, "", d)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("model", id, "with", len(d.Tasks), "tasks; shards served on", host.Addrs())
}
