package p2p_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/p2p"
)

// A stage serves a pipeline stream; the gateway opens a session, sends a
// batched step of two rows and reads the stage's result.
func ExampleHost_OpenPipeline() {
	ctx := context.Background()
	newHost := func() *p2p.Host {
		_, key, _ := ed25519.GenerateKey(rand.Reader)
		h, err := p2p.New(ctx, p2p.Config{Key: key})
		if err != nil {
			log.Fatal(err)
		}
		return h
	}
	stage, gateway := newHost(), newHost()
	defer stage.Close()
	defer gateway.Close()

	stage.SetPipelineHandler(func(ctx context.Context, s *p2p.Stream) {
		for {
			m, err := s.Recv()
			if err != nil {
				return // io.EOF after the gateway's Close, or a broken stream
			}
			switch m := m.(type) {
			case *p2p.OpenSession:
				// Load the task's weights and allocate the session's KV cache.
			case *p2p.Step:
				x := m.Tensor("x")
				s.Send(&p2p.StepResult{SessionID: m.SessionID, Index: m.Index,
					Tensors: []p2p.NamedTensor{{Name: "y", Frame: *x}}})
			case *p2p.Close:
				return // the stream closes when the handler returns
			}
		}
	})

	peer, err := gateway.Connect(ctx, stage.Addrs()[0])
	if err != nil {
		log.Fatal(err)
	}
	s, err := gateway.OpenPipeline(ctx, peer)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	s.Send(&p2p.OpenSession{SessionID: "exec-1", TaskID: 0})
	x := ir.Frame{DType: ir.F32, Shape: ir.Shape{2, 4}, Data: make([]byte, 2*4*4)}
	s.Send(&p2p.Step{SessionID: "exec-1", Index: 0, Positions: []int32{0, 1},
		Tensors: []p2p.NamedTensor{{Name: "x", Frame: x}}})
	m, err := s.Recv()
	if err != nil {
		log.Fatal(err)
	}
	r := m.(*p2p.StepResult)
	fmt.Println(r.Index, r.Tensor("y").DType, r.Tensor("y").Shape)
	s.Send(&p2p.Close{SessionID: "exec-1"})
	_, err = s.Recv()
	fmt.Println(err == io.EOF)
	// Output:
	// 0 f32 [2 4]
	// true
}

// Fetch copies a weight shard from a peer that serves its store.
func ExampleHost_Fetch() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "blobs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	src, _ := p2p.OpenBlobStore(filepath.Join(dir, "seeder"))
	dst, _ := p2p.OpenBlobStore(filepath.Join(dir, "node"))
	shard, size, _ := src.Put(bytes.NewReader(make([]byte, 1<<20)))

	_, k1, _ := ed25519.GenerateKey(rand.Reader)
	_, k2, _ := ed25519.GenerateKey(rand.Reader)
	seeder, _ := p2p.New(ctx, p2p.Config{Key: k1})
	node, _ := p2p.New(ctx, p2p.Config{Key: k2})
	defer seeder.Close()
	defer node.Close()
	seeder.ServeBlobs(src)

	peer, _ := node.Connect(ctx, seeder.Addrs()[0])
	n, err := node.Fetch(ctx, peer, shard, dst, func(done, total int64) {})
	fmt.Println(n == size, err, dst.Has(shard))
	// Output: true <nil> true
}
