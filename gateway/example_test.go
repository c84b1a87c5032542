package gateway_test

import (
	"context"
	"log"
	"net"
	"os"
	"os/signal"
	"time"

	"github.com/splitup/splitup/gateway"
)

// Example wires a gateway: one model served by some Engine and Tokenizer,
// answering on a local port until interrupted.
func Example() {
	var (
		engine gateway.Engine    // e.g. an in-process or distributed engine
		tok    gateway.Tokenizer // e.g. models/tokenizer's *Tokenizer
	)
	if engine == nil || tok == nil {
		return // nothing to serve in this example
	}
	svc, err := gateway.NewService(gateway.Config{
		Models: []gateway.Model{{ID: "stories260K", Engine: engine, Tokenizer: tok, BOS: 1, EOS: 2, ContextLength: 512}},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv, err := gateway.NewServer(svc, gateway.ServerConfig{RequestTimeout: 2 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := srv.Serve(ctx, ln); err != nil {
		log.Fatal(err)
	}
}
