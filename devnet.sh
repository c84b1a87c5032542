#!/usr/bin/env bash
# Builds the three commands into ./bin and starts a local network:
# a 1-validator chain, node processes and an OpenAI-compatible gateway.
# Flags are passed to 'splitup devnet' (try --help). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")"
go build -o bin/ ./cmd/splitup ./cmd/splitup-node ./cmd/splitup-deploy
exec bin/splitup devnet "$@"
