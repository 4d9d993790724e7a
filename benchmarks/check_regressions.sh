#!/usr/bin/env bash
# Regression gate: time BASE and HEAD with `asv continuous` on the gate subset and fail on a slowdown.
#
#   benchmarks/check_regressions.sh [BASE [HEAD]]
#
# BASE defaults to the merge base of HEAD with main; on main itself (merge base == HEAD) to the latest
# tag before HEAD, else HEAD's parent. Both commits are built by asv in its virtualenv environment
# (asv.conf.json; a wheel per commit is cached under .asv/env, so a second run against the same base
# only builds HEAD). The two commits' benchmark processes run in interleaved rounds, so both see the
# same machine state; a benchmark fails the gate when HEAD is slower than BASE by more than FACTOR
# *and* asv's statistics call the difference significant.
#
# Settings (environment): CYPOOL_GATE_FACTOR (default 1.25), CYPOOL_GATE_ROUNDS (default 4),
# CYPOOL_GATE_BENCH (regex, default '^benchmark_gate\.'). The defaults were chosen from repeated runs
# on a shared 2-core machine; see the README's "Performance tracking".
#
# Exit status: 0 no regression; asv's non-zero status on a regression or on a failed build or
# benchmark (asv's exit code is passed on, never filtered through a pipe); 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/.."

factor=${CYPOOL_GATE_FACTOR:-1.25}
rounds=${CYPOOL_GATE_ROUNDS:-4}
bench=${CYPOOL_GATE_BENCH:-'^benchmark_gate\.'}

if ! python -m asv --version >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    python -m pip install --quiet "asv>=0.6" virtualenv
  else
    echo "check_regressions: asv is not installed; run: pip install '.[bench]'" >&2
    exit 2
  fi
fi

head=$(git rev-parse --verify "${2:-HEAD}^{commit}")
if [ -n "${1:-}" ]; then
  base=$(git rev-parse --verify "$1^{commit}")
else
  base=""
  if git rev-parse --quiet --verify "main^{commit}" >/dev/null; then
    merge_base=$(git merge-base main "$head" || true)
    if [ -n "$merge_base" ] && [ "$merge_base" != "$head" ]; then
      base=$merge_base
    fi
  fi
  if [ -z "$base" ]; then
    tag=$(git describe --tags --abbrev=0 "$head^" 2>/dev/null || true)
    if [ -n "$tag" ]; then
      base=$(git rev-parse --verify "$tag^{commit}")
    fi
  fi
  if [ -z "$base" ]; then
    if ! base=$(git rev-parse --quiet --verify "$head^^{commit}"); then
      echo "check_regressions: HEAD has no parent, tag or merge base to compare with; nothing to gate"
      exit 0
    fi
  fi
fi

echo "check_regressions: base $(git log -1 --format='%h %s' "$base")"
echo "check_regressions: head $(git log -1 --format='%h %s' "$head")"
echo "check_regressions: factor $factor, $rounds interleaved rounds, benchmarks matching '$bench'"

python -m asv machine --yes >/dev/null

# -a rounds: each commit's benchmarks run in $rounds separate processes, alternating with the other
# commit's; asv pools the samples of all rounds before comparing.
if python -m asv continuous --factor "$factor" --bench "$bench" --interleave-rounds \
    --attribute rounds="$rounds" --show-stderr "$base" "$head"; then
  echo "check_regressions: no regression beyond a factor of $factor"
  exit 0
else
  status=$?
  echo "check_regressions: FAILED (asv exit status $status): a benchmark regressed by more than" \
       "a factor of $factor, or a build or benchmark failed; see the table above" >&2
  exit "$status"
fi
