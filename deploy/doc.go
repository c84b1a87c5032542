// Package deploy turns a loaded model into what the network runs: a
// partition plan, one content-addressed shard per task, a model card, and the
// RegisterModel transaction that records them on chain (DESIGN.md, "The walk
// of one request", step 1).
//
// Deploying a model:
//
//  1. Load the model (models.Load) and, if the file has none, attach its
//     tokenizer (Model.Tokenizer) so that the model card carries it.
//  2. Prepare(model, budget, cost), or PrepareConfig for every partition
//     setting, plans the graph with partition.Partition, builds each task's
//     shard (its subgraph and exactly the weights it declares; weights of
//     split MatMuls are row slices of the original), hashes every shard
//     with SHA-256 and builds the RegisterModel message and the model card.
//     It does no I/O; the Deployment holds only hashes, and Shard(i)
//     rebuilds a shard's bytes on demand.
//  3. Publish(store, deployment) writes the shards and the card into a
//     p2p.BlobStore and pins them. It is idempotent.
//  4. Serve the store (p2p.Host.ServeBlobs) so that nodes can fetch the
//     shards by hash, preferably before registering.
//  5. Register(ctx, chain, key, chainID, deployment) signs RegisterModel with
//     the account's next nonce, broadcasts it and waits for its block. A model
//     that is already registered counts as success. It returns the model id.
//
// The model id (RegisterModel.ModelID) is what users request executions of.
// It does not name the tokenizer: the model card (Card) does, and it names
// the model id, so a gateway that fetches a card by its hash can check that
// it belongs to the model it serves.
package deploy
