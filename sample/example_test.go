package sample_test

import (
	"fmt"

	"github.com/splitup/splitup/sample"
)

func ExampleSampler_Next() {
	greedy := sample.New(sample.Config{})
	fmt.Println(greedy.Next([]float32{0.1, 2.5, -1, 2.5}))

	nucleus := sample.New(sample.Config{Temperature: 0.8, TopP: 0.9, Seed: 42})
	logits := []float32{5, 0, 0, 0}
	fmt.Println(nucleus.Next(logits))
	// Output:
	// 1
	// 0
}
