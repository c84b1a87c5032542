#!/usr/bin/env bash
# Tokens/s through a real devnet (a chain, N splitup-node processes, the
# gateway) against one `splitup generate` process on the same model, both
# greedy, 1 compute thread, alternating in one run (local, pipeline, local,
# pipeline, ..., local); prints ratios.
#
# usage: bench/pipeline.sh [WORK_DIR]   (default ../pipeline-bench beside the checkout)
#   NODES (8: every task of the 4 gets its own pair of processes) VRAM (45MiB: 4 tasks)
#   TOKENS (200) ROUNDS (3) SHAPE (512 or 110m)
# The model is synthetic (seeded random weights), written into WORK_DIR:
# SHAPE=512 is 8 layers of dim 512 (the shape of BenchmarkPipelineVsLocal in
# ./node, 45 MB), SHAPE=110m the 110M shape of bench/compare.sh (dim 768, 12
# layers, vocab 32000, 439 MB; 4 tasks need VRAM=180MiB). The
# pipeline rate counts the streamed tokens after the tenth, by their arrival
# times at the client, so the chain's request and assignment blocks (time to
# first token) stay out of it; time to first token is printed apart, and so
# is the nodes' own compute time per token (from their "session done" log
# lines), which splits the gap into arithmetic and messaging (msg_ms/token:
# the devnet's time per token minus that compute).
# PREBUILT=1 builds nothing: WORK_DIR/bin already holds splitup, splitup-node
# and ssetime (a machine without Go).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/../pipeline-bench}
SHAPE=${SHAPE:-512}
case $SHAPE in
  512) shape=(--dim 512 --hidden 1376 --layers 8 --heads 8 --vocab 4096) vram=45MiB ;;
  110m) shape=(--dim 768 --hidden 2048 --layers 12 --heads 12 --vocab 32000) vram=180MiB ;;
  *) echo "SHAPE must be 512 or 110m, not $SHAPE" >&2; exit 2 ;;
esac
NODES=${NODES:-8} VRAM=${VRAM:-$vram} TOKENS=${TOKENS:-200} ROUNDS=${ROUNDS:-3}
mkdir -p "$work/bin"
if [ -n "${PREBUILT:-}" ]; then
  for b in splitup splitup-node ssetime; do
    [ -x "$work/bin/$b" ] || { echo "PREBUILT: $work/bin/$b is missing" >&2; exit 2; }
  done
else
  (cd "$root" && go build -o "$work/bin/" ./cmd/splitup ./cmd/splitup-node ./bench/ssetime)
fi
model=$work/m$SHAPE.gguf
[ -f "$model" ] || "$work/bin/splitup" synth --out "$model" "${shape[@]}" --context 512 --seed 1 >/dev/null

state=$work/state
rm -rf "$state"
port=${PORT:-18090}
"$work/bin/splitup" devnet --state-dir "$state" --port "$port" --nodes "$NODES" --model "$model" \
  --target-vram "$VRAM" >"$work/devnet.log" 2>&1 &
devnet=$!
trap 'kill -INT $devnet 2>/dev/null; wait $devnet 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  grep -q '"gateway"' "$state/devnet.json" 2>/dev/null && break
  kill -0 $devnet 2>/dev/null || { echo "devnet exited; see $work/devnet.log" >&2; exit 1; }
  sleep 1
done
grep -q '"gateway"' "$state/devnet.json" || { echo "devnet did not come up; see $work/devnet.log" >&2; exit 1; }
id=$(sed -n 's/.*"model": *"\([^"]*\)".*/\1/p' "$state/devnet.json" | head -1)
echo "devnet: $NODES node processes, model $id, target VRAM $VRAM"

# local prints "generated N tokens in Xs (R tok/s)" on stderr.
local_rate() {
  "$work/bin/splitup" generate --model "$model" --prompt Once --max-tokens "$TOKENS" --temperature 0 \
    --threads 1 2>&1 >/dev/null | sed -n 's/.*generated [0-9]* tokens in [0-9.]*s (\([0-9.]*\) tok\/s).*/\1/p'
}

# pipeline streams a completion and times the SSE events (bench/ssetime:
# a Go client reading in blocks; a shell loop reads a pipe byte by byte and
# would take CPU from the nodes while they compute).
pipeline_rate() {
  local body
  body="{\"model\":\"$id\",\"prompt\":\"Once\",\"max_tokens\":$TOKENS,\"temperature\":0,\"stream\":true}"
  "$work/bin/ssetime" "http://127.0.0.1:$port/v1/completions" "$body" 10 ||
    { echo "the streamed completion failed; see $work/devnet.log" >&2; exit 1; }
}

# node_ms sums the compute time the nodes logged for the newest execution
# ("session done" lines, one per task) per step: the pipeline's arithmetic
# alone, without messages, for comparison with the local time per token.
node_ms() {
  local tasks=${1:-0} out=""
  for _ in $(seq 50); do # nodes log once the stream closes
    out=$(grep 'msg="session done"' "$work/devnet.log" | sed -n 's/.* exec=\([0-9]*\) task=[0-9]* steps=\([0-9]*\) compute_us=\([0-9]*\).*/\1 \2 \3/p' |
      awk -v want="$tasks" '{ c[$1] += $3; s[$1] = $2; k[$1]++; if ($1 > m) m = $1 }
        END { if (k[m] >= want && s[m] > 0) printf "%.2f", c[m] / s[m] / 1000 }')
    [ -n "$out" ] && break
    sleep 0.2
  done
  echo "${out:--}"
}

pipeline_rate >/dev/null # warm up: first session on every node
tasks=$(tr -d ' \n' <"$state/devnet.json" | grep -o '"tasks":\[[0-9,]*' | grep -o '[0-9][0-9]*' | sort -u | wc -l)
printf '%5s %10s %13s %6s %8s %7s %14s %13s %12s %13s\n' round local_tok/s pipeline_tok/s ratio ttft_ms events local_ms/token node_ms/token msg_ms/token local_around
ratios=()
lprev=$(local_rate)
[ -n "$lprev" ] || { echo "splitup generate printed no rate; run it by hand on $model" >&2; exit 1; }
for r in $(seq "$ROUNDS"); do
  read -r p ttft n < <(pipeline_rate)
  [ -n "$p" ] || exit 1
  lnext=$(local_rate)
  # The local rate of a round is that of the runs right before and right
  # after its pipeline run (their mean time per token), so a drift of the
  # machine's memory bandwidth during the round weighs on both sides alike.
  l=$(awk -v a="$lprev" -v b="$lnext" 'BEGIN { printf "%.1f", 2 / (1 / a + 1 / b) }')
  ratio=$(awk -v p="$p" -v l="$l" 'BEGIN { printf "%.3f", p / l }')
  ratios+=("$ratio")
  nm=$(node_ms "$tasks")
  # msg_ms/token: the devnet's time per token minus the nodes' compute.
  printf '%5d %10s %13s %6s %8s %7s %14s %13s %12s %13s\n' "$r" "$l" "$p" "$ratio" "$ttft" "$n" \
    "$(awk -v l="$l" 'BEGIN { printf "%.2f", 1000 / l }')" "$nm" \
    "$(awk -v p="$p" -v m="$nm" 'BEGIN { if (m == "-") print "-"; else printf "%.2f", 1000 / p - m }')" "$lprev/$lnext"
  lprev=$lnext
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf "median ratio %.3f over %d rounds\n", m, NR
}'
