#!/usr/bin/env bash
# Runs the kernel benchmarks against this machine's memory bandwidth.
#
#   kernels/bench.sh [benchmark regexp] [count]
#
# It builds ../shared/bench/stream.c, measures the 2-thread read bandwidth,
# then runs `go test -bench` at 2 threads with -bw set, so every MatMul line
# reports GB/s, %bw (weight bytes per second over the stream read rate) and
# x_ref (speed-up over the reference kernels, timed in the same process).
# Use `benchstat` on the output for medians over the runs.
set -euo pipefail
cd "$(dirname "$0")"
pattern=${1:-MatMul}
count=${2:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O3 -march=native -fopenmp -o "$tmp/stream" ../../shared/bench/stream.c
json=$(OMP_NUM_THREADS=2 "$tmp/stream" 1024 5 2>/dev/null)
bw=$(printf '%s\n' "$json" | sed -n 's/.*"read_gbs":\([0-9.]*\).*/\1/p')
echo "stream: $json"
go test -run '^$' -bench "$pattern" -count "$count" . -args -bw "$bw" -threads 2
