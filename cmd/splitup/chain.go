package main

import (
	"context"
	"errors"
	"io"
)

func runChainInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}

func runChainStart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}
