#!/usr/bin/env bash
# Runs all tests: vet (also for arm64), every package under the race
# detector, then each fuzz target for a bounded number of executions
# (FUZZTIME, default 3000x; a duration such as 30s also works; FUZZTIME=0
# skips fuzzing). A count, not a duration, because a duration can expire
# while a cold fuzz cache is still being built and then fails the run.
set -euo pipefail
cd "$(dirname "$0")"
go vet ./...
GOARCH=arm64 go vet ./... # the portable fallbacks of the amd64 assembly still build
go test -race -timeout 25m ./...
fuzztime=${FUZZTIME:-3000x}
[ "$fuzztime" = 0 ] && exit 0
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  dir=$(dirname "$f")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
    echo "fuzz $dir $target ($fuzztime)"
    out=$(go test "$dir" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" 2>&1) || { echo "$out"; exit 1; }
  done
done
