#!/usr/bin/env bash
# Runs the kernel benchmarks against this machine's memory bandwidth.
#
#   kernels/bench.sh [benchmark regexp] [count]
#
# It builds ../shared/bench/stream.c, measures the 2-thread read bandwidth,
# then runs `go test -bench` at 2 threads with -bw set, so every MatMul line
# reports GB/s, %bw (weight bytes per second over the stream read rate) and
# x_ref (speed-up over the reference kernels, timed in the same process).
# It ends with the median of every metric over the count runs. Wait for
# idle CPUs first: a concurrent build collapses 2-thread numbers.
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
go test -run '^$' -bench "$pattern" -count "$count" . -args -bw "$bw" -threads 2 | tee "$tmp/out.txt"
echo
echo "medians over $count runs (bandwidth bound: stream read $bw GB/s):"
awk '/^Benchmark/ {
	for (i = 3; i < NF; i += 2) { key = $1 " " $(i+1); vals[key] = vals[key] " " $i; names[$1] = 1; units[$(i+1)] = 1 }
}
END {
	for (k in vals) {
		n = split(substr(vals[k], 2), v, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
		med[k] = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	for (b in names) {
		line = b
		for (u in units) if ((b " " u) in med) line = line "  " med[b " " u] " " u
		print line
	}
}' "$tmp/out.txt" | sort
