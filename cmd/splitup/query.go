package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/splitup/splitup/chain"
)

// chainDefaultRPC is the RPC address used when neither --rpc nor $SPLITUP_RPC is set.
const chainDefaultRPC = "http://127.0.0.1:26657"

func chainRPCDefault() string {
	if v := os.Getenv("SPLITUP_RPC"); v != "" {
		return v
	}
	return chainDefaultRPC
}

// queryPaths maps a query word to its contract path and whether it takes an argument.
var queryPaths = map[string]struct {
	path string
	arg  string
}{
	"nodes":      {"nodes", ""},
	"node":       {"node/", "ADDR"},
	"models":     {"models", ""},
	"model":      {"model/", "ID"},
	"executions": {"executions", ""},
	"execution":  {"execution/", "ID"},
	"account":    {"account/", "ADDR"},
	"params":     {"params", ""},
	"supply":     {"supply", ""},
	"chain":      {"chain/info", ""},
}

const queryUsage = "query <status|chain|nodes|node ADDR|models|model ID|executions|execution ID|account ADDR|params|supply> [--rpc URL]"

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := chainFlagSet("query", queryUsage, stderr)
	rpc := fs.String("rpc", chainRPCDefault(), "validator RPC address (default from $SPLITUP_RPC)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	pos, err := chainParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("what to query? usage: splitup %s", queryUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := chain.Dial(*rpc)
	if err != nil {
		return usagef("%v", err)
	}
	defer c.Close()
	if pos[0] == "status" {
		if len(pos) > 1 {
			return usagef("query status takes no argument")
		}
		st, err := c.Status(ctx)
		if err != nil {
			return fmt.Errorf("%w (is a validator running at %s? start one with 'splitup chain start')", err, *rpc)
		}
		return queryPrintJSON(stdout, st)
	}
	q, ok := queryPaths[pos[0]]
	if !ok {
		return usagef("unknown query %q; usage: splitup %s", pos[0], queryUsage)
	}
	path := q.path
	switch {
	case q.arg != "" && len(pos) != 2:
		return usagef("query %s needs one argument: %s", pos[0], q.arg)
	case q.arg == "" && len(pos) != 1:
		return usagef("query %s takes no argument", pos[0])
	case q.arg != "":
		path += pos[1]
	}
	raw, err := c.Query(ctx, path, nil)
	if err != nil {
		if chain.IsNotFound(err) {
			return fmt.Errorf("%s %s: not found on chain", pos[0], pos[1])
		}
		return fmt.Errorf("%w (is a validator running at %s?)", err, *rpc)
	}
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		_, err = stdout.Write(raw)
		return err
	}
	buf.WriteByte('\n')
	_, err = stdout.Write(buf.Bytes())
	return err
}

// queryPrintJSON writes v as indented JSON.
func queryPrintJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
