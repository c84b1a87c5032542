package partition_test

import (
	"fmt"

	"github.com/splitup/splitup/ir"
	"github.com/splitup/splitup/partition"
)

func ExamplePartition() {
	// A three-layer MLP of 256x256 f32 weights (256 KiB each).
	b := ir.NewBuilder()
	h := b.Input("x", ir.F32, ir.Shape{256})
	for l := 0; l < 3; l++ {
		w := b.Weight(fmt.Sprintf("w%d", l), ir.F32, ir.Shape{256, 256})
		h = b.Name(b.MatMul(h, w), fmt.Sprintf("h%d", l))
	}
	b.Output("y", h)
	g, err := b.Build()
	if err != nil {
		panic(err)
	}

	// Room for two layers per task, with one row of activations.
	p, err := partition.Partition(g, partition.Config{Budget: 600 << 10, Cost: partition.CostModel{Chunk: 1}})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d tasks (lower bound %d)\n", len(p.Tasks), p.LowerBound)
	for _, t := range p.Tasks {
		fmt.Printf("task %d: %d bytes, in %s, out %s\n", t.ID, t.VRAM, t.Inputs[0].Name, t.Outputs[0].Name)
	}
	for _, e := range p.Edges {
		fmt.Printf("%d -> %d: %v, %d bytes/token\n", e.From, e.To, e.Names, e.BytesPerToken)
	}
	// Output:
	// 2 tasks (lower bound 2)
	// task 0: 264192 bytes, in x, out h0
	// task 1: 527360 bytes, in h0, out y
	// 0 -> 1: [h0], 1024 bytes/token
}

func ExampleAssign() {
	// Four 256x256 f32 layers, one per task.
	b := ir.NewBuilder()
	h := b.Input("x", ir.F32, ir.Shape{256})
	for l := 0; l < 4; l++ {
		h = b.Name(b.MatMul(h, b.Weight(fmt.Sprintf("w%d", l), ir.F32, ir.Shape{256, 256})), fmt.Sprintf("h%d", l))
	}
	b.Output("y", h)
	g, err := b.Build()
	if err != nil {
		panic(err)
	}
	p, err := partition.Partition(g, partition.Config{Budget: 300 << 10, Cost: partition.CostModel{Chunk: 1}})
	if err != nil {
		panic(err)
	}
	// One node holds two tasks; two small nodes hold one each.
	nodes := []partition.Node{{ID: "a", VRAM: 300 << 10}, {ID: "big", VRAM: 600 << 10}, {ID: "b", VRAM: 300 << 10}}
	as, err := partition.Assign(p, nodes, 42)
	if err != nil {
		panic(err)
	}
	for task, n := range as.Node {
		fmt.Printf("task %d on %s\n", task, nodes[n].ID)
	}
	fmt.Printf("%d of %d bytes per token cross between nodes\n", as.CrossBytes, p.CutBytes)
	// Output:
	// task 0 on big
	// task 1 on big
	// task 2 on a
	// task 3 on b
	// 2048 of 3072 bytes per token cross between nodes
}
