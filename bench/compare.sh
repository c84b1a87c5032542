#!/usr/bin/env bash
# Compares SplitUp's CPU engine with llama.cpp (C API, prebuilt from npm) on
# the same GGUF files, interleaved in one run, and prints ratios.
#
# usage: bench/compare.sh [WORK_DIR]   (default ../lcpp-bench beside the checkout)
#   THREADS (2) N_PROMPT (128) N_GEN (128) REPS (3) ROUNDS (2) MODELS ("260k 110m tinyllama-q8")
# It ends with the medians over the rounds of each model's decode ratio and
# fractions of the bound (ROUNDS > 1).
# ours_bw% and lcpp_bw%: decode tok/s × weight bytes ÷ the stream "read"
# bandwidth (best of 4 passes), the mean of the readings taken right before
# and right after that engine's run (bw_GBs shows the range of the round's
# three readings). ours_med% and lcpp_med%: the same against the median of
# 15 read passes (bench/readbw.c, read right after each stream reading),
# the same statistic as the engines' own medians. ours_pair%: a further run
# of ours with ENGINE_READPAIR=1, which follows every decoded token with a
# read pass over as many bytes as the weights (huge pages, same threads, same
# process) and takes the median over the tokens of the pass's time over the
# token's: the bound with the bandwidth measured milliseconds from each token
# rather than seconds from the run, so the machine's drift cancels out.
# lcpp_pair%: the same for llama.cpp (bench/lcpp_pair.c, its threadpool
# paused during each read pass).
# Needs ../shared/bench (the llama.cpp harness and stream.c) and, for the
# first run, the npm registry. Models are written into WORK_DIR, never the repo.
# PREBUILT=1 builds nothing: WORK_DIR already holds splitup, engine, stream,
# readbw, llamacpp_tp_bench, lcpp_pair and llama.cpp's libraries (a machine
# without Go or npm).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
work=${1:-$root/../lcpp-bench}
THREADS=${THREADS:-2} N_PROMPT=${N_PROMPT:-128} N_GEN=${N_GEN:-128} REPS=${REPS:-3} ROUNDS=${ROUNDS:-2}
MODELS=${MODELS:-"260k 110m tinyllama-q8"}
mkdir -p "$work"
bins=$work/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64

setup_llamacpp() {
  if [ -x "$work/llamacpp_tp_bench" ]; then
    [ -n "${PREBUILT:-}" ] && { [ -x "$work/lcpp_pair" ] || { echo "PREBUILT: $work/lcpp_pair is missing" >&2; exit 2; }; return; }
    build_lcpp_pair
    return
  fi
  [ -n "${PREBUILT:-}" ] && { echo "PREBUILT: $work/llamacpp_tp_bench is missing" >&2; exit 2; }
  (cd "$work" && [ -f package.json ] || npm init -y >/dev/null
   NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --omit=optional --no-audit --no-fund \
     node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1 >/dev/null)
  mkdir -p "$work/inc" "$work/lcpp"
  git -C "$work/lcpp" init -q
  git -C "$work/lcpp" fetch -q "$work/node_modules/node-llama-cpp/llama/gitRelease.bundle" HEAD
  for f in include/llama.h ggml/include/ggml.h ggml/include/ggml-backend.h ggml/include/ggml-cpu.h \
           ggml/include/ggml-alloc.h ggml/include/ggml-opt.h ggml/include/gguf.h; do
    git -C "$work/lcpp" show "FETCH_HEAD:$f" > "$work/inc/$(basename "$f")"
  done
  gcc -O2 -o "$work/llamacpp_tp_bench" "$shared/bench/llamacpp_tp_bench.c" -I"$work/inc" -L"$bins" \
      -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so -Wl,-rpath,"$bins"
  build_lcpp_pair
}

build_lcpp_pair() {
  gcc -O3 -march=native -o "$work/lcpp_pair" "$root/bench/lcpp_pair.c" -I"$work/inc" -L"$bins" \
      -l:libllama.v0.5.0.so -l:libggml.v0.5.0.so -l:libggml-base.so -lpthread -ldl -Wl,-rpath,"$bins"
}

setup_models() {
  if [ -n "${PREBUILT:-}" ]; then
    for b in splitup engine stream readbw; do
      [ -x "$work/$b" ] || { echo "PREBUILT: $work/$b is missing" >&2; exit 2; }
    done
  else
    (cd "$root" && go build -o "$work/splitup" ./cmd/splitup && go build -o "$work/engine" ./bench/engine)
  fi
  [ -x "$work/stream" ] || gcc -O3 -march=native -fopenmp -o "$work/stream" "$shared/bench/stream.c"
  [ -n "${PREBUILT:-}" ] || gcc -O3 -march=native -fopenmp -o "$work/readbw" "$root/bench/readbw.c"
  for m in $MODELS; do
    f=$work/$m.gguf
    [ -f "$f" ] && continue
    case $m in
      260k) "$work/splitup" convert --in "$shared/models/stories260K.bin" --tokenizer "$shared/models/tok512.bin" --out "$f" ;;
      110m) "$work/splitup" synth --out "$f" --dim 768 --hidden 2048 --layers 12 --heads 12 --vocab 32000 --context 1024 --dtype f32 --seed 1 ;;
      tinyllama-q8) "$work/splitup" synth --out "$f" --dim 2048 --hidden 5632 --layers 22 --heads 32 --kv-heads 4 --vocab 32000 --context 1024 --dtype q8_0 --seed 1 ;;
      *) echo "unknown model $m" >&2; exit 2 ;;
    esac
  done
}

field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
# bandwidth prints the stream read rate (best pass) and readbw's median pass.
bandwidth() {
  echo "$(OMP_NUM_THREADS=$THREADS "$work/stream" 1024 5 2>/dev/null | field read_gbs)" \
       "$(OMP_NUM_THREADS=$THREADS "$work/readbw" 1024 16 | field median_gbs)"
}

setup_llamacpp
setup_models
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
printf '%-14s %5s %10s %10s %10s %10s %8s %8s %11s %8s %8s %9s %9s %10s %10s\n' model round ours_dec lcpp_dec ours_pre lcpp_pre dec_ratio pre_ratio bw_GBs ours_bw% lcpp_bw% ours_med% lcpp_med% ours_pair% lcpp_pair%
for round in $(seq "$ROUNDS"); do
  for m in $MODELS; do
    f=$work/$m.gguf
    # Bandwidth before and after each engine's run: it drifts within a run,
    # so each engine's bound uses the mean of the readings around it.
    read -r bw1 md1 <<<"$(bandwidth)"
    ours=$("$work/engine" "$f" "$THREADS" "$N_PROMPT" "$N_GEN" "$REPS")
    read -r bw2 md2 <<<"$(bandwidth)"
    lc=$(GGML_BACKEND_DIR="$bins" LD_LIBRARY_PATH="$bins" "$work/llamacpp_tp_bench" "$f" "$THREADS" "$N_PROMPT" "$N_GEN" "$REPS" 2>/dev/null)
    read -r bw3 md3 <<<"$(bandwidth)"
    pair=$(ENGINE_READPAIR=1 "$work/engine" "$f" "$THREADS" "$N_PROMPT" "$N_GEN" 1 | field paired_bound_median)
    lpair=$(GGML_BACKEND_DIR="$bins" LD_LIBRARY_PATH="$bins" "$work/lcpp_pair" "$f" "$THREADS" "$N_PROMPT" "$N_GEN" 2>/dev/null | field paired_bound_median)
    od=$(echo "$ours" | field decode_tps_median); op=$(echo "$ours" | field prefill_tps_median)
    ld=$(echo "$lc" | field decode_tps_median); lp=$(echo "$lc" | field prefill_tps_median)
    bytes=$(echo "$ours" | field model_bytes)
    awk -v m="$m" -v r="$round" -v od="$od" -v ld="$ld" -v op="$op" -v lp="$lp" -v b1="$bw1" -v b2="$bw2" -v b3="$bw3" -v m1="$md1" -v m2="$md2" -v m3="$md3" -v by="$bytes" -v pr="$pair" -v lpr="$lpair" 'BEGIN {
      lo = b1; hi = b1
      if (b2 < lo) lo = b2; if (b3 < lo) lo = b3; if (b2 > hi) hi = b2; if (b3 > hi) hi = b3
      ours = 100 * od * by / ((b1 + b2) / 2 * 1e9)
      lcpp = 100 * ld * by / ((b2 + b3) / 2 * 1e9)
      oursm = 100 * od * by / ((m1 + m2) / 2 * 1e9)
      lcppm = 100 * ld * by / ((m2 + m3) / 2 * 1e9)
      printf "%-14s %5d %10.1f %10.1f %10.1f %10.1f %8.2f %8.2f %5.1f-%-5.1f %7.0f%% %7.0f%% %8.0f%% %8.0f%% %9.1f%% %9.1f%%\n", m, r, od, ld, op, lp, od/ld, op/lp, lo, hi, ours, lcpp, oursm, lcppm, 100 * pr, 100 * lpr }' |
      tee -a "$rows"
  done
done
# The bandwidth bound moves by a third within minutes here: the medians
# over the rounds are the figures to quote.
if [ "$ROUNDS" -gt 1 ]; then awk '
  function med(s,   v, n, i, j, t) {
    n = split(substr(s, 2), v, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
    return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  { d[$1] = d[$1] " " $7; o[$1] = o[$1] " " $10; l[$1] = l[$1] " " $11; om[$1] = om[$1] " " $12; lm[$1] = lm[$1] " " $13; pr[$1] = pr[$1] " " $14; lpr[$1] = lpr[$1] " " $15; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
  END { for (i = 1; i <= k; i++) { m = order[i]
    printf "median of %d rounds: %-14s decode ratio %.2f, ours %.0f%% and llama.cpp %.0f%% of the bound (median pass: %.0f%% and %.0f%%; paired: %.1f%% and %.1f%%)\n", split(substr(d[m], 2), x, " "), m, med(d[m]), med(o[m]), med(l[m]), med(om[m]), med(lm[m]), med(pr[m]), med(lpr[m]) } }' "$rows"
fi
